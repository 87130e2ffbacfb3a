import Pipeline
import Posix
import Runtime

/// The `http` output: batches mapped events, sends them, and acknowledges every line once
/// its fate is settled (delivered, dead-lettered or dropped).
///
/// ```
///  input queue ──▶ Batcher ──────────▶ DeliveryState ──▶ sender threads (maxInFlight) ──▶ TrackTransport
///   (MappedBatch)   BatchBuilder        (pending, AIMD     post, ResponsePlan.decide,
///                   drops → ack          limit, retry      acks / dead letter
///                   rejections → DL      budget, pause,
///                                        hold, retry)
/// ```
///
/// The `Batcher` runs on the shipper's batcher thread, which takes `input`, or on the
/// producer's own thread (`start(batcherThread: false)`, `makeBatcher()`: the daemon's mapper).
///
/// - Backpressure: the batcher waits while `maxInFlight` closed batches are already waiting
///   to be sent (`DeliveryState.mayEnqueue`), so the input queue fills (or the mapper, batching
///   itself, waits). A batch waiting out its own backoff does not count while the output is healthy
///   (other batches keep going; the byte budget bounds how many wait); a paused or held output
///   counts every waiting batch, so it stops reading: data waits in the source files, not in
///   memory.
/// - Acknowledgement: `acknowledge(source, start, end)` once per line range (contiguous ranges of
///   one source may come merged), from the batcher or a sender thread, in no particular order,
///   never under the lock (the tailer behind it has its own). Dead-letter records are fsynced
///   before their lines are acknowledged. None runs after `stop` returned.
/// - Time: decisions use the injected `Clock`; waits are condition waits on real monotonic time
///   for the remaining clock time, so `wake()` and `stop` interrupt them.
/// - `stop(deadline:)`: stops taking input, closes the open batch, sends what it can until
///   `deadline` (clock time), then returns. Anything not delivered stays unacknowledged and is
///   read again after a restart (at-least-once). A request still blocked in the transport at
///   the deadline is abandoned: its answer is ignored (the transport's request time-out ends
///   its thread).
///
/// `@unchecked Sendable`: every mutable property below `lock` is read and written only while
/// holding it; the rest is immutable or itself thread-safe.
public final class Shipper: @unchecked Sendable {
    public let input: BlockingQueue<MappedBatch>
    public let counters = ShipCounters()

    private let configuration: ShipConfiguration
    private let transport: any TrackTransport
    private let deadLetter: DeadLetter
    private let clock: any Clock
    private let sourcePath: @Sendable (SourceID) -> String
    private let acknowledge: @Sendable (SourceID, Int64, Int64) -> Void
    private let logger: Logger

    // Guarded by `lock`. Never held over I/O (`LockAudit` checks it in tests): sender threads,
    // the batcher and `/health` wait on it.
    private let lock = ConditionLock(audited: "ship")
    /// For tests: `LockAudit.violations(of:)`.
    var auditedLock: ConditionLock { lock }
    private var state: DeliveryState
    private var random: SplitMix64
    private var inFlightEvents = 0
    private var stopping = false
    private var stopDeadline: Int64 = .max
    private var abandoned = false
    private var batcherDone = false
    /// The batcher waits in `submit` for admission.
    private var batcherWaiting = false
    private var running = 0
    /// Sender threads inside `transport.post` now.
    private var posting = 0
    /// Threads acknowledging lines now (outside the lock; `stop` waits for them).
    private var acknowledgingThreads = 0
    private var exited: [Bool] = []
    private var threads: [Thread] = []
    private var deadLetterError: String?
    /// One "retrying later" line per second at most (5% of failing requests would flood the log).
    private var retryLog = LogThrottle(interval: 1_000_000_000)

    public init(
        configuration: ShipConfiguration, transport: any TrackTransport, deadLetter: DeadLetter,
        clock: any Clock, sourcePath: @escaping @Sendable (SourceID) -> String,
        acknowledge: @escaping @Sendable (SourceID, Int64, Int64) -> Void, logger: Logger,
        input: BlockingQueue<MappedBatch>? = nil, randomSeed: UInt64? = nil
    ) {
        let c = configuration.clamped()
        self.configuration = c
        self.transport = transport
        self.deadLetter = deadLetter
        self.clock = clock
        self.sourcePath = sourcePath
        self.acknowledge = acknowledge
        self.logger = logger
        self.input = input ?? BlockingQueue(capacity: c.inputCapacity)
        let seed = randomSeed ?? UInt64(bitPattern: clock.wallNow())
        self.state = DeliveryState(configuration: c, seed: seed ^ 0x5DEE_CE66)
        self.random = SplitMix64(seed: seed)
    }

