import Pipeline
import Posix
import Runtime
import Ship
import Synchronization
import Tail

/// The whole data path, wired in one place (DESIGN.md "The data path"):
///
/// ```
///  Tailer (thread: discover, inotify, read)          ──LineBatch──▶ lines (BlockingQueue, waits when full)
///     ▲ budget.acquire before push                                       │
///     │                                                                  ▼
///  ByteBudget ◀─release─ Tailer.acknowledge ◀─┐       mapper thread: Mapper.map (parse, rules, payload bytes)
///     │                                        │                         │
///  checkpoint thread (AckTracker watermark)    │                         ▼ MappedBatch
///     ▼                                        │     Shipper.input (BlockingQueue) ─▶ batcher thread ─▶ sender threads
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
    let stats = PipelineStats()
    private let mapperDone = Latch()
    private let pendingMapping = Mutex<MappingConfiguration?>(nil)
    private let mapperThread = Mutex<Thread?>(nil)
    private let initialMapper: Mapper
    private let logger: Logger

    init(_ config: Configuration, transport: any TrackTransport, once: Bool, logger: Logger) throws(CommandFailure) {
        self.logger = logger
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
        lines = BlockingQueue(capacity: 4)
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
        shipper = Shipper(
            configuration: config.shipConfiguration(), transport: transport,
            deadLetter: DeadLetter(directory: ShipConfiguration.deadLetterDirectory(stateDirectory: config.state.directory),
                                   capBytes: Int64(config.output.deadLetterMaxBytes)),
            clock: SystemTime(),
            sourcePath: { tailer.sourceInfo($0)?.path ?? "source \($0)" },
            acknowledge: { tailer.acknowledge($0, start: $1, end: $2) },
            logger: Logger(label: "ship"))
    }

    /// Starts the stages from the end of the data path backwards, so nothing waits on a stage
    /// that does not run yet.
    func start() {
        shipper.start()
        let initial = initialMapper
        mapperThread.withLock { $0 = Thread(name: "mapper") { [self] in Heartbeats.shared.run("mapper") { runMapper(initial, $0) } } }
        tailer.start()
    }

    /// SIGHUP with a valid new configuration: the mapper picks the new rules up before its next batch.
    func reload(mapping: MappingConfiguration) {
        pendingMapping.withLock { $0 = mapping }
        shipper.wake()
    }

    private func runMapper(_ initial: Mapper, _ heartbeat: Heartbeat) {
        var mapper = initial
        var out = MappedBatch(source: SourceID(0))
        while let batch = lines.pop(beating: heartbeat) {
            if let next = pendingMapping.withLock({ p -> MappingConfiguration? in defer { p = nil }; return p }) {
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
            mapper.map(batch, sourceKey: tailer.sourceInfo(batch.source)?.key ?? 0, into: &out)
            stats.linesRead.add(batch.lines.count, ordering: .relaxed)
            stats.eventsMapped.add(out.events.count, ordering: .relaxed)
            var rejected = 0
            for o in out.others where o.rejection != nil { rejected += 1 }
            stats.linesRejected.add(rejected, ordering: .relaxed)
            stats.linesDropped.add(out.others.count - rejected, ordering: .relaxed)
            if !shipper.input.push(out, beating: heartbeat) { break }
        }
        // End of input (`--once`, or shutdown): let the shipper flush its last batch.
        shipper.input.close()
        mapperDone.open()
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
        _ = mapperDone.wait(until: drainDeadline)
        shipper.stop(deadline: drainDeadline)
        mapperThread.withLock { t in
            t?.join()
            t = nil
        }
        tailer.close()
    }
}

/// Counters the status line and logs read.
final class PipelineStats: Sendable {
    let linesRead = Atomic<Int>(0)
    let eventsMapped = Atomic<Int>(0)
    let linesRejected = Atomic<Int>(0)
    let linesDropped = Atomic<Int>(0)
}

/// A one-shot gate a thread can wait on with a deadline.
final class Latch: Sendable {
    private let lock = ConditionLock()
    private let isOpen = Atomic<Bool>(false)

    func open() {
        lock.withLock {
            isOpen.store(true, ordering: .sequentiallyConsistent)
            lock.broadcast()
        }
    }

    /// Waits until open or `deadline` (monotonic ns). Returns whether it is open.
    func wait(until deadline: Int64) -> Bool {
        lock.withLock {
            while !isOpen.load(ordering: .sequentiallyConsistent) {
                if !lock.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { break }
            }
            return isOpen.load(ordering: .sequentiallyConsistent)
        }
    }
}
