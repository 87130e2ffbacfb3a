import Pipeline
import Testing
@testable import Ship

@Suite struct ResponsePlanTests {
    enum Expect: Equatable, Sendable { case delivered, split, deadLetter(Int), retry(String), hold(Int?) }

    static func decide(_ n: Int, _ outcome: DeliveryOutcome) -> Expect {
        var r = FixedRandom(value: 0)
        switch ResponsePlan.decide(eventCount: n, outcome: outcome, attempt: 0, policy: RetryPolicy(), wallNow: 0, random: &r) {
        case .delivered: return .delivered
        case .split: return .split
        case .deadLetter(let s, _): return .deadLetter(s)
        case .retry(_, let cause, _): return .retry(cause.statusClass)
        case .hold(let h): return .hold(h.status)
        }
    }

    static let statusTable: [(Int, Int, Expect)] = [
        (200, 10, .delivered), (202, 1, .delivered), (204, 10, .delivered),
        (400, 10, .split), (400, 2, .split), (400, 1, .deadLetter(400)),
        (422, 10, .split), (422, 1, .deadLetter(422)),
        (413, 10, .split), (413, 1, .deadLetter(413)),
        (408, 10, .retry("4xx")), (425, 1, .retry("4xx")), (429, 10, .retry("4xx")),
        (500, 10, .retry("5xx")), (502, 1, .retry("5xx")), (503, 10, .retry("5xx")), (504, 10, .retry("5xx")),
        (401, 10, .hold(401)), (403, 1, .hold(403)), (404, 10, .hold(404)), (405, 10, .hold(405)),
        (409, 10, .hold(409)), (418, 1, .hold(418)), (451, 10, .hold(451)),
        (501, 10, .hold(501)), (301, 10, .hold(301)), (100, 10, .hold(100)),
    ]

    @Test(arguments: statusTable.indices)
    func statuses(_ i: Int) {
        let (status, events, expected) = Self.statusTable[i]
        #expect(Self.decide(events, .response(TrackResponse(status: status))) == expected, "HTTP \(status) for \(events) events")
    }

    @Test func transportFailures() {
        #expect(Self.decide(10, .failure(.transient("connection refused"))) == .retry("transport"))
        #expect(Self.decide(1, .failure(.transient("timed out"))) == .retry("transport"))
        #expect(Self.decide(10, .failure(.configuration("certificate verify failed"))) == .hold(nil))
    }

    @Test func retryAfterSetsTheDelay() {
        var r = FixedRandom(value: 0)
        let d = ResponsePlan.decide(eventCount: 5, outcome: .response(TrackResponse(status: 429, retryAfter: "7")),
                                    attempt: 3, policy: RetryPolicy(), wallNow: 0, random: &r)
        #expect(d == .retry(after: 7_000_000_000, cause: .status(429), retryAfter: 7_000_000_000))
    }

    static let holdMessages: [(Int, String, String)] = [
        (401, "https://api.example/api/track", "HTTP 401 from the Track API: check the token"),
        (404, "https://api.example/api/trak", "HTTP 404 from the Track API at https://api.example/api/trak: check output.url"),
        (404, "", "HTTP 404 from the Track API: check output.url"),
        (301, "http://127.0.0.1:9/x", "HTTP 301 from the Track API at http://127.0.0.1:9/x: check output.url (redirects are not followed)"),
        (403, "u", "HTTP 403 from the Track API: the token is not allowed to send events; check the token and its scope"),
        (501, "u", "HTTP 501 from the Track API: the server failed in an unexpected way"),
        (409, "u", "HTTP 409 from the Track API: the request was refused; check the output configuration"),
    ]

    @Test(arguments: holdMessages.indices)
    func holdMessagesNameTheStatusAndTheURLWhenItIsTheFault(_ i: Int) {
        let (status, url, message) = Self.holdMessages[i]
        #expect(ResponsePlan.holdMessage(status: status, destination: url) == message)
        var r = FixedRandom(value: 0)
        let d = ResponsePlan.decide(eventCount: 3, outcome: .response(TrackResponse(status: status)), attempt: 0,
                                    policy: RetryPolicy(), wallNow: 0, random: &r, destination: url)
        #expect(d == .hold(HoldCause(status: status, message: message)))
    }
}

@Suite struct DeliveryStateTests {
    static func batch(_ n: Int, from: Int = 0) -> OutgoingBatch {
        var b = BatchBuilder(maxEvents: 1_000, maxBytes: 100_000, linger: 0)
        for i in from..<(from + n) { _ = b.add(event(8, i), source: SourceID(1), start: Int64(i), end: Int64(i + 1), now: 0) }
        return b.flush()!
    }

    /// A state with a hold interval (and otherwise the defaults: 2 in flight, 0.5 s … 60 s backoff).
    static func state(hold: Int64 = 60_000_000_000, maxInFlight: Int = 2) -> DeliveryState {
        var c = ShipConfiguration()
        c.holdRetryInterval = hold
        c.maxInFlight = maxInFlight
        return DeliveryState(configuration: c)
    }

    static func sent(_ next: DeliveryState.Next) -> Delivery? {
        if case .send(let d) = next { return d }
        return nil
    }

    @Test func fifoAndFinished() {
        var s = DeliveryState()
        s.enqueue(Self.batch(2), now: 0)
        s.enqueue(Self.batch(3, from: 2), now: 0)
        let a = Self.sent(s.next(now: 0))
        let b = Self.sent(s.next(now: 0))
        #expect(a?.batch.count == 2 && b?.batch.count == 3)
        #expect(s.next(now: 0) == .wait(until: nil))
        #expect(s.complete(a!, .delivered, now: 0).delivered.map(\.start) == [0, 1])
        s.closeInput()
        #expect(s.next(now: 0) == .wait(until: nil))  // b still in flight
        _ = s.complete(b!, .delivered, now: 0)
        #expect(s.next(now: 0) == .finished)
    }

