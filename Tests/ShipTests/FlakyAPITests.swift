import Pipeline
import Testing
@testable import Ship

/// The shipper's scheduling against a flaky or failing API (issue 12, issue 11 item 6), in
/// simulated time: `DeliveryState` and `ResponsePlan` are driven exactly as `Shipper` drives
/// them (the batcher enqueues while `mayEnqueue`, senders take `next`, outcomes go through
/// `ResponsePlan.decide` and `complete`), with a transport that answers after a fixed latency.
/// No threads, no sockets, no wall clock.
struct Simulation {
    var configuration = ShipConfiguration()
    /// Time one request takes.
    var latency: Int64 = 3_000_000
    /// Closed batches whose lines the byte budget lets the readers hold (4 MiB of ~100 kB batches).
    var budgetBatches = 40
    /// The batcher's old admission rule: every waiting batch counts, including those backing off.
    var slotHoldingAdmission = false
    /// Batches in the backlog (`nil`: endless); the run ends when all are delivered.
    var total: Int?
    /// The shipper's retry budget (`DeliveryState.retryPolicy`); false: every retry waits out
    /// the full backoff, as before the budget.
    var retryBudget = true
    /// The answer to request number n (1-based), given a seeded random draw in 0..<1.
    var answer: @Sendable (_ n: Int, _ draw: Double) -> TrackResponse = { _, _ in TrackResponse(status: 200) }

    struct Result {
        var delivered = 0
        var requests = 0
        var failures = 0
        /// The most requests in flight at once after the first failure streak paused the output.
        var maxInFlightAfterPause = 0
        var pauses = 0
        /// When the last batch of a `total` was delivered (ns).
        var finishedAt: Int64?
    }

    func run(seconds: Int64) -> Result {
        var state = DeliveryState(configuration: configuration, seed: 1)
        let policy = RetryPolicy(configuration: configuration)
        var random = SplitMix64(seed: 2)
        var draws = SplitMix64(seed: 3)
        var result = Result()
        var busy: [(until: Int64, delivery: Delivery, response: TrackResponse)] = []
        var unacknowledged = 0
        var nextLine: Int64 = 0
        var paused = false
        var now: Int64 = 0
        let end = seconds * 1_000_000_000
        while now < end {
            // The batcher: a backlog, so a batch is ready whenever admission and the budget allow.
            while unacknowledged < budgetBatches && total.map({ nextLine < Int64($0) }) ?? true
                && (slotHoldingAdmission ? state.pending.count < configuration.maxInFlight : state.mayEnqueue(now: now)) {
                var b = OutgoingBatch()
                b.append(Array("{}".utf8), source: SourceID(1), start: nextLine, end: nextLine + 1)
                b.close()
                nextLine += 1
                state.enqueue(b, now: now)
                unacknowledged += 1
            }
            // The senders.
            var wakeAt: Int64?
            while busy.count < configuration.clamped().maxInFlight {
                switch state.next(now: now) {
                case .send(let d):
                    result.requests += 1
                    let draw = Double(draws.next() >> 11) / Double(1 << 53)
                    busy.append((now + latency, d, answer(result.requests, draw)))
                    if paused { result.maxInFlightAfterPause = max(result.maxInFlightAfterPause, busy.count) }
                    continue
                case .wait(let until): wakeAt = until
                case .finished: break
                }
                break
            }
            let nextDone = busy.map(\.until).min()
            guard let t = [nextDone, wakeAt].compactMap({ $0 }).min() else { break }
            now = max(now, t)
            // Outcomes due now, in the order they were sent.
            while let i = busy.firstIndex(where: { $0.until <= now }) {
                let (_, d, response) = busy.remove(at: i)
                let decision = ResponsePlan.decide(
                    eventCount: d.batch.count, outcome: .response(response), attempt: d.attempt,
                    policy: retryBudget ? state.retryPolicy : policy,
                    wallNow: now, random: &random)
                let c = state.complete(d, decision, now: now)
                if c.pausedUntil != nil { result.pauses += 1; paused = true }
                switch decision {
                case .delivered:
                    result.delivered += d.batch.count
                    unacknowledged -= 1
                    if let total, result.delivered == total { result.finishedAt = now; return result }
                case .retry: result.failures += 1
                default: break
                }
            }
        }
        return result
    }
}