    /// Starts `maxInFlight` sender threads, and the batcher thread that takes `input`. With
    /// `batcherThread: false` the producer batches on its own thread instead, through
    /// `makeBatcher()` (the daemon's mapper does: one thread hop and wake-up less per mapped
    /// batch), and `input` is not read.
    public func start(batcherThread: Bool = true) {
        lock.withLock {
            guard threads.isEmpty else { return }
            let count = (batcherThread ? 1 : 0) + configuration.maxInFlight
            running = count
            exited = Array(repeating: false, count: count)
            if batcherThread {
                threads.append(Thread(name: "ship-batch") { [self] in
                    Heartbeats.shared.run("ship-batch") { runBatcher($0) }
                    finished(0)
                })
            }
            for n in 1...configuration.maxInFlight {
                let index = threads.count
                threads.append(Thread(name: "ship-send-\(n)") { [self] in
                    Heartbeats.shared.run("ship-send-\(n)") { runSender($0) }
                    finished(index)
                })
            }
        }
    }

    /// The batcher for a producer that batches on its own thread (see `start(batcherThread:)`).
    /// One per shipper; only that thread may use it.
    public func makeBatcher() -> Batcher { Batcher(self) }

    /// SIGHUP: ends a hold's wait (401/403/404: the reload may have fixed the token or the URL).
    /// Batches waiting out a backoff or a `Retry-After` keep waiting.
    public func wake() {
        lock.withLock {
            state.wake(now: clock.now())
            lock.broadcast()
        }
    }

    /// SIGTERM: see the type's documentation. `deadline` is in the clock's monotonic time.
    public func stop(deadline: Int64) {
        input.close()
        lock.lock()
        stopping = true
        stopDeadline = deadline
        lock.broadcast()
        while running > 0 {
            let remaining = deadline - clock.now()
            if remaining <= 0 { break }
            lock.wait(until: SystemClock.monotonicNanoseconds() + min(remaining, 1_000_000_000))
        }
        abandoned = true
        deadLetter.interrupt()
        lock.broadcast()
        // Threads that were only waiting leave at once; only those blocked in the transport stay.
        while running > posting || acknowledgingThreads > 0 { lock.wait(until: SystemClock.monotonicNanoseconds() + 10_000_000) }
        var joinable: [Thread] = []
        for (i, t) in threads.enumerated() where exited[i] { joinable.append(t) }
        let left = running
        let waiting = state.pendingEvents + inFlightEvents
        lock.unlock()
        for t in joinable { t.join() }
        if left > 0 || waiting > 0 {
            logger.warning("stopped before everything was delivered; the rest is sent again after a restart",
                           ["events.waiting": String(waiting), "threads.abandoned": String(left)])
        }
    }

    /// `ok`, or why events are not flowing.
    public var health: ShipHealth {
        lock.withLock {
            let waiting = grouped(state.pendingEvents + inFlightEvents)
            if let h = state.hold { return .degraded("\(h.message); holding \(waiting) events") }
            if let e = deadLetterError ?? deadLetter.problem { return .degraded("dead letter not writable: \(e)") }
            if let r = state.retrying {
                // A whole-output pause (failures in a row, or Retry-After) says for how long.
                let pause = state.pausedUntil(now: clock.now()).map { ", all sending paused for \(($0 - clock.now() + 999_999_999) / 1_000_000_000) s" } ?? ""
                return .degraded("\(r); retrying\(pause), \(waiting) events waiting")
            }
            return .ok
        }
    }

    private func finished(_ index: Int) {
        lock.withLock {
            exited[index] = true
            running -= 1
            lock.broadcast()
        }
    }

    /// No batch will be added any more: the senders finish once the queued ones are settled.
    private func batchingFinished() {
        lock.withLock {
            batcherDone = true
            state.closeInput()
            lock.broadcast()
        }
    }

    // MARK: batcher

