import Pipeline
import Tail
import Testing

/// Issue 11 item 5: with thousands of files, slots are freed several at a time, so that the
/// search for idle files runs once per `reserve` files opened (it was once per file: quadratic).
struct ReserveCase: Sendable, CustomTestStringConvertible {
    var name: String
    var open: Int
    var held: Int
    var idle: [UInt32]
    var reserve: Int
    var evict: [UInt32]
    var granted: Bool
    var testDescription: String { name }
}

/// `max_open_files` = 8; candidates idle since their id (lower = longer).
@Test(arguments: [
    ReserveCase(name: "room: nothing evicted", open: 7, held: 0, idle: [1, 2, 3], reserve: 4, evict: [], granted: true),
    ReserveCase(name: "full: reserve evicted at once, longest idle first", open: 8, held: 0, idle: [5, 1, 3, 2, 4, 6], reserve: 4,
                evict: [1, 2, 3, 4], granted: true),
    ReserveCase(name: "full, fewer idle than the reserve: those", open: 8, held: 0, idle: [7, 6], reserve: 4, evict: [6, 7], granted: true),
    ReserveCase(name: "reserve 1: one, as before", open: 8, held: 0, idle: [3, 1, 2], reserve: 1, evict: [1], granted: true),
    ReserveCase(name: "held count too", open: 6, held: 2, idle: [9, 8], reserve: 2, evict: [8, 9], granted: true),
    ReserveCase(name: "nothing idle: wait", open: 8, held: 0, idle: [], reserve: 4, evict: [], granted: false),
])
func openFileSlotsWithReserve(_ c: ReserveCase) {
    let plan = FileDecisions.slot(open: c.open, held: c.held, limit: 8, candidates: c.idle.map { (id: SourceID($0), idleSince: Int64($0)) },
                                  reserve: c.reserve)
    #expect(plan.evict == c.evict.map(SourceID.init))
    #expect(plan.granted == c.granted)
}