@Suite struct FlakyAPITests {
    static let fivePercent503: @Sendable (Int, Double) -> TrackResponse = { _, draw in
        TrackResponse(status: draw < 0.05 ? 503 : 200)
    }

    /// Issue 12: with 5% of requests answered 503 (no Retry-After), throughput stays close to
    /// a clean API's. The old admission rule (a batch in backoff holds one of the two slots)
    /// reproduces the collapse the issue measured.
    @Test func fivePercent503KeepsFullSpeed() {
        let clean = Simulation().run(seconds: 60)
        var flaky = Simulation()
        flaky.answer = Self.fivePercent503
        let f = flaky.run(seconds: 60)
        var old = flaky
        old.slotHoldingAdmission = true
        old.retryBudget = false
        let o = old.run(seconds: 60)
        let ratio = Double(f.delivered) / Double(clean.delivered)
        let oldRatio = Double(o.delivered) / Double(clean.delivered)
        print("simulated 60 s, 2 in flight, 3 ms per request: clean \(clean.delivered) batches / \(clean.requests) requests; "
              + "5% 503: \(f.delivered) batches / \(f.requests) requests (\(f.failures) failed, \(f.pauses) whole-output pauses) = "
              + "\(Int(ratio * 100))% of clean; old admission: \(o.delivered) = \(Int(oldRatio * 100))%")
        #expect(clean.requests == clean.delivered && clean.delivered > 30_000)
        #expect(ratio >= 0.85, "5% 503 gives \(ratio) of clean")
        #expect(oldRatio < 0.5, "the simulation reproduces the slot-holding collapse (\(oldRatio))")
        // Every failure is retried, nothing else is sent twice.
        #expect(f.requests <= f.delivered + f.failures + 2)
        #expect(Double(f.failures) / Double(f.requests) < 0.07)
    }

    /// Issue 12: a short backlog (1,000 batches, the 500k-line benchmark) with 5% 503. Each
    /// failed batch waited 0 … 0.5 s, holding its lines in the byte budget (about 20 batches of
    /// 500 lines in 4 MiB) and stalling the readers, and the last ones alone doubled the run:
    /// 46% of clean speed measured. With the retry budget a rare failure is retried within
    /// 0 … 31 ms.
    @Test func shortBacklogWithFivePercent503() {
        var clean = Simulation()
        clean.total = 1_000
        clean.budgetBatches = 20
        clean.latency = 1_400_000
        var flaky = clean
        flaky.answer = Self.fivePercent503
        var old = flaky
        old.retryBudget = false
        let c = clean.run(seconds: 600), f = flaky.run(seconds: 600), o = old.run(seconds: 600)
        let ratio = Double(c.finishedAt!) / Double(f.finishedAt!)
        let oldRatio = Double(c.finishedAt!) / Double(o.finishedAt!)
        print("simulated 1,000 batches, 1.4 ms per request: clean \(c.finishedAt! / 1_000_000) ms; 5% 503: \(f.finishedAt! / 1_000_000) ms "
              + "(\(f.failures) failed) = \(Int(ratio * 100))% of clean; without the retry budget \(o.finishedAt! / 1_000_000) ms = \(Int(oldRatio * 100))%")
        #expect(ratio >= 0.8, "5% 503 gives \(ratio) of clean")
        #expect(oldRatio < 0.7, "the simulation reproduces the short-run loss (\(oldRatio))")
        #expect(f.requests == f.delivered + f.failures)
    }

    /// A dead API: after a short burst, one probe at a time, each after a growing backoff.
    @Test func deadAPISeesOneProbePerBackoff() {
        var dead = Simulation()
        dead.answer = { _, _ in TrackResponse(status: 503) }
        let r = dead.run(seconds: 600)
        print("simulated 600 s of 503 with 40 batches waiting: \(r.requests) requests")
        #expect(r.delivered == 0)
        #expect(r.maxInFlightAfterPause == 1)
        // Ceilings 0.5, 1, 2, … 60 s with full jitter: about 20–40 probes in 10 minutes, not one per batch per backoff.
        #expect(r.requests < 80, "\(r.requests) requests to a dead API in 10 simulated minutes")
        #expect(r.requests > 5)
    }