    /// Packs mapped batches into requests on one producer thread: the shipper's batcher thread,
    /// or the producer's own (`makeBatcher()`).
    ///
    /// ```
    ///  next(from: queue) ──▶ element ──▶ add: BatchBuilder, drops → ack, rejections → dead letter
    ///       │ waits at most until the open batch's linger time, then closes it
    ///  finish(): the open batch leaves, and no more will come
    /// ```
    public final class Batcher {
        private let shipper: Shipper
        private var builder: BatchBuilder

        fileprivate init(_ shipper: Shipper) {
            self.shipper = shipper
            builder = BatchBuilder(configuration: shipper.configuration)
        }

        /// The next element of `queue`; meanwhile the open batch leaves when its linger time
        /// passes. `nil` once the queue is closed and drained.
        ///
        /// The wait ends at `idleLinger` when the output is idle then, else at `linger`; a busy
        /// output that turns idle meanwhile is noticed at the next element.
        public func next<Element>(from queue: BlockingQueue<Element>, beating heartbeat: Heartbeat) -> Element? {
            while true {
                guard builder.openedAt != nil else { return queue.pop(beating: heartbeat) }
                let idle = shipper.outputIdle()
                let remaining = builder.lingerDeadline(outputIdle: idle)! - shipper.clock.now()
                if remaining <= 0 {
                    closeIfLingered(heartbeat, outputIdle: idle)
                    continue
                }
                switch queue.pop(until: SystemClock.monotonicNanoseconds() + remaining, beating: heartbeat) {
                case .element(let e): return e
                case .timedOut: closeIfLingered(heartbeat, outputIdle: shipper.outputIdle())
                case .closed: return nil
                }
            }
        }

        /// One mapped batch: its events into the open batch (full batches are handed to the
        /// senders, waiting while `maxInFlight` already wait), drops acknowledged, rejections
        /// dead-lettered and then acknowledged.
        public func add(_ batch: MappedBatch, beating heartbeat: Heartbeat) {
            shipper.take(batch, into: &builder, heartbeat)
        }

        /// The input has caught up (`LineBatch.caughtUp`): the open batch leaves now if the
        /// output is idle; otherwise it keeps filling (and leaves at `idleLinger` if the
        /// output is idle by then).
        public func inputCaughtUp(beating heartbeat: Heartbeat) {
            guard builder.openedAt != nil, shipper.outputIdle() else { return }
            if let b = builder.closeIfLingered(now: shipper.clock.now(), outputIdle: true, inputCaughtUp: true) {
                shipper.submit([b], heartbeat)
            }
        }

        /// The open batch leaves now; nothing is added after this.
        public func finish(beating heartbeat: Heartbeat) {
            if let b = builder.flush() { shipper.submit([b], heartbeat) }
            shipper.batchingFinished()
        }

        private func closeIfLingered(_ heartbeat: Heartbeat, outputIdle: Bool) {
            if let b = builder.closeIfLingered(now: shipper.clock.now(), outputIdle: outputIdle) { shipper.submit([b], heartbeat) }
        }
    }

    /// See `DeliveryState.isIdle`.
    private func outputIdle() -> Bool {
        lock.withLock { !stopping && state.isIdle(now: clock.now()) }
    }

    private func runBatcher(_ heartbeat: Heartbeat) {
        let batcher = Batcher(self)
        while let batch = batcher.next(from: input, beating: heartbeat) { batcher.add(batch, beating: heartbeat) }
        batcher.finish(beating: heartbeat)
    }

    /// One mapped batch: events into the builder; drops acknowledged; rejections and oversized
    /// events dead-lettered (one write and fsync for the lot) and then acknowledged.
    private func take(_ batch: MappedBatch, into builder: inout BatchBuilder, _ heartbeat: Heartbeat) {
        var closed: [OutgoingBatch] = []
        var records: [DeadLetterRecord] = []
        var drops: [(Int64, Int64)] = []
        let now = clock.now()
        for e in batch.events {
            switch builder.add(batch.eventJSON(e), source: batch.source, start: e.start, end: e.end, now: now, rule: e.rule) {
            case .added: break
            case .closed(let bs): closed.append(contentsOf: bs)
            case .oversized(let bytes, let limit):
                records.append(DeadLetterRecord(
                    time: clock.wallNow(), reason: BatchBuilder.oversizedReason(bytes: bytes, limit: limit),
                    source: sourcePath(batch.source), start: e.start, end: e.end, event: Array(batch.eventJSON(e)), rule: e.rule))
            }
        }
        for o in batch.others {
            if let why = o.rejection {
                records.append(DeadLetterRecord(
                    time: clock.wallNow(), reason: why, source: sourcePath(batch.source), start: o.start, end: o.end,
                    line: DeadLetterRecord.text(o.lineHead), rule: o.rule))
            } else {
                drops.append((o.start, o.end))
            }
        }
        if writeDeadLetters(records, heartbeat) {
            for r in records { ack(batch.source, r.start, r.end) }
        }
        for (s, e) in drops { ack(batch.source, s, e) }
        submit(closed, heartbeat)
    }

