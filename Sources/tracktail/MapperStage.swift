import Pipeline
import Posix
import Runtime
import Ship
import Synchronization

/// The mapper stage: one dedicated thread that turns each `LineBatch` into a `MappedBatch`
/// (parse, rules, payload bytes) and hands it to the shipper's input queue.
///
/// ```
///  lines (BlockingQueue<LineBatch>) ──▶ mapper thread: Mapper.map ──▶ output (BlockingQueue<MappedBatch>)
///                                        ▲ new rules (SIGHUP), taken before the next batch
/// ```
///
/// Data flows one way: what the mapper needs (the source id, its event-id key) travels with the
/// batch, so it takes no other stage's lock. Both queues are bounded: the thread waits when the
/// shipper's input is full (backpressure) and when there are no lines. When the line queue
/// closes (`--once` at the end of input, or shutdown) it closes `output`, so the shipper flushes
/// its last batch, and opens `done`.
final class MapperStage: Sendable {
    private let lines: BlockingQueue<LineBatch>
    private let output: BlockingQueue<MappedBatch>
    private let stats: PipelineStats
    private let logger: Logger
    private let initial: Mapper
    private let pending = Mutex<MappingConfiguration?>(nil)
    private let thread = Mutex<Thread?>(nil)
    private let done = Latch()

    init(_ mapper: Mapper, lines: BlockingQueue<LineBatch>, output: BlockingQueue<MappedBatch>, stats: PipelineStats, logger: Logger) {
        initial = mapper
        self.lines = lines
        self.output = output
        self.stats = stats
        self.logger = logger
    }

    func start() {
        thread.withLock { t in
            guard t == nil else { return }
            t = Thread(name: "mapper") { [self] in Heartbeats.shared.run("mapper") { run($0) } }
        }
    }

    /// SIGHUP with a valid new configuration: the new rules apply from the next batch on.
    func reload(_ mapping: MappingConfiguration) {
        pending.withLock { $0 = mapping }
    }

    /// Waits until everything read was handed on (or `deadline`, monotonic ns).
    func waitUntilDone(deadline: Int64) -> Bool { done.wait(until: deadline) }

    func join() {
        thread.withLock { t in
            t?.join()
            t = nil
        }
    }

    private func run(_ heartbeat: Heartbeat) {
        var mapper = initial
        var out = MappedBatch(source: SourceID(0))
        while let batch = lines.pop(beating: heartbeat) {
            if let next = pending.withLock({ p -> MappingConfiguration? in defer { p = nil }; return p }) {
                do {
                    mapper = try Mapper(next)
                    logger.notice("new mapping rules in force", ["rules": String(next.rules.count)])
                } catch {
                    logger.error("new mapping rejected; the old rules stay in force", ["error": error.description])
                }
            }
            out.source = batch.source
            out.eventBytes.removeAll(keepingCapacity: true)
            out.events.removeAll(keepingCapacity: true)
            out.others.removeAll(keepingCapacity: true)
            mapper.map(batch, sourceKey: batch.sourceKey, into: &out)
            stats.count(batch, out)
            if !output.push(out, beating: heartbeat) { break }
        }
        output.close()
        done.open()
    }
}