    @Test func retryWaitsForItsTimeAndCountsAttempts() {
        var s = DeliveryState()
        s.enqueue(Self.batch(4), now: 0)
        let d = Self.sent(s.next(now: 0))!
        let c = s.complete(d, .retry(after: 500, cause: .status(503)), now: 100)
        #expect(c.delivered.isEmpty && c.deadLetter == nil)
        #expect(s.retrying == .status(503))
        #expect(s.next(now: 599) == .wait(until: 600))
        let again = Self.sent(s.next(now: 600))
        #expect(again?.attempt == 1 && again?.batch == d.batch)
        let done = s.complete(again!, .delivered, now: 700)
        #expect(done.recovered && s.retrying == nil)
    }

    @Test func splitHalvesGoFirst() {
        var s = DeliveryState()
        s.enqueue(Self.batch(4), now: 0)
        let d = Self.sent(s.next(now: 0))!
        s.enqueue(Self.batch(1, from: 100), now: 0)
        _ = s.complete(d, .split, now: 10)
        #expect(s.pending.map(\.batch.count) == [2, 2, 1])
        let first = Self.sent(s.next(now: 10))!
        #expect(first.batch.events.map(\.start) == [0, 1])
        _ = s.complete(first, .delivered, now: 10)
        let second = Self.sent(s.next(now: 10))!
        _ = s.complete(second, .split, now: 10)
        let one = Self.sent(s.next(now: 10))!
        let c = s.complete(one, .deadLetter(status: 400, reason: "x"), now: 10)
        #expect(c.deadLetter?.start == 2)
    }

    @Test func holdProbesOnceThenWaitsAndWakeEndsTheWait() {
        var s = Self.state(hold: 1_000)
        s.enqueue(Self.batch(2), now: 0)
        s.enqueue(Self.batch(2, from: 2), now: 0)
        let a = Self.sent(s.next(now: 0))!
        let b = Self.sent(s.next(now: 0))!
        let cause = HoldCause(status: 401, message: ResponsePlan.holdMessage(status: 401))
        let c1 = s.complete(a, .hold(cause), now: 5)
        #expect(c1.holdStarted == cause && c1.delivered.isEmpty && c1.deadLetter == nil)
        let c2 = s.complete(b, .hold(cause), now: 6)
        #expect(c2.holdStarted == nil)  // logged once
        #expect(s.pendingEvents == 4)
        #expect(s.next(now: 500) == .wait(until: 1_006))
        // Time to try again: one probe only.
        let probe = Self.sent(s.next(now: 1_006))!
        #expect(s.next(now: 1_006) == .wait(until: nil))
        _ = s.complete(probe, .hold(cause), now: 1_010)
        #expect(s.next(now: 1_011) == .wait(until: 2_010))
        // SIGHUP: try at once.
        s.wake(now: 1_020)
        let woken = Self.sent(s.next(now: 1_020))!
        let c3 = s.complete(woken, .delivered, now: 1_030)
        #expect(c3.recovered && s.hold == nil)
        #expect(Self.sent(s.next(now: 1_030)) != nil)
    }

    /// SIGHUP (issue 11 item 6): a backoff and a `Retry-After` keep running; only a hold ends.
    @Test func wakeLeavesBackoffAndRetryAfterWaiting() {
        var s = DeliveryState()
        s.enqueue(Self.batch(1), now: 0)
        let d = Self.sent(s.next(now: 0))!
        _ = s.complete(d, .retry(after: 60_000, cause: .transport("refused")), now: 0)
        #expect(s.next(now: 10) == .wait(until: 60_000))
        for t in stride(from: Int64(10), to: 60, by: 1) { s.wake(now: t) }
        #expect(s.next(now: 60) == .wait(until: 60_000))
        // Retry-After 20 s: the whole output pauses, and SIGHUPs do not shorten it.
        var r = DeliveryState()
        r.enqueue(Self.batch(1), now: 0)
        r.enqueue(Self.batch(1, from: 1), now: 0)
        let a = Self.sent(r.next(now: 0))!
        _ = r.complete(a, .retry(after: 20_000, cause: .status(503), retryAfter: 20_000), now: 0)
        for t in stride(from: Int64(1), to: 51, by: 1) { r.wake(now: t) }
        #expect(r.next(now: 50) == .wait(until: 20_000))
        #expect(Self.sent(r.next(now: 20_000))?.batch.events.first?.start == 0)
    }

    @Test func transientFailureOfAProbeKeepsTheHold() {
        var s = Self.state(hold: 1_000)
        s.enqueue(Self.batch(1), now: 0)
        let cause = HoldCause(status: 403, message: "m")
        _ = s.complete(Self.sent(s.next(now: 0))!, .hold(cause), now: 0)
        let probe = Self.sent(s.next(now: 1_000))!
        _ = s.complete(probe, .retry(after: 5_000, cause: .status(503)), now: 1_000)
        #expect(s.hold == cause)
        #expect(s.next(now: 1_001) == .wait(until: 6_000))
        let again = Self.sent(s.next(now: 6_000))!
        #expect(again.attempt == 1)
        #expect(s.complete(again, .delivered, now: 6_001).recovered && s.hold == nil && s.retrying == nil)
    }

    @Test func heldAndClosedStillWaitsForTheHold() {
        var s = Self.state(hold: 1_000)
        s.enqueue(Self.batch(1), now: 0)
        let d = Self.sent(s.next(now: 0))!
        _ = s.complete(d, .hold(HoldCause(status: 401, message: "m")), now: 0)
        s.closeInput()
        #expect(s.next(now: 10) == .wait(until: 1_000))
    }
}
