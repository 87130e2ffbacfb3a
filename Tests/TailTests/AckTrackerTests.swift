import Pipeline
import Testing

struct AckCase: CustomTestStringConvertible, Sendable {
    var name: String
    var base: Int64
    var marks: [(Int64, Int64)]
    var checkpoint: Int64
    var gaps: Int
    var added: Int64
    var testDescription: String { name }
}

let ackCases: [AckCase] = [
    AckCase(name: "in order", base: 0, marks: [(0, 10), (10, 25), (25, 30)], checkpoint: 30, gaps: 0, added: 30),
    AckCase(name: "reverse order", base: 0, marks: [(25, 30), (10, 25), (0, 10)], checkpoint: 30, gaps: 0, added: 30),
    AckCase(name: "gap stays", base: 0, marks: [(0, 10), (20, 30)], checkpoint: 10, gaps: 1, added: 20),
    AckCase(name: "two gaps", base: 0, marks: [(10, 20), (30, 40)], checkpoint: 0, gaps: 2, added: 20),
    AckCase(name: "gap filled last", base: 0, marks: [(10, 20), (30, 40), (20, 30), (0, 10)], checkpoint: 40, gaps: 0, added: 40),
    AckCase(name: "non-zero base", base: 100, marks: [(100, 150)], checkpoint: 150, gaps: 0, added: 50),
    AckCase(name: "before base ignored", base: 100, marks: [(0, 50), (50, 100)], checkpoint: 100, gaps: 0, added: 0),
    AckCase(name: "straddling base", base: 100, marks: [(90, 120)], checkpoint: 120, gaps: 0, added: 20),
    AckCase(name: "duplicate", base: 0, marks: [(0, 10), (0, 10)], checkpoint: 10, gaps: 0, added: 10),
    AckCase(name: "duplicate pending", base: 0, marks: [(10, 20), (10, 20)], checkpoint: 0, gaps: 1, added: 10),
    AckCase(name: "overlap pending", base: 0, marks: [(10, 20), (15, 30)], checkpoint: 0, gaps: 1, added: 20),
    AckCase(name: "overlap bridging two", base: 0, marks: [(10, 20), (30, 40), (15, 35)], checkpoint: 0, gaps: 1, added: 30),
    AckCase(name: "range covering pendings", base: 0, marks: [(10, 20), (30, 40), (0, 50)], checkpoint: 50, gaps: 0, added: 50),
    AckCase(name: "empty range", base: 0, marks: [(5, 5)], checkpoint: 0, gaps: 0, added: 0),
    AckCase(name: "inverted range", base: 0, marks: [(9, 3)], checkpoint: 0, gaps: 0, added: 0),
    AckCase(name: "touching pendings merge", base: 0, marks: [(10, 20), (20, 30)], checkpoint: 0, gaps: 1, added: 20),
    AckCase(name: "inside existing", base: 0, marks: [(10, 40), (15, 20)], checkpoint: 0, gaps: 1, added: 30),
]

@Test(arguments: ackCases)
func ackTrackerTable(_ c: AckCase) {
    var t = AckTracker(base: c.base)
    var added: Int64 = 0
    for (s, e) in c.marks { added += t.markDone(start: s, end: e) }
    #expect(t.checkpoint == c.checkpoint)
    #expect(t.gapCount == c.gaps)
    #expect(added == c.added)
}

/// Every permutation of six adjacent lines ends at the same checkpoint, and gaps never exceed 3.
@Test func ackTrackerAllOrders() {
    let bounds: [Int64] = [0, 3, 7, 8, 20, 21, 40]
    var order = Array(0..<6)
    var count = 0
    func permute(_ k: Int) {
        if k == order.count {
            var t = AckTracker(base: 0)
            var total: Int64 = 0
            for i in order {
                total += t.markDone(start: bounds[i], end: bounds[i + 1])
                #expect(t.gapCount <= 3)
            }
            #expect(t.checkpoint == 40)
            #expect(total == 40)
            #expect(t.gapCount == 0)
            count += 1
            return
        }
        for i in k..<order.count {
            order.swapAt(k, i)
            permute(k + 1)
            order.swapAt(k, i)
        }
    }
    permute(0)
    #expect(count == 720)
}
