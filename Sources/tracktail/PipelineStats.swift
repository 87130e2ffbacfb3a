import Pipeline
import Synchronization

/// Counters the status line and logs read, kept by the mapper stage.
final class PipelineStats: Sendable {
    let linesRead = Atomic<Int>(0)
    let eventsMapped = Atomic<Int>(0)
    let linesRejected = Atomic<Int>(0)
    let linesDropped = Atomic<Int>(0)

    /// One mapped batch: its lines, events, rejections and drops.
    func count(_ batch: LineBatch, _ out: MappedBatch) {
        linesRead.add(batch.lines.count, ordering: .relaxed)
        eventsMapped.add(out.events.count, ordering: .relaxed)
        var rejected = 0
        for o in out.others where o.rejection != nil { rejected += 1 }
        linesRejected.add(rejected, ordering: .relaxed)
        linesDropped.add(out.others.count - rejected, ordering: .relaxed)
    }
}