    private func submit(_ batches: [OutgoingBatch], _ heartbeat: Heartbeat) {
        guard !batches.isEmpty else { return }
        lock.lock()
        for b in batches {
            while !stopping && !state.mayEnqueue(now: clock.now()) {
                // A pause ending opens admission by itself (batches in their own backoff stop counting).
                let pause = state.pausedUntil(now: clock.now()).map { $0 - clock.now() } ?? .max
                batcherWaiting = true
                heartbeat.waitBeating(lock, atMost: pause)
                batcherWaiting = false
            }
            state.enqueue(b, now: clock.now())
            // One sender can take it: the other waiters are senders too (any of them will do),
            // except while stopping, when `stop` waits as well.
            unlockWaking(stopping ? .all : .one)
            lock.lock()
        }
        lock.unlock()
    }

    private enum Wake { case none, one, all }

    /// Unlocks, then wakes: a thread woken while the lock is still held would only wait for it.
    private func unlockWaking(_ wake: Wake) {
        lock.unlock()
        switch wake {
        case .none: break
        case .one: lock.signal()
        case .all: lock.broadcast()
        }
    }

    /// After a sender took a batch or settled one: wakes the threads that may have something
    /// to do now, not every waiter. A sender that took a batch wakes another only if more are
    /// due; a settled request wakes the others when batches wait (a slot or a retry came
    /// free), the input is closed (they may finish), or the output is stopping; the batcher
    /// whenever it waits for admission.
    private func wakeAfterSender(took: Bool) -> Wake {
        let now = clock.now()
        if batcherWaiting || stopping || (!took && (!state.pending.isEmpty || state.inputClosed)) { return .all }
        if took && state.pending.contains(where: { $0.notBefore <= now }) { return .one }
        return .none
    }

    // MARK: senders

    private func runSender(_ heartbeat: Heartbeat) {
        lock.lock()
        defer { lock.unlock() }
        while !abandoned {
            heartbeat.beat()
            let now = clock.now()
            if stopping && now >= stopDeadline { return }
            switch state.next(now: now) {
            case .finished:
                return
            case .wait(let until):
                if stopping && batcherDone && state.inFlight == 0 {
                    // Nothing can leave before the deadline: held, or every batch backs off past it.
                    if until == nil || until! >= stopDeadline { return }
                }
                var limit = until ?? .max
                if stopping { limit = min(limit, stopDeadline) }
                heartbeat.waitBeating(lock, atMost: max(0, limit - now))
            case .send(let d):
                inFlightEvents += d.batch.count
                posting += 1
                unlockWaking(wakeAfterSender(took: true))  // a queued batch left: the batcher may hand over the next
                counters.requests.add(1, ordering: .relaxed)
                let outcome: DeliveryOutcome
                let postStarted = clock.now()
                heartbeat.beat(allowing: transport.longestPost)
                do { outcome = .response(try transport.post(d.batch.body)) } catch { outcome = .failure(error) }
                counters.requestDuration.record(nanoseconds: clock.now() - postStarted)
                lock.lock()
                inFlightEvents -= d.batch.count
                posting -= 1
                if abandoned { return }
                let decision = ResponsePlan.decide(
                    eventCount: d.batch.count, outcome: outcome, attempt: d.attempt, policy: state.retryPolicy,
                    wallNow: clock.wallNow(), random: &random, destination: transport.destination)
                let completion = state.complete(d, decision, now: clock.now())
                unlockWaking(wakeAfterSender(took: false))
                apply(completion, d, outcome, heartbeat)
                lock.lock()
            }
        }
    }

