import Foundation
import Pipeline
import Runtime
import Synchronization
import Testing
@testable import Ship

/// A shipper wired to a fake transport, a test clock and a temporary dead letter.
final class Harness: Sendable {
    let transport: FakeTransport
    let acks = AckRecorder()
    let clock = TestClock()
    let directory: String
    let deadLetter: DeadLetter
    let shipper: Shipper
    let configuration: ShipConfiguration

    /// `batcherThread: false`: the test batches on a producer thread of its own, as the daemon's mapper does.
    init(_ tweak: (inout ShipConfiguration) -> Void = { _ in }, batcherThread: Bool = true,
         _ script: @escaping FakeTransport.Script) {
        var c = ShipConfiguration()
        c.maxEvents = 10
        c.maxBytes = 10_000
        c.linger = 2_000_000
        c.backoffBase = 1_000_000
        c.backoffCap = 4_000_000
        c.retryAfterCap = 3_000_000
        c.holdRetryInterval = 3_600_000_000_000
        tweak(&c)
        configuration = c
        directory = temporaryDirectory() + "/dead-letter"
        transport = FakeTransport(script)
        deadLetter = DeadLetter(directory: directory)
        shipper = Shipper(
            configuration: c, transport: transport, deadLetter: deadLetter, clock: clock,
            sourcePath: { "/logs/\($0.rawValue).log" }, acknowledge: acks.callback,
            logger: Logger(label: "ship-test"), randomSeed: 7)
        shipper.start(batcherThread: batcherThread)
    }

    func push(_ b: MappedBatch) { shipper.input.push(b) }

    func stop() { shipper.stop(deadline: clock.now() + 5_000_000_000) }

    var deadLetters: [DeadLetterRecord] {
        (try? DeadLetterFile.read(directory + "/dead-letter.ndjson")) ?? []
    }

    /// Every request within the configured limits, as a valid array.
    func checkRequestLimits() {
        let clamped = configuration.clamped()
        for body in transport.bodies {
            #expect(body.count <= clamped.maxBytes)
            #expect(FakeTransport.events(of: body).count <= clamped.maxEvents)
            #expect((try? JSONSerialization.jsonObject(with: Data(body))) is [Any])
        }
    }
}

let ok: Result<TrackResponse, TransportFailure> = .success(TrackResponse(status: 200))