    /// Retry-After pauses the whole output for the time asked, then sending resumes.
    @Test func retryAfterPausesEverySender() {
        var sim = Simulation()
        sim.answer = { n, _ in n == 10 ? TrackResponse(status: 429, retryAfter: "5") : TrackResponse(status: 200) }
        let r = sim.run(seconds: 10)
        let clean = Simulation().run(seconds: 10)
        // About 5 of the 10 seconds paused.
        #expect(r.pauses == 1)
        #expect(Double(r.delivered) < 0.6 * Double(clean.delivered) && Double(r.delivered) > 0.4 * Double(clean.delivered),
                "\(r.delivered) vs \(clean.delivered)")
    }
}

/// `DeliveryState`'s flow control as tables.
@Suite struct FlowControlTests {
    static func state(maxInFlight: Int) -> DeliveryState {
        var c = ShipConfiguration()
        c.maxInFlight = maxInFlight
        return DeliveryState(configuration: c)
    }

    static func decision(_ c: Character) -> DeliveryDecision {
        switch c {
        case "S": .delivered
        case "F": .retry(after: 1_000_000_000, cause: .status(503))
        case "T": .retry(after: 1_000_000_000, cause: .transport("connection refused"))
        case "R": .retry(after: 30_000_000_000, cause: .status(429), retryAfter: 30_000_000_000)
        case "D": .deadLetter(status: 400, reason: "x")
        default: fatalError("unknown outcome \(c)")
        }
    }

    /// A state (64 in flight allowed) after one request per outcome, all sent at t = 0 and
    /// completed in order at t = 1.
    static func completedAtOnce(_ outcomes: String) -> DeliveryState {
        var s = state(maxInFlight: 64)
        for n in 0..<outcomes.count { s.enqueue(DeliveryStateTests.batch(1, from: n), now: 0) }
        var sent: [Delivery] = []
        for _ in 0..<outcomes.count { sent.append(DeliveryStateTests.sent(s.next(now: 0))!) }
        for (d, c) in zip(sent, outcomes) { _ = s.complete(d, decision(c), now: 1) }
        return s
    }

    /// Outcomes of requests all in flight at once (64 allowed), completed in order at t = 1:
    /// the limit after them, the streak, and which pauses hold.
    static let concurrentTable: [(String, Int, Int, Bool, Bool)] = [
        // outcomes, limit, streak, streak pause, Retry-After pause
        ("S", 64, 0, false, false),
        ("F", 32, 1, false, false),
        ("FF", 16, 2, false, false),
        ("FFF", 8, 3, true, false),
        ("FFFS", 8, 0, false, false),
        ("FFFD", 8, 0, false, false),
        ("TTTTTTT", 1, 7, true, false),
        ("R", 32, 1, false, true),
        ("RS", 32, 0, false, true),
        ("SFSFSF", 8, 1, false, false),
        ("FFSFF", 4, 2, false, false),
    ]

    @Test(arguments: concurrentTable.indices)
    func concurrentOutcomes(_ i: Int) {
        let (outcomes, limit, streak, backoff, retryAfter) = Self.concurrentTable[i]
        let s = Self.completedAtOnce(outcomes)
        #expect(s.limit == limit, "\(outcomes)")
        #expect(s.failureStreak == streak, "\(outcomes)")
        #expect((s.backoffUntil != nil) == backoff, "\(outcomes)")
        #expect((s.retryAfterUntil == 30_000_000_001) == retryAfter, "\(outcomes)")
        #expect((s.pausedUntil(now: 1) == nil) == (!backoff && !retryAfter) || backoff, "\(outcomes)")
    }

    /// The retry budget (tenths of a token, 100 at start): outcomes of requests in flight at
    /// once (up to 64), completed in order; the budget after them, and whether the next
    /// transient failure is retried quickly.
    static let budgetTable: [(String, Int, Bool)] = [
        ("", 100, true),
        ("S", 100, true),
        ("F", 90, true),
        ("FS", 91, true),
        ("FFFFFFFFF", 10, true),
        ("FFFFFFFFFF", 0, false),
        ("FFFFFFFFFFS", 1, false),
        ("FFFFFFFFFFSSSSSSSSS", 9, false),
        ("FFFFFFFFFFSSSSSSSSSS", 10, true),
        ("FFFFFFFFFFFFF", 0, false),
        ("TTTTTTTTTT", 0, false),
        ("RRRRRRRRRR", 0, false),
        ("FFFFFFFFFFDDDDDDDDDD", 10, true),
        ("SSSSSSSSSSSSSSSSSSSF", 90, true),
        // 10% failures: each ten outcomes cost a tenth of a token.
        ("SSSSSSSSSFSSSSSSSSSFSSSSSSSSSF", 88, true),
        // 5% failures: the budget stays full.
        ("FSSSSSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSSSSS", 100, true),
    ]

