import Posix
import Synchronization

/// Liveness of the worker threads, for the systemd watchdog (README, "Run it as a service").
///
/// Every worker thread (reader, checkpoint, mapper, batcher, senders) registers a `Heartbeat`
/// and beats each time round its loop, also while it waits: every wait is bounded by
/// `beatInterval`, so a thread waiting out a backoff, a `Retry-After`, a hold or a full queue
/// still beats. The supervisor pets the watchdog only while every registered thread is within
/// its deadline; one stuck past it (a request past its time-out, a wedged lock) stops the
/// petting and systemd restarts the daemon. Waiting is not wedged; being stuck is.
///
/// ```
///  worker loop ──beat()──▶ Heartbeat.deadline (atomic: now + allowance)
///  supervisor tick ──check()──▶ HeartbeatVerdict.decide(now, samples) ──▶ WATCHDOG=1, or not
/// ```
///
/// A beat is one atomic store; nothing in a worker's loop takes a lock for it. The registry is
/// process-wide (`shared`) because the watchdog is: there is one per process.
///
/// The registration table sits behind a pthread `ConditionLock`, not `Synchronization.Mutex`:
/// a contended `Mutex` is handed over inside the kernel (PI futex, in the uninstrumented
/// `_lockSlow`), which ThreadSanitizer cannot see, so threads registering at once were
/// reported as a race (`Tests/sanitize.sh`).
public final class Heartbeats: @unchecked Sendable {
    /// The registry the daemon's threads use.
    public static let shared = Heartbeats()

    /// The longest a waiting worker sleeps between two beats.
    public static let beatInterval: Int64 = 1_000_000_000
    /// How long a thread may go without a beat by default: many beat intervals, so a slow
    /// `fsync` or a scheduler hiccup on a loaded host is not taken for a wedge.
    public static let defaultMaxSilence: Int64 = 15_000_000_000

    private let clock: @Sendable () -> Int64
    private let lock = ConditionLock()
    /// Guarded by `lock`.
    private var registered: [ObjectIdentifier: Heartbeat] = [:]
    /// Test hook (`TRACKTAIL_TEST_MAX_SILENCE_MS`): caps every allowance, so a test can show a
    /// thread stuck in a long request stopping the petting without waiting for its time-out.
    private let silenceCap = Atomic<Int64>(.max)

    public init(clock: @escaping @Sendable () -> Int64 = { SystemClock.monotonicNanoseconds() }) {
        self.clock = clock
    }

    /// Registers the calling worker. `maxSilence` is how long it may go between beats.
    public func register(_ name: String, maxSilence: Int64 = Heartbeats.defaultMaxSilence) -> Heartbeat {
        let h = Heartbeat(name: name, maxSilence: maxSilence, registry: self)
        h.beat()
        lock.withLock { registered[ObjectIdentifier(h)] = h }
        return h
    }

    /// Runs `body` with a registered heartbeat, retired when it returns (the thread's whole life).
    public func run<T>(_ name: String, maxSilence: Int64 = Heartbeats.defaultMaxSilence, _ body: (Heartbeat) -> T) -> T {
        let h = register(name, maxSilence: maxSilence)
        defer { h.retire() }
        return body(h)
    }

    /// Caps every allowance from now on (nil: no cap).
    public func limitSilence(to nanoseconds: Int64?) {
        silenceCap.store(nanoseconds ?? .max, ordering: .relaxed)
    }

    /// Whether to pet the watchdog now, and who is late.
    public func check() -> HeartbeatVerdict {
        let samples = lock.withLock { registered.values.map { HeartbeatVerdict.Sample(name: $0.name, deadline: $0.deadline) } }
        return HeartbeatVerdict.decide(now: clock(), samples)
    }

    /// Names of the threads registered now (for diagnostics and tests).
    public var names: [String] { lock.withLock { registered.values.map(\.name).sorted() } }

    fileprivate func now() -> Int64 { clock() }
    fileprivate var cap: Int64 { silenceCap.load(ordering: .relaxed) }
    fileprivate func remove(_ h: Heartbeat) { _ = lock.withLock { registered.removeValue(forKey: ObjectIdentifier(h)) } }
}

/// One worker's liveness: the time by which it promised to beat again.
public final class Heartbeat: Sendable {
    public let name: String
    public let maxSilence: Int64
    fileprivate let due = Atomic<Int64>(0)
    private let registry: Heartbeats

    fileprivate init(name: String, maxSilence: Int64, registry: Heartbeats) {
        self.name = name
        self.maxSilence = maxSilence
        self.registry = registry
    }

    /// When the next beat is due (monotonic ns of the registry's clock).
    public var deadline: Int64 { due.load(ordering: .relaxed) }

    /// "Still here": the next beat is due within `maxSilence`.
    @inline(__always)
    public func beat() { beat(allowing: maxSilence) }

    /// Before something that may rightly take longer than `maxSilence` without a beat (a
    /// request bounded by its own time-out): the next beat is due within `nanoseconds`.
    public func beat(allowing nanoseconds: Int64) {
        let allowance = min(nanoseconds, registry.cap)
        let now = registry.now()
        due.store(allowance > .max - now ? .max : now + allowance, ordering: .relaxed)
    }

    /// A bounded condition wait for a worker: waits on `lock` (held by the caller) for a signal,
    /// at most `atMost` and never longer than `Heartbeats.beatInterval`, then beats. Callers
    /// loop on their predicate as with any condition wait.
    public func waitBeating(_ lock: ConditionLock, atMost: Int64 = .max) {
        lock.wait(until: SystemClock.monotonicNanoseconds() + min(max(0, atMost), Heartbeats.beatInterval))
        beat()
    }

    /// The thread ends: it no longer counts.
    public func retire() { registry.remove(self) }
}

/// The watchdog decision, a pure function of the time and each thread's deadline.
public enum HeartbeatVerdict: Equatable, Sendable {
    /// Every thread is within its deadline (or none is registered): pet.
    case pet
    /// These threads are past their deadline, by that many nanoseconds (most overdue first):
    /// do not pet.
    case stale([Late])

    public struct Sample: Equatable, Sendable {
        public var name: String
        public var deadline: Int64
        public init(name: String, deadline: Int64) {
            self.name = name
            self.deadline = deadline
        }
    }

    public struct Late: Equatable, Sendable, CustomStringConvertible {
        public var name: String
        public var overdue: Int64
        public init(name: String, overdue: Int64) {
            self.name = name
            self.overdue = overdue
        }
        public var description: String { "\(name) (\(overdue / 1_000_000) ms overdue)" }
    }

    public static func decide(now: Int64, _ samples: [Sample]) -> HeartbeatVerdict {
        var late: [Late] = []
        for s in samples where now > s.deadline { late.append(Late(name: s.name, overdue: now - s.deadline)) }
        if late.isEmpty { return .pet }
        late.sort { ($0.overdue, $1.name) > ($1.overdue, $0.name) }
        return .stale(late)
    }

    public var shouldPet: Bool { self == .pet }
}
