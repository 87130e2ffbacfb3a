import Pipeline
import Testing
@testable import Ship

struct BatchBuilderCase: CustomTestStringConvertible, Sendable {
    var name: String
    var maxEvents: Int
    var maxBytes: Int
    var sizes: [Int]
    var closed: [Int]
    var oversized: [Int]
    var open: Int
    var testDescription: String { name }
}

/// A JSON string event of exactly `size` bytes.
func event(_ size: Int, _ tag: Int) -> [UInt8] {
    let body = String(tag) + String(repeating: "x", count: max(0, size - 2 - String(tag).count))
    return Array("\"\(body)\"".utf8)
}

@Suite struct BatchBuilderTests {
    static let cases: [BatchBuilderCase] = [
        .init(name: "closes on count", maxEvents: 3, maxBytes: 1_000, sizes: Array(repeating: 10, count: 7), closed: [3, 3], oversized: [], open: 1),
        .init(name: "exact byte fit keeps both", maxEvents: 10, maxBytes: 23, sizes: [10, 10, 10], closed: [2], oversized: [], open: 1),
        .init(name: "one byte over closes", maxEvents: 10, maxBytes: 22, sizes: [10, 10, 10], closed: [1, 1], oversized: [], open: 1),
        .init(name: "oversized is set aside", maxEvents: 10, maxBytes: 20, sizes: [5, 19, 5], closed: [], oversized: [1], open: 2),
        .init(name: "event exactly at the limit fits alone", maxEvents: 10, maxBytes: 20, sizes: [5, 18], closed: [1], oversized: [], open: 1),
        .init(name: "maxEvents 1 closes every event", maxEvents: 1, maxBytes: 100, sizes: [3, 3], closed: [1, 1], oversized: [], open: 0),
        .init(name: "only oversized events", maxEvents: 5, maxBytes: 10, sizes: [9, 100], closed: [], oversized: [0, 1], open: 0),
        .init(name: "count and bytes mixed", maxEvents: 3, maxBytes: 40, sizes: [10, 10, 10, 30, 5, 5, 5], closed: [3, 2], oversized: [], open: 2),
    ]

    @Test(arguments: cases)
    func decisions(_ c: BatchBuilderCase) {
        var b = BatchBuilder(maxEvents: c.maxEvents, maxBytes: c.maxBytes, linger: 1_000)
        var closed: [OutgoingBatch] = []
        var oversized: [Int] = []
        for (i, s) in c.sizes.enumerated() {
            switch b.add(event(s, i), source: SourceID(1), start: Int64(i), end: Int64(i + 1), now: 0) {
            case .added: break
            case .closed(let bs): closed += bs
            case .oversized(let bytes, let limit):
                #expect(bytes == s && limit == c.maxBytes)
                oversized.append(i)
            }
        }
        #expect(closed.map(\.count) == c.closed)
        #expect(oversized == c.oversized)
        #expect(b.open.count == c.open)
        // Every closed body is a valid array within the limits, holding the events in order.
        var next = 0
        for batch in closed {
            #expect(batch.body.count <= c.maxBytes)
            #expect(batch.body.last == UInt8(ascii: "]"))
            let texts = FakeTransport.events(of: batch.body)
            #expect(texts.count == batch.count)
            for (k, e) in batch.events.enumerated() {
                while oversized.contains(next) { next += 1 }
                #expect(Array(batch.json(of: e)) == event(c.sizes[next], next))
                #expect(texts[k] == String(decoding: event(c.sizes[next], next), as: UTF8.self))
                #expect(e.start == Int64(next))
                next += 1
            }
        }
    }

    @Test func lingerCountsFromTheFirstEvent() {
        var b = BatchBuilder(maxEvents: 10, maxBytes: 1_000, linger: 50)
        #expect(b.lingerDeadline == nil)
        #expect(b.closeIfLingered(now: 1_000) == nil)
        _ = b.add(event(5, 0), source: SourceID(1), start: 0, end: 1, now: 100)
        _ = b.add(event(5, 1), source: SourceID(1), start: 1, end: 2, now: 140)
        #expect(b.lingerDeadline == 150)
        #expect(b.closeIfLingered(now: 149) == nil)
        let closed = b.closeIfLingered(now: 150)
        #expect(closed?.count == 2)
        #expect(b.lingerDeadline == nil)
        _ = b.add(event(5, 2), source: SourceID(1), start: 2, end: 3, now: 300)
        #expect(b.lingerDeadline == 350)
        #expect(b.flush()?.count == 1)
        #expect(b.flush() == nil)
    }

