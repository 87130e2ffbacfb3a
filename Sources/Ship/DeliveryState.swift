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

/// The shipper's scheduling state: which batch goes next, when, how many requests may be in
/// flight, and whether the whole output waits. Pure and clock-free (times are passed in), so
/// retry, pause, hold, wake and drain are table-tested.
///
/// ## A flaky API: per-batch backoff without holding a slot
///
/// A batch that failed transiently (503, a reset, a time-out) waits out its own backoff in
/// `pending` without occupying a sending slot, and it does not count against the batcher's
/// admission (`mayEnqueue`), so other batches keep going at full speed. What bounds the
/// batches waiting out a backoff is the byte budget: their lines stay unacknowledged, and the
/// readers stop when the budget is spent. Acknowledgements arriving out of order are fine: the
/// checkpoint advances over the longest run of done lines.
///
/// ## Backing off as a whole: AIMD on the requests in flight, plus a failure streak
///
/// One failed request says little; many say the API is in trouble, and then the output as a
/// whole must slow down instead of every batch retrying on its own clock:
///
/// | outcome | requests in flight allowed (`limit`) | whole-output pause |
/// | --- | --- | --- |
/// | transient failure | halved (at least 1) | — |
/// | `failureStreak` ≥ `sustainedFailures` (3) in a row | — | backoff for attempt `streak − 3` (jittered, doubling up to the cap) |
/// | any `Retry-After` (429, 503, …) | halved | at least the asked time (capped by `retry_after_max`), as the API asked |
/// | 2xx, split, dead letter (the API took the content into account) | +1 after `limit` such outcomes in a row (up to `maxInFlight`) | the streak pause ends; a `Retry-After` pause stays |
/// | hold (401/403/404, …) | unchanged | the hold paces: one probe per `holdRetryInterval` |
///
/// ## A retry budget: quick retries while failures are rare
///
/// A batch's own wait after a transient failure comes from one of two policies. While the API
/// accepts nearly every request, an isolated failure (a 503 now and then from one overloaded
/// node) is retried after a short jittered wait, `quickRetryPolicy` (the configured backoff
/// divided by `quickRetryDivisor`: 0 … 31 ms, doubling per attempt); the full backoff (0 …
/// 0.5 s, doubling to 60 s) would hold its lines in the byte budget for a quarter of a second
/// on average, stall the readers behind it and dominate a short backlog's time. What may be
/// retried quickly is a budget of tokens, as in gRPC's retry throttling and Finagle's retry
/// budget: each outcome that is not a failure earns a tenth of a token, each transient
/// failure spends one, at most `retryTokenCap` are kept, and a quick retry needs a whole
/// token. So quick retries are at most about a tenth of the requests: at 5% failures the
/// budget stays full; from about 10% on it drains and every retry waits out the full backoff.
/// A `Retry-After` is honoured whichever policy (it is the least wait, and pauses the whole
/// output), and a failure streak pauses the whole output as before.
///
/// | outcome | tokens (tenths) |
/// | --- | --- |
/// | 2xx, split, dead letter | +1, at most `retryTokenCap` × 10 |
/// | transient failure (with or without `Retry-After`) | −10, at least 0 |
/// | hold | unchanged |
///
/// Why this and not Vector's adaptive request concurrency: Vector grows and shrinks the
/// concurrency from measured round-trip times, which needs a noise-tolerant RTT average and
/// many slots to be worth it; ours defaults to 2 and the Track API says plainly when it is
/// overloaded (429/503, `Retry-After`). So the signal is the outcome, not the latency: the
/// first failure halves the pressure (multiplicative decrease), successes win it back one slot
/// per window (additive increase), and once failures come in a row the whole output pauses
/// with exponential backoff, so a dead API sees one probe per backoff, not one request per
/// batch. With 5% of requests failing at random, three in a row is 1 in 8,000 requests: the
/// output almost never pauses, and a halved limit is won back by the next success.
///
/// ## `next(now:)`
///
/// | state | `next(now:)` |
/// | --- | --- |
/// | input closed, nothing queued or in flight | `.finished` |
/// | paused (`Retry-After` or a failure streak), `now` before its end | `.wait(until: end)` |
/// | held, probe in flight or nothing queued | `.wait(until: nil)` |
/// | held | `.send` the first batch once `heldUntil` and its own `notBefore` passed (one probe), else `.wait` |
/// | `inFlight ≥ limit` | `.wait(until: nil)` (a completion wakes the sender) |
/// | a batch with `notBefore ≤ now` | `.send` the first such batch (FIFO; retries and split halves go first) |
/// | batches waiting for their retry time | `.wait(until: earliest notBefore)` |
/// | otherwise | `.wait(until: nil)` |
///
/// `wake(now:)` (SIGHUP) ends a hold's wait only: a batch waiting out a backoff, and a pause
/// the API asked for with `Retry-After`, keep waiting (a reload fixes credentials, not an
/// overloaded API). A hold ends when the API takes a request's content into account (2xx, or a
/// rejection that splits or dead-letters); a transient failure leaves it in place.
public struct DeliveryState: Sendable {
    /// Consecutive transient failures after which the whole output backs off.
    public static let sustainedFailures = 3