    /// Executes a completion outside the lock (dead-letter writes fsync).
    private func apply(_ c: DeliveryState.Completion, _ d: Delivery, _ outcome: DeliveryOutcome, _ heartbeat: Heartbeat) {
        switch c.decision {
        case .delivered:
            counters.eventsShipped.add(d.batch.count, ordering: .relaxed)
            ackMerged(c.delivered)
            if c.recovered { logger.notice("Track API accepts events again", ["batch.events": String(d.batch.count)]) }
        case .split:
            counters.splits.add(1, ordering: .relaxed)
            if case .response(let r) = outcome {
                logger.debug("batch refused; splitting it to find the rejected events",
                             ["http.status": String(r.status), "batch.events": String(d.batch.count)])
            }
        case .deadLetter(let status, let reason):
            guard let e = c.deadLetter else { return }
            var body: String?
            if case .response(let r) = outcome {
                body = deadLetter.responseText(r.body)
            }
            counters.rejected.add(1, ordering: .relaxed)
            counters.setLastError(reason)
            let record = DeadLetterRecord(
                time: clock.wallNow(), reason: reason, status: status, response: body, source: sourcePath(e.source),
                start: e.start, end: e.end, event: Array(d.batch.json(of: e)), rule: e.rule)
            if writeDeadLetters([record], heartbeat) { ack(e.source, e.start, e.end) }
        case .retry(let after, let cause, _):
            counters.countRetry(cause)
            counters.setLastError(cause.description)
            if let unlogged = lock.withLock({ retryLog.admit(now: clock.now()) }) {
                logger.warning("request failed; retrying later", [
                    "reason": cause.description, "retry.after.ms": String(after / 1_000_000),
                    "retry.attempt": String(d.attempt + 1), "batch.events": String(d.batch.count),
                    "retries.unlogged": String(unlogged),
                ])
            }
            if let until = c.pausedUntil {
                logger.warning("Track API failing or asking to wait; the whole output pauses", [
                    "reason": cause.description, "pause.ms": String(max(0, until - clock.now()) / 1_000_000),
                ])
            }
        case .hold(let cause):
            counters.holds.add(1, ordering: .relaxed)
            counters.setLastError(cause.message)
            if let started = c.holdStarted {
                logger.error("Track API refuses this configuration; holding events (nothing is dropped)", [
                    "reason": started.message, "http.status": started.status.map(String.init) ?? "none",
                    "retry.every.s": String(configuration.holdRetryInterval / 1_000_000_000),
                ])
            }
        }
    }

    private func writeDeadLetters(_ records: [DeadLetterRecord], _ heartbeat: Heartbeat) -> Bool {
        guard !records.isEmpty else { return true }
        do {
            // Retried with backoff while the disk is full; logged (rate-limited) by the dead letter.
            try deadLetter.writeRetrying(records, beating: heartbeat)
            counters.deadLettered.add(records.count, ordering: .relaxed)
            lock.withLock { deadLetterError = nil }
            return true
        } catch {
            // Only at shutdown. Not acknowledged: the lines are read again after a restart.
            let text = "\(error)"
            logger.error("cannot write the dead letter; lines stay unacknowledged", ["error": text])
            counters.setLastError("dead letter: \(text)")
            lock.withLock { deadLetterError = text }
            return false
        }
    }

    private func ack(_ source: SourceID, _ start: Int64, _ end: Int64) {
        acknowledging { acknowledge(source, start, end) }
    }

    /// Acknowledges events, merging runs of adjacent ranges of one source into one call.
    private func ackMerged(_ events: [BatchEvent]) {
        guard var run = events.first else { return }
        acknowledging {
            for e in events.dropFirst() {
                if e.source == run.source && e.start == run.end {
                    run.end = e.end
                } else {
                    acknowledge(run.source, run.start, run.end)
                    run = e
                }
            }
            acknowledge(run.source, run.start, run.end)
        }
    }

    /// Runs acknowledgements with the lock released (the tailer behind them takes its own lock,
    /// and senders, the batcher and `/health` must not wait on that), unless `stop` abandoned the
    /// rest. `stop` waits for those in progress: once it returns, none runs any more.
    private func acknowledging(_ body: () -> Void) {
        let go = lock.withLock { () -> Bool in
            if abandoned { return false }
            acknowledgingThreads += 1
            return true
        }
        guard go else { return }
        body()
        lock.withLock {
            acknowledgingThreads -= 1
            // Only `stop` waits for this (the senders would wake for nothing on every request).
            if acknowledgingThreads == 0 && stopping { lock.broadcast() }
        }
    }
}

/// A small, fast, seedable generator for jitter (not for secrets).
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
