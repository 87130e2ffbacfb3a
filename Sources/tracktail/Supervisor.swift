import Posix
import Runtime
import Ship

/// Events for the main thread: posted by the signal thread, taken with a deadline.
final class Supervisor: @unchecked Sendable {
    enum Event: Sendable {
        case stop(String)
        case reload
    }

    private let lock = ConditionLock()
    /// Guarded by `lock`.
    private var events: [Event] = []

    func post(_ e: Event) {
        lock.withLock {
            events.append(e)
            lock.broadcast()
        }
    }

    func next(until deadline: Int64) -> Event? {
        lock.withLock {
            while events.isEmpty {
                if !lock.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { break }
            }
            return events.isEmpty ? nil : events.removeFirst()
        }
    }
}

/// What the main thread tells systemd each tick: `STATUS=` with a one-line summary, and
/// `WATCHDOG=1` from liveness, not from data progress (README, "Run it as a service").
///
/// | every worker's heartbeat | pipeline | WATCHDOG=1 |
/// |---|---|---|
/// | fresh | flowing, idle, backing off, held (401) | yes: waiting is not wedged |
/// | one past its deadline | any | no: systemd restarts the daemon after `WatchdogSec` |
///
/// The decision is `HeartbeatVerdict.decide`; this type only executes it and logs when it turns.
/// `STATUS=` is sent every tick, so the line follows a hold or an outage as it begins and ends.
///
/// `TRACKTAIL_TEST_MAX_SILENCE_MS` (a test hook, not a setting): caps how long any worker may go
/// between beats, even inside a request, so a test can wedge a sender on a server that never
/// answers and see the petting stop without waiting for the request time-out.
struct SystemdReporter {
    let notifier: SystemdNotifier
    let heartbeats: Heartbeats
    private let logger: Logger
    private var lastShipped = 0
    private var lastTick: Int64
    private var lastLagCheck: Int64 = 0
    private var lag: Int64 = 0
    private var late: [HeartbeatVerdict.Late] = []

    init(notifier: SystemdNotifier = SystemdNotifier(), heartbeats: Heartbeats = .shared, logger: Logger,
         environment: (String) -> String? = ProcessEnvironment.get) {
        self.notifier = notifier
        self.heartbeats = heartbeats
        self.logger = logger
        lastTick = SystemClock.monotonicNanoseconds()
        if let ms = environment("TRACKTAIL_TEST_MAX_SILENCE_MS").flatMap({ Int64($0) }), ms > 0 {
            heartbeats.limitSilence(to: ms * 1_000_000)
        }
    }

    /// How long the supervisor may wait between ticks: a second, or less when systemd's
    /// watchdog wants petting more often.
    func tickInterval(once: Bool) -> Int64 {
        min(once ? 100_000_000 : 1_000_000_000, notifier.watchdogInterval ?? .max)
    }

    /// `notes`: more reasons for the status line (an input with nothing readable).
    mutating func tick(_ topology: Topology, health: ShipHealth, notes: [String] = []) {
        let shipped = topology.shipper.counters.eventsShipped.load(ordering: .relaxed) + topology.shipper.counters.deadLettered.load(ordering: .relaxed)
        let now = SystemClock.monotonicNanoseconds()
        defer {
            lastShipped = shipped
            lastTick = now
        }
        guard notifier.isActive else { return }
        let rate = Double(shipped - lastShipped) / (Double(max(1, now - lastTick)) / 1e9)
        if now - lastLagCheck >= 5_000_000_000 {
            lag = topology.lagBytes()
            lastLagCheck = now
        }
        var line = "\(Int(rate)) events/s, lag \(lag) bytes, \(topology.budget.inUse) bytes in flight"
        if case .degraded(let reason) = health { line += ", \(reason)" }
        for n in notes { line += ", \(n)" }
        let verdict = heartbeats.check()
        switch verdict {
        case .pet:
            if !late.isEmpty { logger.notice("every worker thread responds again; petting the watchdog") }
            late = []
            notifier.watchdog()
        case .stale(let now):
            if late.map(\.name) != now.map(\.name) {
                logger.error("worker thread not responding; the watchdog is no longer petted",
                             ["threads": now.map(\.description).joined(separator: ", ")])
            }
            late = now
            line += ", not responding: \(now.map(\.name).joined(separator: ", "))"
        }
        notifier.status(line)
    }
}