    public private(set) var pending: [Delivery] = []
    public private(set) var inFlight = 0
    public private(set) var hold: HoldCause?
    public private(set) var heldUntil: Int64?
    /// The last transient failure since the last success (for health).
    public private(set) var retrying: RetryCause?
    public private(set) var inputClosed = false
    /// Requests allowed in flight now (AIMD, 1 … `maxInFlight`).
    public private(set) var limit: Int
    /// Transient failures in a row, since the last outcome that was not one.
    public private(set) var failureStreak = 0
    /// The whole output waits until then because failures came in a row.
    public private(set) var backoffUntil: Int64?
    /// The whole output waits until then because the API said so (`Retry-After`).
    public private(set) var retryAfterUntil: Int64?
    private var successesAtLimit = 0
    /// The retry budget in tenths of a token (see the type's documentation).
    public private(set) var retryTenths: Int
    private var random: SplitMix64
    public let maxInFlight: Int
    public let holdRetryInterval: Int64
    public let policy: RetryPolicy
    /// The backoff for a retry the budget pays for.
    public let quickRetryPolicy: RetryPolicy

    /// Whole tokens the retry budget holds at most (and at start).
    public static let retryTokenCap = 10
    /// The quick retry's backoff is the configured one divided by this.
    public static let quickRetryDivisor: Int64 = 16

    public init(configuration c: ShipConfiguration = ShipConfiguration(), seed: UInt64 = 0x7261_636B) {
        let c = c.clamped()
        maxInFlight = c.maxInFlight
        limit = c.maxInFlight
        holdRetryInterval = c.holdRetryInterval
        policy = RetryPolicy(configuration: c)
        quickRetryPolicy = RetryPolicy(base: max(1, c.backoffBase / Self.quickRetryDivisor), cap: c.backoffCap,
                                       retryAfterCap: c.retryAfterCap)
        retryTenths = Self.retryTokenCap * 10
        random = SplitMix64(seed: seed)
    }

    /// The backoff for the next transient failure: quick while the retry budget holds a token
    /// (and the output is not held), else the configured one.
    public var retryPolicy: RetryPolicy {
        hold == nil && retryTenths >= 10 ? quickRetryPolicy : policy
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
        /// Set when this outcome paused the whole output (log it once): until when.
        public var pausedUntil: Int64?
        /// Set when this outcome ended a hold or a run of transient failures.
        public var recovered = false
    }

    public mutating func enqueue(_ batch: OutgoingBatch, now: Int64) {
        guard !batch.isEmpty else { return }
        pending.append(Delivery(batch: batch, notBefore: now))
    }

    public mutating func closeInput() { inputClosed = true }

    /// When the whole output may send again (nil: it may now).
    public func pausedUntil(now: Int64) -> Int64? {
        let until = max(backoffUntil ?? .min, retryAfterUntil ?? .min)
        return until > now ? until : nil
    }