    @Test(arguments: budgetTable.indices)
    func retryBudget(_ i: Int) {
        let (outcomes, tenths, quick) = Self.budgetTable[i]
        let s = Self.completedAtOnce(outcomes)
        #expect(s.retryTenths == tenths, "\(outcomes)")
        #expect((s.retryPolicy == s.quickRetryPolicy) == quick, "\(outcomes)")
    }

    /// `isIdle`: may a batch leave early (`idleLinger`) because it would be sent at once?
    @Test func idleMeansASlotFreeAndNothingWaiting() {
        var s = Self.state(maxInFlight: 2)
        #expect(s.isIdle(now: 0))
        s.enqueue(DeliveryStateTests.batch(1, from: 0), now: 0)
        #expect(!s.isIdle(now: 0), "a batch waits to be sent")
        let a = DeliveryStateTests.sent(s.next(now: 0))!
        #expect(s.isIdle(now: 0), "one of two slots in use")
        s.enqueue(DeliveryStateTests.batch(1, from: 1), now: 0)
        let b = DeliveryStateTests.sent(s.next(now: 0))!
        #expect(!s.isIdle(now: 0), "both slots in use")
        _ = s.complete(a, .retry(after: 1_000, cause: .status(503)), now: 10)
        #expect(!s.isIdle(now: 10), "the limit is halved to 1, and b is in flight")
        _ = s.complete(b, .delivered, now: 20)
        #expect(s.isIdle(now: 20), "a waits for its retry: it does not count until it is due")
        #expect(!s.isIdle(now: 1_010), "a is due")
        _ = s.complete(DeliveryStateTests.sent(s.next(now: 1_010))!, .retry(after: 5_000, cause: .status(429), retryAfter: 5_000), now: 1_020)
        #expect(!s.isIdle(now: 1_030), "paused")
        var h = DeliveryStateTests.state(hold: 1_000)
        h.enqueue(DeliveryStateTests.batch(1), now: 0)
        _ = h.complete(DeliveryStateTests.sent(h.next(now: 0))!, .hold(HoldCause(status: 401, message: "m")), now: 0)
        #expect(!h.isIdle(now: 0), "held")
    }

    /// A held output's probe retries with the full backoff, whatever the budget.
    @Test func aHeldOutputRetriesWithTheFullBackoff() {
        var s = DeliveryStateTests.state(hold: 1_000)
        #expect(s.retryPolicy == s.quickRetryPolicy)
        #expect(s.quickRetryPolicy.base == 500_000_000 / DeliveryState.quickRetryDivisor && s.quickRetryPolicy.cap == s.policy.cap)
        s.enqueue(DeliveryStateTests.batch(1), now: 0)
        _ = s.complete(DeliveryStateTests.sent(s.next(now: 0))!, .hold(HoldCause(status: 401, message: "m")), now: 0)
        #expect(s.retryPolicy == s.policy)
    }

    /// Additive increase: one slot back per `limit` successes in a row, up to `maxInFlight`.
    @Test func successesWinSlotsBackOneAtATime() {
        var s = Self.state(maxInFlight: 4)
        var now: Int64 = 0
        var limits: [Int] = []
        for c in "FSSSSSSSS" {
            now += 100_000_000_000
            s.enqueue(DeliveryStateTests.batch(1), now: now)
            let d = DeliveryStateTests.sent(s.next(now: now))!
            _ = s.complete(d, Self.decision(c), now: now)
            if c == "F" { now += 100_000_000_000; _ = s.complete(DeliveryStateTests.sent(s.next(now: now))!, .delivered, now: now) }
            limits.append(s.limit)
        }
        // F → 2, then its own retry succeeds (1 of 2), S → 3, S S → (2 of 3) … 3, S → 4.
        #expect(limits == [2, 3, 3, 3, 4, 4, 4, 4, 4])
    }

