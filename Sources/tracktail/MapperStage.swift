import Pipeline
import Posix
import Runtime
import Ship
import Synchronization

/// The mapper stage: one dedicated thread that turns each `LineBatch` into a `MappedBatch`
/// (parse, rules, payload bytes) and packs its events into requests with the shipper's
/// `Batcher`, on the same thread.
///
/// ```
///  lines (BlockingQueue<LineBatch>) ──▶ mapper thread: Mapper.map ──▶ Shipper.Batcher ──▶ sender threads
///                                        ▲ new rules (SIGHUP),         (count, bytes, linger;
///                                          taken before the next batch  waits while maxInFlight wait)
/// ```
///
/// Batching here rather than on a thread of its own saves a hand-off, a wake-up and a context
/// switch per read turn (at 5,000 lines/s most of the daemon's CPU went into waking threads).
/// The reader's `caughtUp` marker after each burst lets the open batch leave at once when the
/// output is idle, so a burst is one request and waits for nothing more. Data flows one way: what the mapper needs (the source id, its
/// event-id key) travels with the batch, so it takes no other stage's lock. The thread waits
/// when there are no lines (at most until the open batch's linger time) and when the senders
/// are behind (backpressure). When the line queue closes (`--once` at the end of input, or
/// shutdown) the open batch leaves, the shipper learns that no more will come, and `done`
/// opens.
final class MapperStage: Sendable {
    private let lines: BlockingQueue<LineBatch>
    private let shipper: Shipper
    private let stats: PipelineStats
    private let logger: Logger
    private let initial: Mapper
    private let pending = Mutex<MappingConfiguration?>(nil)
    private let thread = Mutex<Thread?>(nil)
    private let done = Latch()

    /// `shipper` must be started with `batcherThread: false`.
    init(_ mapper: Mapper, lines: BlockingQueue<LineBatch>, shipper: Shipper, stats: PipelineStats, logger: Logger) {
        initial = mapper
        self.lines = lines
        self.shipper = shipper
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
        let batcher = shipper.makeBatcher()
        while let batch = batcher.next(from: lines, beating: heartbeat) {
            if batch.caughtUp {
                batcher.inputCaughtUp(beating: heartbeat)
                continue
            }
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
            batcher.add(out, beating: heartbeat)
        }
        batcher.finish(beating: heartbeat)
        done.open()
    }
}
