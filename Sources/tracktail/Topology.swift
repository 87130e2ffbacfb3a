import Pipeline
import Posix
import Runtime
import Ship
import Tail

/// The whole data path, wired in one place (the data path: Sources/tracktail/Topology.swift):
///
/// ```
///  Tailer (thread: files, pipes, journalctl)         ──LineBatch──▶ lines (BlockingQueue, waits when full)
///     ▲ budget.tryAcquire before push                                    │
///     │                                                                  ▼
///  ByteBudget ◀─release─ Tailer.acknowledge ◀─┐       MapperStage (thread): Mapper.map (parse, rules, payload bytes)
///     │                                        │                         │ MappedBatch, same thread
///  checkpoint thread (AckTracker watermark)    │                         ▼
///     ▼                                        │     Shipper.Batcher (count, bytes, linger) ─▶ sender threads
///  checkpoints.json                            └──── acknowledge(source, start, end) ◀─ delivered / dead-lettered / dropped
/// ```
///
/// Each stage owns its threads; `stop` tears them down in reverse order of the data flow so that
/// in-flight lines are delivered (or left unacknowledged, to be read again) before the final
/// checkpoint is written.
final class Topology: Sendable {
    let budget: ByteBudget
    let lines: BlockingQueue<LineBatch>
    let tailer: Tailer
    let shipper: Shipper
    let deadLetter: DeadLetter
    let stats = PipelineStats()
    private let mapper: MapperStage

    init(_ config: Configuration, transport: any TrackTransport, once: Bool, logger: Logger) throws(CommandFailure) {
        let initialMapper: Mapper
        do {
            initialMapper = try Mapper(config.mapping)
        } catch {
            throw CommandFailure("\(config.file): \(error)", code: .config)
        }
        do {
            try FileSystem.createDirectories(config.state.directory, mode: 0o700)
        } catch {
            throw CommandFailure("cannot create the state directory: \(error)", code: .cannotCreate)
        }
        budget = ByteBudget(limit: config.limits.bufferBytes)
        // Two line batches (up to 320 KiB each) between reader and mapper: the reader is about
        // twice as fast as the mapper, so more only hold memory during a backlog.
        lines = BlockingQueue(capacity: 2)
        let tailConfig = config.tailConfiguration(once: once)
        let tailer: Tailer
        do {
            tailer = try Tailer(configuration: tailConfig, budget: budget, output: lines, logger: Logger(label: "tail"))
        } catch let busy as StateDirectoryLock.Busy {
            throw CommandFailure("\(busy)", code: .tempFail)
        } catch {
            throw CommandFailure("cannot start the inputs: \(error)", code: .ioError)
        }
        self.tailer = tailer
        let deadLetter = config.deadLetter(logger: Logger(label: "ship"))
        self.deadLetter = deadLetter
        shipper = Shipper(
            configuration: config.shipConfiguration(), transport: transport,
            deadLetter: deadLetter,
            clock: SystemTime(),
            sourcePath: { tailer.sourceInfo($0)?.path ?? "source \($0)" },
            acknowledge: { tailer.acknowledge($0, start: $1, end: $2) },
            logger: Logger(label: "ship"))
        mapper = MapperStage(initialMapper, lines: lines, shipper: shipper, stats: stats, logger: logger)
    }

    /// Starts the stages from the end of the data path backwards, so nothing waits on a stage
    /// that does not run yet.
    func start() {
        shipper.start(batcherThread: false)
        mapper.start()
        tailer.start()
    }

    /// SIGHUP with a valid new configuration: the mapper picks the new rules up before its next batch.
    func reload(mapping: MappingConfiguration) {
        mapper.reload(mapping)
        shipper.wake()
    }

    /// Bytes written to the watched files but not yet done (delivered, dead-lettered or
    /// dropped), over all files.
    func lagBytes() -> Int64 {
        Metrics.lagByFile(self).reduce(0) { $0 + $1.bytes }
    }

    /// `--once`: every file read to the end it had at start and every line acknowledged.
    var isFinished: Bool { tailer.isFinished }

    /// Shutdown in data-path order: stop reading (the checkpoint is written), let the mapper hand
    /// on what was read, let the shipper deliver in-flight batches until `drainDeadline`
    /// (monotonic ns), then write the final checkpoint with whatever was acknowledged meanwhile.
    func stop(drainDeadline: Int64) {
        tailer.stop()
        _ = mapper.waitUntilDone(deadline: drainDeadline)
        shipper.stop(deadline: drainDeadline)
        mapper.join()
        tailer.close()
    }
}