    /// Whether the batcher may hand over another closed batch now. Batches waiting out their
    /// own backoff do not count while the output is healthy (they are bounded by the byte
    /// budget); while it is paused or held every waiting batch counts, so an outage holds at
    /// most `maxInFlight` closed batches beyond those already retrying, and memory stays flat.
    public func mayEnqueue(now: Int64) -> Bool {
        if hold != nil || pausedUntil(now: now) != nil { return pending.count < maxInFlight }
        var queued = 0
        for d in pending where d.notBefore <= now { queued += 1 }
        return queued < maxInFlight
    }

    /// Whether a batch handed over now would be sent at once without delaying another: not
    /// held or paused, a slot free under `limit`, and no batch waiting that is due. The batcher
    /// lets a batch leave at `idleLinger` instead of `linger` then (see `BatchBuilder`).
    public func isIdle(now: Int64) -> Bool {
        guard hold == nil, pausedUntil(now: now) == nil, inFlight < limit else { return false }
        return !pending.contains { $0.notBefore <= now }
    }

    public mutating func next(now: Int64) -> Next {
        if pending.isEmpty { return inputClosed && inFlight == 0 ? .finished : .wait(until: nil) }
        if let p = pausedUntil(now: now) { return .wait(until: p) }
        if hold != nil {
            if inFlight > 0 { return .wait(until: nil) }
            let at = max(heldUntil ?? now, pending[0].notBefore)
            return now < at ? .wait(until: at) : .send(take(at: 0))
        }
        if inFlight >= limit { return .wait(until: nil) }
        var earliest: Int64?
        for (i, d) in pending.enumerated() {
            if d.notBefore <= now { return .send(take(at: i)) }
            earliest = min(earliest ?? d.notBefore, d.notBefore)
        }
        return .wait(until: earliest)
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
            c.recovered = succeeded()
        case .split:
            let (a, b) = d.batch.halves()
            pending.insert(contentsOf: [Delivery(batch: a, notBefore: now), Delivery(batch: b, notBefore: now)], at: 0)
            c.recovered = succeeded()
        case .deadLetter:
            c.deadLetter = d.batch.events.first
            c.recovered = succeeded()
        case .retry(let after, let cause, let asked):
            retrying = cause
            var again = d
            again.attempt += 1
            again.notBefore = now &+ max(0, after)
            pending.insert(again, at: 0)
            let wasPaused = pausedUntil(now: now)
            failed(now: now, asked: asked)
            if let p = pausedUntil(now: now), p != wasPaused { c.pausedUntil = p }
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

    /// A transient failure: multiplicative decrease, and a whole-output pause when failures
    /// come in a row or the API asked for one.
    private mutating func failed(now: Int64, asked: Int64?) {
        limit = max(1, limit / 2)
        successesAtLimit = 0
        retryTenths = max(0, retryTenths - 10)
        failureStreak += 1
        if let asked {
            retryAfterUntil = max(retryAfterUntil ?? .min, now &+ max(0, asked))
        }
        if failureStreak >= Self.sustainedFailures {
            let wait = policy.backoff(attempt: failureStreak - Self.sustainedFailures, random: &random)
            backoffUntil = max(backoffUntil ?? .min, now &+ wait)
        }
    }

    /// The API took a request's content into account: additive increase, the streak and its
    /// pause end (a `Retry-After` pause stays: the API asked for it), a hold ends.
    private mutating func succeeded() -> Bool {
        successesAtLimit += 1
        if successesAtLimit >= limit {
            limit = min(maxInFlight, limit + 1)
            successesAtLimit = 0
        }
        retryTenths = min(Self.retryTokenCap * 10, retryTenths + 1)
        failureStreak = 0
        backoffUntil = nil
        let was = hold != nil || retrying != nil
        hold = nil
        heldUntil = nil
        retrying = nil
        return was
    }

    /// SIGHUP: a held output tries again now. Backoffs and `Retry-After` pauses keep running.
    public mutating func wake(now: Int64) {
        if hold != nil { heldUntil = now }
    }

    /// Events waiting or in flight are counted by the shipper; this counts the waiting ones.
    public var pendingEvents: Int { pending.reduce(0) { $0 + $1.batch.count } }
}
