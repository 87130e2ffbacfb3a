/// A batch on its way: sent, waiting to be sent, or waiting for its retry time.
public struct Delivery: Sendable, Equatable {
    public var batch: OutgoingBatch
    /// Retries so far (0 for a batch never retried): drives the backoff ceiling.
    public var attempt: Int
    /// Clock time before which it is not sent.
    public var notBefore: Int64

    public init(batch: OutgoingBatch, attempt: Int = 0, notBefore: Int64 = 0) {
        self.batch = batch
        self.attempt = attempt
        self.notBefore = notBefore
    }
}

/// The shipper's scheduling state: which batch goes next, when, and whether the output is held.
/// Pure and clock-free (times are passed in), so hold, wake and drain are table-tested.
///
/// | state | `next(now:)` |
/// | --- | --- |
/// | held, `now < heldUntil` | `.wait(until: heldUntil)` |
/// | held, time to try again, nothing in flight | `.send` the first batch (one probe) |
/// | held, probe in flight | `.wait(until: nil)` |
/// | a batch with `notBefore ≤ now` | `.send` the first such batch (FIFO; split halves go first) |
/// | batches waiting for their retry time | `.wait(until: earliest notBefore)` |
/// | input closed, nothing queued or in flight | `.finished` |
/// | otherwise | `.wait(until: nil)` |
///
/// `wake(now:)` (SIGHUP) makes every waiting batch due at once and ends a hold's wait.
/// A hold ends when the API takes a request's content into account (2xx, or a rejection that
/// splits or dead-letters); a transient failure leaves it in place.
public struct DeliveryState: Sendable {
    public private(set) var pending: [Delivery] = []
    public private(set) var inFlight = 0
    public private(set) var hold: HoldCause?
    public private(set) var heldUntil: Int64?
    /// The last transient failure since the last success (for health).
    public private(set) var retrying: RetryCause?
    public private(set) var inputClosed = false
    public let holdRetryInterval: Int64

    public init(holdRetryInterval: Int64 = 60_000_000_000) {
        self.holdRetryInterval = holdRetryInterval
    }

    public enum Next: Sendable, Equatable {
        case send(Delivery)
        case wait(until: Int64?)
        case finished
    }

    /// What the shipper must do after an outcome. Dead letters are written (and fsynced)
    /// before their events are acknowledged.
    public struct Completion: Sendable, Equatable {
        public var decision: DeliveryDecision
        /// Events delivered: acknowledge them.
        public var delivered: [BatchEvent] = []
        /// The single event to dead-letter, then acknowledge.
        public var deadLetter: BatchEvent?
        /// Set when this outcome started a hold (log it once).
        public var holdStarted: HoldCause?
        /// Set when this outcome ended a hold or a run of transient failures.
        public var recovered = false
    }

    public mutating func enqueue(_ batch: OutgoingBatch, now: Int64) {
        guard !batch.isEmpty else { return }
        pending.append(Delivery(batch: batch, notBefore: now))
    }

    public mutating func closeInput() { inputClosed = true }

    public mutating func next(now: Int64) -> Next {
        if hold != nil {
            if let h = heldUntil, now < h { return .wait(until: h) }
            if inFlight > 0 || pending.isEmpty { return pending.isEmpty && inFlight == 0 && inputClosed ? .finished : .wait(until: nil) }
            return .send(take(at: 0))
        }
        var earliest: Int64?
        for (i, d) in pending.enumerated() {
            if d.notBefore <= now { return .send(take(at: i)) }
            earliest = min(earliest ?? d.notBefore, d.notBefore)
        }
        if let earliest { return .wait(until: earliest) }
        if inputClosed && inFlight == 0 { return .finished }
        return .wait(until: nil)
    }

    private mutating func take(at i: Int) -> Delivery {
        inFlight += 1
        return pending.remove(at: i)
    }

    /// Applies an outcome for a delivery that `next` handed out.
    public mutating func complete(_ d: Delivery, _ decision: DeliveryDecision, now: Int64) -> Completion {
        inFlight -= 1
        var c = Completion(decision: decision)
        switch decision {
        case .delivered:
            c.delivered = d.batch.events
            c.recovered = endTrouble()
        case .split:
            let (a, b) = d.batch.halves()
            pending.insert(contentsOf: [Delivery(batch: a, notBefore: now), Delivery(batch: b, notBefore: now)], at: 0)
            c.recovered = endTrouble()
        case .deadLetter:
            c.deadLetter = d.batch.events.first
            c.recovered = endTrouble()
        case .retry(let after, let cause):
            retrying = cause
            var again = d
            again.attempt += 1
            again.notBefore = now &+ max(0, after)
            pending.insert(again, at: 0)
            // A transient failure says nothing about the credentials: a hold stays, and its
            // next probe (this batch, now first) waits for the backoff too.
            if let h = heldUntil { heldUntil = max(h, again.notBefore) }
        case .hold(let cause):
            if hold != cause { c.holdStarted = cause }
            hold = cause
            heldUntil = now &+ holdRetryInterval
            var again = d
            again.notBefore = now
            pending.insert(again, at: 0)
        }
        return c
    }

    private mutating func endTrouble() -> Bool {
        let was = hold != nil || retrying != nil
        hold = nil
        heldUntil = nil
        retrying = nil
        return was
    }

    /// SIGHUP: try everything now.
    public mutating func wake(now: Int64) {
        if hold != nil { heldUntil = now }
        for i in pending.indices where pending[i].notBefore > now { pending[i].notBefore = now }
    }

    /// Events waiting or in flight are counted by the shipper; this counts the waiting ones.
    public var pendingEvents: Int { pending.reduce(0) { $0 + $1.batch.count } }
}