    /// (idle linger, output idle, input caught up, now) for a batch opened at 100 with linger 50: closed?
    static let idleLingerTable: [(Int64?, Bool, Bool, Int64, Bool)] = [
        (10, true, false, 109, false),
        (10, true, false, 110, true),
        (10, false, false, 110, false),
        (10, false, false, 149, false),
        (10, false, false, 150, true),
        (nil, true, false, 110, false),   // no idle linger: linger alone
        (nil, true, false, 150, true),
        (500, true, false, 149, false),   // cut to linger
        (500, true, false, 150, true),
        (0, true, false, 100, true),
        // The input caught up: an idle output takes the batch at once, a busy one does not.
        (10, true, true, 100, true),
        (49, true, true, 101, true),
        (10, false, true, 109, false),
        (10, false, true, 149, false),
        (10, false, true, 150, true),
        // idle linger = linger: no early closing at all.
        (nil, true, true, 100, false),
        (50, true, true, 149, false),
        (50, true, true, 150, true),
    ]

    @Test(arguments: idleLingerTable.indices)
    func anIdleOutputTakesTheBatchEarly(_ i: Int) {
        let (idleLinger, idle, caughtUp, now, closes) = Self.idleLingerTable[i]
        var b = BatchBuilder(maxEvents: 10, maxBytes: 1_000, linger: 50, idleLinger: idleLinger)
        #expect(b.closeIfLingered(now: now, outputIdle: idle, inputCaughtUp: caughtUp) == nil, "nothing open")
        _ = b.add(event(5, 0), source: SourceID(1), start: 0, end: 1, now: 100)
        #expect(b.lingerDeadline == 150)
        #expect(b.lingerDeadline(outputIdle: idle) == 100 + (idle ? min(50, idleLinger ?? 50) : 50))
        #expect((b.closeIfLingered(now: now, outputIdle: idle, inputCaughtUp: caughtUp) != nil) == closes)
    }

    @Test func configurationIsClampedToTheAPILimits() {
        var c = ShipConfiguration()
        c.maxEvents = 5_000
        c.maxBytes = 9_000_000
        let b = BatchBuilder(configuration: c)
        #expect(b.maxEvents == 1_000)
        #expect(b.maxBytes == 2_000_000)
        #expect(BatchBuilder(configuration: ShipConfiguration()).maxEvents == 500)
    }

    @Test func halvesKeepEventsAndRanges() {
        var b = BatchBuilder(maxEvents: 5, maxBytes: 1_000, linger: 0)
        var closed: OutgoingBatch?
        for i in 0..<5 {
            if case .closed(let bs) = b.add(event(6, i), source: SourceID(UInt32(i % 2)), start: Int64(i), end: Int64(i + 1), now: 0) { closed = bs.first }
        }
        let batch = try! #require(closed)
        let (l, r) = batch.halves()
        #expect(l.count == 2 && r.count == 3)
        #expect(FakeTransport.events(of: l.body) + FakeTransport.events(of: r.body) == FakeTransport.events(of: batch.body))
        #expect((l.events + r.events).map(\.start) == [0, 1, 2, 3, 4])
        #expect((l.events + r.events).map(\.source) == batch.events.map(\.source))
        #expect(l.body.count + r.body.count == batch.body.count + 1)  // one comma fewer, one bracket pair more
    }

    @Test(arguments: [
        (closed: 134_400, maxBytes: 1_000_000, reserved: 139_624),
        (closed: 990_000, maxBytes: 1_000_000, reserved: 1_000_000),
        (closed: 1_000_000, maxBytes: 1_000_000, reserved: 1_000_000),
        (closed: 8, maxBytes: 1_000_000, reserved: 1_032),
        (closed: 0, maxBytes: 1_000_000, reserved: 1_024),
        (closed: 500, maxBytes: 600, reserved: 600),
    ])
    func nextBodyHasALittleMoreRoom(_ c: (closed: Int, maxBytes: Int, reserved: Int)) {
        #expect(BatchBuilder.nextBodyReservation(closedBytes: c.closed, maxBytes: c.maxBytes) == c.reserved)
    }

    /// A batch a little larger than the one before fills its reserved body without growing it:
    /// the body's capacity stays what was reserved (growing would at least double it).
    @Test func aSlightlyLargerBatchDoesNotDoubleItsBody() {
        var b = BatchBuilder(maxEvents: 100, maxBytes: 1_000_000, linger: 0)
        for i in 0..<100 { _ = b.add(event(300, i), source: SourceID(1), start: Int64(i), end: Int64(i + 1), now: 0) }
        let reserved = b.open.body.capacity
        #expect(reserved >= 30_101 + 30_101 / 32 + 1_024)
        var closed: OutgoingBatch?
        for i in 0..<100 {
            if case .closed(let bs) = b.add(event(305, i), source: SourceID(1), start: Int64(i), end: Int64(i + 1), now: 0) { closed = bs.first }
        }
        let second = try! #require(closed)
        #expect(second.body.count > 30_101)
        #expect(second.body.capacity == reserved)
    }
}
