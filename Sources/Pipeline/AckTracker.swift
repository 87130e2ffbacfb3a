/// The checkpoint of one source: the end of the longest run of done byte ranges from a base.
///
/// Lines finish out of order (batches in flight in parallel, dead letters written at once, drops
/// done immediately), but a checkpoint may only advance over bytes that are all done: after a
/// crash everything past it is read again. Ranges come from line records (`end` of one line is
/// `start` of the next), so done ranges touch and merge.
///
/// | event                                 | effect                                            |
/// |---------------------------------------|---------------------------------------------------|
/// | range starts at or before checkpoint  | checkpoint moves to its end, then swallows every  |
/// |                                       | pending range it now reaches                      |
/// | range after a gap                     | kept (merged with neighbours) until the gap fills |
/// | range already covered (duplicate)     | ignored; `markDone` returns 0                     |
/// | range partly covered (overlap)        | only the new bytes count                          |
/// | empty or inverted range               | ignored                                           |
///
/// Memory is one pair of integers per gap, never per line.
public struct AckTracker: Sendable, Equatable {
    /// Everything before this offset is done.
    public private(set) var checkpoint: Int64
    /// Done ranges beyond the checkpoint: sorted, disjoint, not touching each other or the
    /// checkpoint.
    private var pending: [Range<Int64>] = []

    public init(base: Int64) { checkpoint = base }

    /// Resumes a tracker from a checkpoint: `base` and the done ranges saved past it (any order;
    /// ranges at or before `base` are ignored, overlapping ones merge).
    public init(base: Int64, done: [Range<Int64>]) {
        checkpoint = base
        for r in done { markDone(start: r.lowerBound, end: r.upperBound) }
    }

    /// Done ranges past the checkpoint, in offset order.
    public var doneRanges: [Range<Int64>] { pending }

    /// At most `limit` of `doneRanges` for the checkpoint file: the largest ones (they save the
    /// most re-sending after a restart), in offset order. Any subset is safe to save: a range
    /// left out is only read and sent again.
    ///
    /// | pending ranges (sizes)   | limit | saved                      |
    /// |--------------------------|-------|----------------------------|
    /// | ≤ limit                  | any   | all                        |
    /// | more than limit          | n     | the n largest, ties: first |
    /// | any                      | 0     | none                       |
    public func doneRanges(limit: Int) -> [Range<Int64>] {
        guard limit > 0 else { return [] }
        guard pending.count > limit else { return pending }
        let largest = pending.indices.sorted {
            let a = pending[$0].count, b = pending[$1].count
            return a != b ? a > b : $0 < $1
        }.prefix(limit).sorted()
        return largest.map { pending[$0] }
    }

    /// Number of runs of done bytes waiting for a gap to fill.
    public var gapCount: Int { pending.count }

    /// End of the furthest done byte (the checkpoint when nothing waits).
    public var highestDone: Int64 { pending.last?.upperBound ?? checkpoint }

    /// Marks `start..<end` done. Returns how many of those bytes were not done before, so a
    /// caller that releases memory per acknowledged byte never releases the same byte twice.
    @discardableResult
    public mutating func markDone(start: Int64, end: Int64) -> Int64 {
        let lower = max(start, checkpoint)
        guard end > lower else { return 0 }
        var range = lower..<end
        // Find the first pending range that ends at or after our start (could touch or overlap).
        var lo = 0, hi = pending.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pending[mid].upperBound < range.lowerBound { lo = mid + 1 } else { hi = mid }
        }
        var covered: Int64 = 0
        var last = lo
        while last < pending.count && pending[last].lowerBound <= range.upperBound {
            let p = pending[last]
            covered += max(0, min(p.upperBound, range.upperBound) - max(p.lowerBound, range.lowerBound))
            range = min(p.lowerBound, range.lowerBound)..<max(p.upperBound, range.upperBound)
            last += 1
        }
        let added = (end - lower) - covered
        if range.lowerBound <= checkpoint {
            checkpoint = range.upperBound
            pending.removeSubrange(lo..<last)
        } else {
            pending.replaceSubrange(lo..<last, with: CollectionOfOne(range))
        }
        return added
    }
}
