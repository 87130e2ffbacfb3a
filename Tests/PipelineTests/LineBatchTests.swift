import Pipeline
import Testing

@Suite struct LineBatchTests {
    /// `LineBatch.reservation`: what a reader reserves before filling a batch.
    @Test(arguments: [
        (name: "backlog: the limit plus one chunk", waiting: Int64(10_000_000), limit: 262_144, chunk: 65_536, reserved: 327_680),
        (name: "exactly a batch and a chunk waiting", waiting: Int64(327_680), limit: 262_144, chunk: 65_536, reserved: 327_680),
        (name: "a few new lines: what is waiting", waiting: Int64(780), limit: 262_144, chunk: 65_536, reserved: 780),
        (name: "nothing waiting", waiting: Int64(0), limit: 262_144, chunk: 65_536, reserved: 0),
        (name: "unknown or shrunk (negative)", waiting: Int64(-4_096), limit: 262_144, chunk: 65_536, reserved: 0),
        (name: "huge file", waiting: Int64.max, limit: 262_144, chunk: 65_536, reserved: 327_680),
    ])
    func reservation(_ c: (name: String, waiting: Int64, limit: Int, chunk: Int, reserved: Int)) {
        #expect(LineBatch.reservation(waiting: c.waiting, limit: c.limit, chunk: c.chunk) == c.reserved, "\(c.name)")
    }

    /// Filling a reserved batch up to its limit plus a chunk never reallocates its bytes.
    @Test func aReservedBatchDoesNotGrow() {
        var batch = LineBatch(source: SourceID(1))
        batch.reserve(waiting: 1 << 30, limit: 4_096, chunk: 1_024)
        let capacity = batch.bytes.capacity
        #expect(capacity >= 5_120)
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        while batch.bytes.count + line.count <= 5_120 { batch.bytes.append(contentsOf: line) }
        #expect(batch.bytes.capacity == capacity)
        // Reserving again keeps what is there.
        batch.reserve(waiting: 10, limit: 4_096, chunk: 1_024)
        #expect(batch.bytes.capacity == capacity)
    }
}