func containsEvent(_ events: [String], _ n: Int) -> Bool { events.contains { $0.hasPrefix(#"{"n":\#(n),"#) || $0 == #"{"n":\#(n)}"# } }

@Suite struct ShipperTests {
    @Test func deliversEventsAndSettlesDropsAndRejections() throws {
        let h = Harness { _, _ in ok }
        var b = mappedBatch(SourceID(1), 0..<25)
        b.others = [
            NonEventRecord(start: 250, end: 260, rejection: nil, lineHead: []),
            NonEventRecord(start: 260, end: 270, rejection: "line 27: missing user_id", lineHead: Array(#"{"msg":"no user"}"#.utf8)),
        ]
        h.push(b)
        h.push(mappedBatch(SourceID(2), 0..<3))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<27)) && h.acks.coversExactly(SourceID(2), lines(0..<3)) })
        h.stop()
        #expect(h.acks.coversExactly(SourceID(1), lines(0..<27)))
        let dl = h.deadLetters
        #expect(dl.count == 1)
        #expect(dl.first?.reason == "line 27: missing user_id" && dl.first?.line == #"{"msg":"no user"}"#)
        #expect(dl.first?.source == "/logs/1.log" && dl.first?.start == 260 && dl.first?.status == nil)
        #expect(h.shipper.counters.snapshot.eventsShipped == 28)
        #expect(h.shipper.counters.snapshot.deadLettered == 1)
        #expect(h.transport.requests.flatMap { $0 }.count == 28)
        #expect(h.shipper.health == .ok)
        h.checkRequestLimits()
    }

    @Test func retries503AndTransportFailuresThenDelivers() {
        let h = Harness { n, _ in
            switch n {
            case 1: .success(TrackResponse(status: 503))
            case 2: .failure(.transient("connection refused"))
            default: ok
            }
        }
        h.push(mappedBatch(SourceID(1), 0..<5))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<5)) })
        h.stop()
        let s = h.shipper.counters.snapshot
        #expect(s.retries5xx == 1 && s.retriesTransport == 1 && s.requests == 3)
        #expect(h.transport.requests == Array(repeating: (0..<5).map { #"{"n":\#($0)}"# }, count: 3))
        #expect(h.deadLetters.isEmpty)
        #expect(h.shipper.health == .ok)
    }

    @Test func honoursRetryAfterOn429() {
        let h = Harness { n, _ in n == 1 ? .success(TrackResponse(status: 429, retryAfter: "1")) : ok }
        h.push(mappedBatch(SourceID(1), 0..<4))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<4)) })
        h.stop()
        #expect(h.shipper.counters.snapshot.retries4xx == 1)
        #expect(h.transport.requestCount == 2)
    }

    @Test(arguments: [(500, 137), (64, 0), (64, 63), (1_000, 999)])
    func isolatesOnePoisonEventCheaply(batch: Int, poison: Int) {
        let h = Harness({ $0.maxEvents = batch; $0.maxBytes = 2_000_000 }) { _, events in
            containsEvent(events, poison)
                ? .success(TrackResponse(status: 400, body: Array(#"{"error":"invalid user_id"}"#.utf8))) : ok
        }
        h.push(mappedBatch(SourceID(3), 0..<batch))
        #expect(eventually { h.acks.coversExactly(SourceID(3), lines(0..<batch)) })
        h.stop()
        let dl = h.deadLetters
        #expect(dl.count == 1)
        #expect(dl.first?.start == Int64(poison) * 10 && dl.first?.status == 400)
        #expect(dl.first?.response == #"{"error":"invalid user_id"}"#)
        #expect(dl.first.flatMap(\.event).map { String(decoding: $0, as: UTF8.self) } == #"{"n":\#(poison)}"#)
        let log2 = Int(Foundation.log2(Double(batch)).rounded(.up))
        #expect(h.transport.requestCount <= 1 + 2 * log2, "requests: \(h.transport.requestCount)")
        let s = h.shipper.counters.snapshot
        #expect(s.eventsShipped == batch - 1 && s.rejected == 1)
        // The poison event went out only in failing requests; every other event was delivered once.
        let delivered = h.transport.requests.filter { !containsEvent($0, poison) }.flatMap { $0 }
        #expect(delivered.count == batch - 1)
        h.checkRequestLimits()
    }

    @Test func holdsOn401ThenDeliversAfterWake() {
        let h = Harness { _, _ in .success(TrackResponse(status: 401, body: Array("unauthorized".utf8))) }
        h.push(mappedBatch(SourceID(1), 0..<20))
        #expect(eventually { h.shipper.health == .degraded("HTTP 401 from the Track API: check the token; holding 20 events") })
        let held = h.transport.requestCount
        #expect(held >= 1 && held <= 2)
        #expect(h.acks.count == 0)
        #expect(h.deadLetters.isEmpty)
        #expect(h.shipper.counters.lastError == "HTTP 401 from the Track API: check the token")
        h.transport.setScript { _, _ in ok }
        h.shipper.wake()
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<20)) })
        #expect(eventually { h.shipper.health == .ok })
        h.stop()
        #expect(h.deadLetters.isEmpty)
    }

    @Test func heldOutputTriesAgainByItself() {
        let h = Harness({ $0.holdRetryInterval = 2_000_000 }) { n, _ in
            n <= 3 ? .success(TrackResponse(status: 404)) : ok
        }
        h.push(mappedBatch(SourceID(1), 0..<5))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<5)) })
        h.stop()
        #expect(h.shipper.counters.snapshot.holds == 3)
        #expect(h.deadLetters.isEmpty)
    }

    /// A batch in a long backoff waits without holding a slot: every later batch is delivered
    /// meanwhile, and SIGHUP (`wake`) does not cut its backoff short (issue 11 item 6).
    @Test func aBatchInBackoffDoesNotHoldUpTheOthersNorWakesAtSIGHUP() {
        let h = Harness({ $0.backoffBase = 3_600_000_000_000; $0.backoffCap = 3_600_000_000_000 }) { n, _ in
            n == 1 ? .failure(.transient("connection reset")) : ok
        }
        h.push(mappedBatch(SourceID(1), 0..<10))
        #expect(eventually { h.shipper.counters.snapshot.retriesTransport == 1 })
        for _ in 0..<50 { h.shipper.wake() }
        for chunk in stride(from: 10, to: 200, by: 10) { h.push(mappedBatch(SourceID(1), chunk..<(chunk + 10))) }
        #expect(eventually { (10..<200).allSatisfy { h.acks.contains(SourceID(1), Int64($0) * 10) } })
        for _ in 0..<50 { h.shipper.wake() }
        #expect(h.transport.requestCount == 20, "19 batches once, the failed one once: \(h.transport.requestCount)")
        #expect(!h.acks.contains(SourceID(1), 0))
        h.shipper.stop(deadline: h.clock.now() + 20_000_000)
        #expect(h.transport.requestCount == 20)
        #expect(!h.acks.contains(SourceID(1), 0))
    }

    /// Retry-After pauses the whole output, and `/health` says for how long.
    @Test func retryAfterPauseShowsInHealth() {
        let h = Harness({ $0.retryAfterCap = 3_600_000_000_000 }) { n, _ in
            n == 1 ? .success(TrackResponse(status: 503, retryAfter: "120")) : ok
        }
        h.push(mappedBatch(SourceID(1), 0..<5))
        #expect(eventually { h.shipper.counters.snapshot.retries5xx == 1 })
        let health = h.shipper.health
        #expect(health == .degraded("HTTP 503 from the Track API; retrying, all sending paused for 120 s, 5 events waiting")
                || health == .degraded("HTTP 503 from the Track API; retrying, all sending paused for 119 s, 5 events waiting"), "\(health)")
        h.push(mappedBatch(SourceID(1), 5..<30))
        #expect(eventually { h.shipper.input.isEmpty })
        // Nothing else is sent meanwhile, although 25 more events are ready.
        #expect(h.transport.requestCount == 1)
        h.shipper.stop(deadline: h.clock.now() + 20_000_000)
        #expect(h.transport.requestCount == 1 && h.acks.count == 0)
    }

    /// 5% of requests answered 503 (every 20th): every line delivered once, and the only extra
    /// requests are the retries of the failed ones.
    @Test func fivePercent503CostsOnlyTheRetries() {
        let h = Harness({ $0.maxInFlight = 2 }) { n, _ in n % 20 == 0 ? .success(TrackResponse(status: 503)) : ok }
        for chunk in stride(from: 0, to: 4_000, by: 100) { h.push(mappedBatch(SourceID(1), chunk..<(chunk + 100))) }
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<4_000)) })
        h.stop()
        let s = h.shipper.counters.snapshot
        // 400 batches of 10; every 20th request fails once more.
        #expect(s.eventsShipped == 4_000)
        #expect(s.requests == 400 + s.retries5xx && s.retries5xx >= 20 && s.retries5xx <= 22, "\(s)")
        #expect(h.transport.requests.flatMap { $0 }.count == 4_000 + 10 * s.retries5xx)
        h.checkRequestLimits()
    }

    @Test func holdsOnConfigurationFailure() {
        let h = Harness { _, _ in .failure(.configuration("certificate verify failed")) }
        h.push(mappedBatch(SourceID(1), 0..<3))
        #expect(eventually {
            if case .degraded(let why) = h.shipper.health { return why.contains("certificate verify failed") }
            return false
        })
        #expect(h.acks.count == 0)
        h.transport.setScript { _, _ in ok }
        h.shipper.wake()
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<3)) })
        h.stop()
    }

    @Test func splitsOn413AndDeadLettersASingleTooLargeEvent() {
        let h = Harness { _, events in
            if events.count > 3 || containsEvent(events, 7) { return .success(TrackResponse(status: 413)) }
            return ok
        }
        h.push(mappedBatch(SourceID(1), 0..<10))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<10)) })
        h.stop()
        let dl = h.deadLetters
        #expect(dl.map(\.start) == [70])
        #expect(dl.first?.status == 413)
        #expect(h.shipper.counters.snapshot.eventsShipped == 9)
        #expect(h.transport.requests.allSatisfy { $0.count <= 10 })
    }

    @Test func oversizedEventIsDeadLetteredAndNeverSent() {
        let h = Harness({ $0.maxBytes = 200 }) { _, _ in ok }
        var b = mappedBatch(SourceID(1), 0..<3)
        let big = mappedBatch(SourceID(1), 3..<4, padding: 300)
        b.events.append(EventRecord(byteStart: b.eventBytes.count, byteEnd: b.eventBytes.count + big.eventBytes.count, start: 30, end: 40))
        b.eventBytes += big.eventBytes
        let small = mappedBatch(SourceID(1), 4..<6)
        for e in small.events {
            b.events.append(EventRecord(byteStart: b.eventBytes.count + e.byteStart, byteEnd: b.eventBytes.count + e.byteEnd, start: e.start, end: e.end))
        }
        b.eventBytes += small.eventBytes
        h.push(b)
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<6)) })
        h.stop()
        let dl = h.deadLetters
        #expect(dl.count == 1)
        #expect(dl.first?.start == 30 && dl.first?.status == nil)
        #expect(dl.first?.reason == "event of \(big.eventBytes.count) bytes exceeds the batch limit of 200")
        #expect(dl.first?.event == big.eventBytes)
        #expect(!h.transport.requests.flatMap { $0 }.contains { $0.hasPrefix(#"{"n":3,"#) })
        #expect(h.transport.requests.flatMap { $0 }.count == 5)
        h.checkRequestLimits()
    }

    @Test func stopFlushesTheOpenBatch() {
        let h = Harness({ $0.linger = 3_600_000_000_000 }) { _, _ in ok }
        h.push(mappedBatch(SourceID(1), 0..<4))
        #expect(eventually { h.shipper.input.isEmpty })
        h.stop()
        #expect(h.acks.coversExactly(SourceID(1), lines(0..<4)))
    }

    @Test func stopAtTheDeadlineLeavesUndeliveredUnacknowledged() {
        let h = Harness({ $0.backoffBase = 3_600_000_000_000; $0.backoffCap = 3_600_000_000_000 }) { _, _ in
            .success(TrackResponse(status: 503))
        }
        h.push(mappedBatch(SourceID(1), 0..<4))
        #expect(eventually { h.transport.requestCount >= 1 })
        h.shipper.stop(deadline: h.clock.now() + 20_000_000)
        #expect(h.acks.count == 0)
        #expect(h.deadLetters.isEmpty)
        if case .degraded(let why) = h.shipper.health {
            #expect(why.hasPrefix("HTTP 503 from the Track API; retrying"))
        } else {
            Issue.record("health should be degraded while retrying")
        }
    }

    @Test func stopAbandonsARequestStuckInTheTransport() {
        let release = DispatchSemaphore(value: 0)
        let answered = Atomic<Bool>(false)
        let h = Harness { _, _ in
            release.wait()
            answered.store(true, ordering: .relaxed)
            return ok
        }
        h.push(mappedBatch(SourceID(1), 0..<4))
        #expect(eventually { h.transport.requestCount == 1 })
        h.shipper.stop(deadline: h.clock.now() + 20_000_000)
        release.signal()
        #expect(eventually { answered.load(ordering: .relaxed) })
        usleep(5_000)
        #expect(h.acks.count == 0)  // its answer came after the stop: ignored, sent again after a restart
    }

    @Test func lingerClosesAPartialBatch() {
        let h = Harness { _, _ in ok }
        h.push(mappedBatch(SourceID(1), 0..<3))
        #expect(eventually { h.acks.coversExactly(SourceID(1), lines(0..<3)) })
        #expect(h.transport.requests.map(\.count) == [3])
        h.stop()
    }

    /// The daemon's mapper batches on its own thread (`start(batcherThread: false)`): full
    /// batches leave at once, a partial one on linger time while the producer waits for input,
    /// and `finish` sends the last one and lets the senders end.
    @Test func aProducerBatchesOnItsOwnThread() {
        let h = Harness({ $0.linger = 20_000_000 }, batcherThread: false) { _, _ in ok }
        let (shipper, transport, acks, clock) = (h.shipper, h.transport, h.acks, h.clock)
        let queue = BlockingQueue<MappedBatch>(capacity: 4)
        let finished = Atomic<Bool>(false)
        let producer = Thread {
            let heartbeat = Heartbeats.shared.register("test-producer")
            let batcher = shipper.makeBatcher()
            while let b = batcher.next(from: queue, beating: heartbeat) { batcher.add(b, beating: heartbeat) }
            batcher.finish(beating: heartbeat)
            heartbeat.retire()
            finished.store(true, ordering: .relaxed)
        }
        producer.start()
        queue.push(mappedBatch(SourceID(1), 0..<23))
        // Two full batches at once, the 3 left on linger time while the producer waits.
        #expect(eventually { acks.coversExactly(SourceID(1), lines(0..<23)) })
        #expect(transport.requests.map(\.count) == [10, 10, 3])
        queue.push(mappedBatch(SourceID(1), 23..<25))
        queue.close()
        #expect(eventually { finished.load(ordering: .relaxed) && acks.coversExactly(SourceID(1), lines(0..<25)) })
        shipper.stop(deadline: clock.now() + 5_000_000_000)
        #expect(transport.requests.map(\.count) == [10, 10, 3, 2])
        #expect(shipper.input.isEmpty)
    }

    /// The reader's caught-up marker lets an idle output take the open batch at once, long
    /// before `linger` and `idleLinger` (an hour and 50 minutes here).
    @Test func aCaughtUpInputSendsTheOpenBatchAtOnce() {
        let h = Harness({ $0.linger = 3_600_000_000_000; $0.idleLinger = 3_000_000_000_000 }, batcherThread: false) { _, _ in ok }
        let (shipper, transport, acks, clock) = (h.shipper, h.transport, h.acks, h.clock)
        let queue = BlockingQueue<LineBatch>(capacity: 4)
        let producer = Thread {
            let heartbeat = Heartbeats.shared.register("test-mapper")
            let batcher = shipper.makeBatcher()
            while let b = batcher.next(from: queue, beating: heartbeat) {
                if b.caughtUp { batcher.inputCaughtUp(beating: heartbeat); continue }
                batcher.add(mappedBatch(b.source, Int(b.lines[0].start)..<Int(b.lines[0].end)), beating: heartbeat)
            }
            batcher.finish(beating: heartbeat)
            heartbeat.retire()
        }
        producer.start()
        queue.push(LineBatch(source: SourceID(1), lines: [LineRecord(textStart: 0, textEnd: 0, start: 0, end: 13)]))
        // The first 10 fill a batch; the other 3 wait (for 50 minutes at least).
        #expect(eventually { transport.requestCount == 1 })
        queue.push(.caughtUpMarker)
        #expect(eventually { acks.coversExactly(SourceID(1), lines(0..<13)) })
        #expect(transport.requests.map(\.count) == [10, 3])
        queue.close()
        shipper.stop(deadline: clock.now() + 5_000_000_000)
    }

    @Test func manySourcesConcurrentRequestsEveryLineOnce() {
        let h = Harness({ $0.maxInFlight = 4; $0.maxEvents = 7 }) { n, events in
            if n % 5 == 0 { return .success(TrackResponse(status: 502)) }
            if containsEvent(events, 42) { return .success(TrackResponse(status: 422)) }
            return ok
        }
        for s in 0..<6 {
            for chunk in stride(from: 0, to: 100, by: 25) { h.push(mappedBatch(SourceID(UInt32(s)), chunk..<(chunk + 25))) }
        }
        #expect(eventually { (0..<6).allSatisfy { h.acks.coversExactly(SourceID(UInt32($0)), lines(0..<100)) } })
        h.stop()
        #expect(Set(h.deadLetters.map(\.source)) == Set((0..<6).map { "/logs/\($0).log" }))
        #expect(h.deadLetters.allSatisfy { $0.start == 420 && $0.status == 422 })
        #expect(h.shipper.counters.snapshot.eventsShipped == 6 * 99)
        h.checkRequestLimits()
    }
}