    /// The limit caps requests in flight; a failed batch waits without taking a slot and
    /// without blocking admission, and the batches behind it go first.
    @Test func failedBatchWaitsWithoutHoldingASlot() {
        var s = Self.state(maxInFlight: 2)
        s.enqueue(DeliveryStateTests.batch(1, from: 0), now: 0)
        s.enqueue(DeliveryStateTests.batch(1, from: 1), now: 0)
        let a = DeliveryStateTests.sent(s.next(now: 0))!
        let b = DeliveryStateTests.sent(s.next(now: 0))!
        #expect(!s.mayEnqueue(now: 0) || s.pending.isEmpty)
        _ = s.complete(a, .retry(after: 10_000, cause: .status(503)), now: 10)
        // a waits for 10,010; it does not count against admission.
        #expect(s.mayEnqueue(now: 10))
        s.enqueue(DeliveryStateTests.batch(1, from: 2), now: 10)
        #expect(s.mayEnqueue(now: 10))
        s.enqueue(DeliveryStateTests.batch(1, from: 3), now: 10)
        #expect(!s.mayEnqueue(now: 10))
        // Limit halved to 1 and b still in flight: wait for a completion.
        #expect(s.next(now: 10) == .wait(until: nil))
        _ = s.complete(b, .delivered, now: 20)
        #expect(s.limit == 2)
        let c = DeliveryStateTests.sent(s.next(now: 20))!
        let d = DeliveryStateTests.sent(s.next(now: 20))!
        #expect(c.batch.events[0].start == 2 && d.batch.events[0].start == 3)
        #expect(s.next(now: 20) == .wait(until: nil))
        _ = s.complete(c, .delivered, now: 30)
        _ = s.complete(d, .delivered, now: 30)
        #expect(s.next(now: 30) == .wait(until: 10_010))
        #expect(DeliveryStateTests.sent(s.next(now: 10_010))?.attempt == 1)
    }

    /// While the output is paused, every waiting batch counts against admission: an outage
    /// does not fill memory with closed batches.
    @Test func pausedOutputStopsAdmission() {
        var s = Self.state(maxInFlight: 2)
        for n in 0..<3 { s.enqueue(DeliveryStateTests.batch(1, from: n), now: 0) }
        let a = DeliveryStateTests.sent(s.next(now: 0))!
        let b = DeliveryStateTests.sent(s.next(now: 0))!
        _ = s.complete(a, .retry(after: 5_000, cause: .status(429), retryAfter: 5_000), now: 1)
        // Pending: a (backing off) and the third batch; paused, so both count.
        #expect(!s.mayEnqueue(now: 2))
        #expect(s.next(now: 2) == .wait(until: 5_001))
        _ = s.complete(b, .delivered, now: 3)
        #expect(s.next(now: 3) == .wait(until: 5_001), "a success does not cut a pause the API asked for")
        #expect(DeliveryStateTests.sent(s.next(now: 5_001))?.batch.events[0].start == 0)
    }

    /// A held output (401) probes after `holdRetryInterval` or at SIGHUP, but never before the
    /// probe's own backoff.
    @Test func wakeDuringAHoldRespectsTheProbesBackoff() {
        var s = DeliveryStateTests.state(hold: 1_000)
        s.enqueue(DeliveryStateTests.batch(1), now: 0)
        let cause = HoldCause(status: 401, message: "m")
        _ = s.complete(DeliveryStateTests.sent(s.next(now: 0))!, .hold(cause), now: 0)
        s.wake(now: 5)
        let probe = DeliveryStateTests.sent(s.next(now: 5))!
        _ = s.complete(probe, .retry(after: 50_000, cause: .status(503)), now: 6)
        s.wake(now: 7)
        #expect(s.next(now: 7) == .wait(until: 50_006))
    }
}

@Suite struct LogThrottleTests {
    /// (times of repeated events, which were logged and with how many left out before them)
    static let table: [([Int64], [Int?])] = [
        ([0], [0]),
        ([0, 1, 2, 1_000], [0, nil, nil, 2]),
        ([5, 1_004, 1_005, 2_005], [0, nil, 1, 0]),
        ([0, 999, 1_000, 1_001, 5_000], [0, nil, 1, nil, 1]),
    ]

    @Test(arguments: table.indices)
    func logsOncePerInterval(_ i: Int) {
        var t = LogThrottle(interval: 1_000)
        #expect(Self.table[i].0.map { t.admit(now: $0) } == Self.table[i].1)
    }
}
