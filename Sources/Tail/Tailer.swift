import Pipeline
import Posix
import Runtime

/// The inputs (files, pipes, the journal): one dedicated thread that discovers, watches and
/// reads, and one that writes the checkpoint file.
///
/// The module, file by file (after Vector's file source: paths provider, fingerprinter,
/// checkpointer, file server):
///
/// | file                          | role                                                        |
/// |-------------------------------|-------------------------------------------------------------|
/// | `Tailer.swift`                | lifecycle, the checkpoint thread, the public face           |
/// | `SourceTable.swift`           | the one lock: sources, acks, retirement, checkpoint snapshot (`CheckpointSelection`) |
/// | `TailReader.swift`            | the reader loop alone: poll, inotify, ticks, `push` (budget, key stamp) |
/// | `ReaderSchedule.swift`        | the loop's timers as a pure value (injected clock)          |
/// | `TailReader+Discovery.swift`  | glob scans, watches, open-file slots, recovery, registration |
/// | `TailReader+Reading.swift`    | reading and rotation of one file instance                   |
/// | `FileInstance.swift`          | one open file's reader-side state                           |
/// | `FileDecisions.swift`         | pure: change, orphan, reconcile, checkpoint validation, keys, slots |
/// | `PipeInput.swift`, `PipeSpool.swift`, `FIFOSetup.swift` | FIFOs: creation, spool, spool status |
/// | `JournalInput.swift`, `JournalQuery.swift`, `JournalEntry.swift`, `CursorTrail.swift` | the journal: journalctl child, its command line and restarts, entry → line, cursor watermark |
/// | `CheckpointFile.swift`, `Fingerprint.swift`, `LineSplitter.swift`, `StateDirectoryLock.swift` | formats and helpers |
///
/// ```
///  files/pipes ──read──▶ LineSplitter ──LineBatch──▶ budget.tryAcquire ──▶ output.push
///                                                                         │
///  checkpoints.json ◀── checkpoint thread ◀── AckTracker per source ◀── acknowledge(source, start, end)
/// ```
///
/// Budget: each batch acquires the source bytes of its lines (a too-long line counts only its
/// head) before it is pushed; `acknowledge` releases exactly the newly acknowledged bytes. So
/// no one else may release line bytes, and acknowledging a range twice is harmless. When the
/// budget is spent the reader waits: for files, the file is the buffer.
///
/// Lifecycle: `init` (takes the state lock, loads checkpoints) → `start()` → … → `stop()`
/// (reading ends, `output` is closed, the checkpoint is written) → acknowledgements of what is
/// still in flight may keep arriving; call `writeCheckpoint()` after the pipeline drained →
/// `close()` (final write, descriptors closed, lock released).
///
/// Pipes: what is read from a FIFO is first appended to a spool segment in the state directory
/// (`PipeSpool`), and the segments are tailed like files: lines carry segment offsets, are
/// checkpointed and resumed after a crash, and a sealed segment is deleted once it is fully
/// acknowledged. The spool is capped (`spoolMaxBytes`): at the cap the pipe is not read and its
/// writer blocks; nothing is dropped.
///
/// | pipe input        | source of a line      | checkpointed | lost at kill -9        |
/// |-------------------|-----------------------|--------------|------------------------|
/// | daemon            | a spool segment file  | yes          | nothing                |
/// | `once`            | the FIFO itself (offsets count from 0) | no | lines in flight |
public final class Tailer: @unchecked Sendable {
    let configuration: TailConfiguration
    let budget: ByteBudget
    let output: BlockingQueue<LineBatch>
    let logger: Logger
    let clock: any Clock
    private let lock: StateDirectoryLock
    /// The sources, their acknowledgements and the checkpoint snapshot (the module's one lock).
    let table: SourceTable
    let wakeup: WakeupEvent

    private let lifecycle = ConditionLock()
    private var closed = false
    /// Length and hash of the last file written: an unchanged checkpoint is not written again,
    /// without keeping a copy of every entry (20,000 files: megabytes).
    private var lastWritten: (count: Int, hash: UInt64)?
    private var changesWritten: UInt64?
    /// The checkpoint thread sleeps on its own lock; only the first acknowledgement after a
    /// write wakes it (`SourceTable.armCheckpointWake`).
    private let checkpointSignal: ConditionLock
    private var checkpointStopping = false

    /// The reader (tests read its counters once it is stopped).
    private(set) var reader: TailReader?
    private var readerThread: Thread?
    private var checkpointThread: Thread?

    /// Takes the state directory lock and loads the checkpoint (falling back to `.prev`).
    /// Throws `StateDirectoryLock.Busy` for a second instance and `CheckpointFileError` when a
    /// checkpoint exists but no copy of it is readable (never a silent restart from zero).
    /// `clock` drives the reader's timers (tests pass a manual one).
    public init(configuration: TailConfiguration, budget: ByteBudget, output: BlockingQueue<LineBatch>, logger: Logger,
                clock: any Clock = SystemTime()) throws {
        self.configuration = configuration
        self.budget = budget
        self.output = output
        self.logger = logger
        self.clock = clock
        lock = try StateDirectoryLock(stateDirectory: configuration.stateDirectory)
        let checkpointSignal = ConditionLock()
        self.checkpointSignal = checkpointSignal
        let acknowledged = AcknowledgedFlag()
        self.acknowledgedFlag = acknowledged
        do {
            for spec in configuration.inputs where spec.kind == .pipe {
                for path in spec.paths where try FIFOSetup.prepare(path: path, mode: spec.fifoMode, group: spec.fifoGroup) {
                    logger.info("FIFO created", ["source.path": path, "fifo.mode": "0" + String(spec.fifoMode, radix: 8),
                                                  "fifo.group": spec.fifoGroup ?? "(the daemon's)"])
                }
            }
            let wakeup = try WakeupEvent.create()
            self.wakeup = wakeup
            let loaded = CheckpointFile.load(stateDirectory: configuration.stateDirectory)
            for p in loaded.problems {
                logger.error("checkpoint file unusable", ["checkpoint.path": p.path, "reason": p.reason])
            }
            if loaded.usedPath == nil, let first = loaded.problems.first { throw first }
            if let used = loaded.usedPath, used != CheckpointFile.path(stateDirectory: configuration.stateDirectory) {
                logger.warning("using the previous checkpoint copy", ["checkpoint.path": used])
                // Keep the corrupt file for inspection; the next write must not make it `.prev`.
                let main = CheckpointFile.path(stateDirectory: configuration.stateDirectory)
                if used != main, (try? FileSystem.status(main)) != nil {
                    try? FileSystem.rename(main, to: main + ".corrupt")
                }
            }
            var state = (entries: loaded.entries, cursors: loaded.cursors)
            if let recent = RecentCheckpoint.load(stateDirectory: configuration.stateDirectory) {
                // Progress written since the last durable write, before a crash of the process.
                state = RecentCheckpoint.merge(durable: state, recent: recent)
            }
            table = SourceTable(entries: state.entries, cursors: state.cursors, forgetAfter: configuration.forgetAfter,
                                wakeReader: { wakeup.signal() },
                                wakeCheckpoint: {
                                    checkpointSignal.withLock {
                                        acknowledged.value = true
                                        checkpointSignal.broadcast()
                                    }
                                })
            if let used = loaded.usedPath {
                logger.info("checkpoint loaded", ["checkpoint.path": used, "checkpoint.entries": "\(loaded.entries.count + loaded.cursors.count)"])
            }
        } catch {
            lock.release()
            throw error
        }
    }

    /// Starts the reader and checkpoint threads.
    public func start() {
        let reader = TailReader(tailer: self)
        self.reader = reader
        readerThread = Thread(name: "tail-reader") { reader.run(); reader.heartbeat.retire() }
        checkpointThread = Thread(name: "tail-checkpoint") { [self] in Heartbeats.shared.run("tail-checkpoint") { checkpointLoop($0) } }
    }

    /// Stops reading, joins the reader, closes `output` (downstream drains what is in it),
    /// stops the periodic writer and writes the checkpoint. Acknowledgements still count after
    /// this; call `writeCheckpoint()` or `close()` once downstream has drained.
    public func stop() {
        table.requestStop()
        wakeup.signal()
        output.close()
        readerThread?.join()
        readerThread = nil
        checkpointSignal.withLock {
            checkpointStopping = true
            checkpointSignal.broadcast()
        }
        checkpointThread?.join()
        checkpointThread = nil
        writeCheckpoint()
    }

    /// Final checkpoint, closes every descriptor, releases the state directory lock. Once.
    public func close() {
        let first = lifecycle.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        if readerThread != nil { stop() }
        writeCheckpoint()
        table.close { wakeup.close() }
        lock.release()
    }

    /// Marks `start..<end` of `source` done (delivered, dead-lettered or dropped) and releases
    /// its bytes from the budget. Any thread; any order; duplicates and unknown sources ignored.
    public func acknowledge(_ source: SourceID, start: Int64, end: Int64) {
        let release = table.acknowledge(source, start: start, end: end)
        if release > 0 { budget.release(Int(release)) }
    }

    public func sourceInfo(_ id: SourceID) -> SourceInfo? { table.info(id) }

    /// Each pipe's spool (bytes not yet done, segments, age), from the file system and the
    /// checkpoint snapshot; for `/metrics`.
    public func spoolStatus() -> [(input: String, path: String, status: SpoolStatus)] {
        let entries = checkpointEntries()
        let now = SystemClock.wallNanoseconds()
        return configuration.inputs.filter { $0.kind == .pipe }.flatMap { spec in
            spec.paths.enumerated().map { i, path in
                (spec.name, path, SpoolStatus.measure(directory: configuration.spoolDirectory(input: spec.name, index: i), entries: entries, nowWall: now))
            }
        }
    }

    /// FIFOs not read right now because their spool is full (their writers block), for `/health`.
    public var blockedPipes: [String] { table.blockedPipes }

    /// Sources currently known (open, finished but awaiting acknowledgements, or closed for the
    /// open-file limit).
    public var sourceCount: Int { table.count }

    /// `once` mode: true when every file was read to the end it had at start and every line
    /// pushed was acknowledged.
    public var isFinished: Bool { table.isFinished }

    /// Waits (on a dedicated thread, never the cooperative pool) until `isFinished` or the
    /// monotonic `deadline` (ns). Returns `isFinished`.
    @discardableResult
    public func waitUntilAllAcknowledged(deadline: Int64) -> Bool {
        table.waitUntilAllAcknowledged(deadline: deadline)
    }

    // MARK: Checkpoint

    /// The file entries as they would be written now, with the tail hashes of the last write
    /// (a copy under the table's lock, no file read: `/metrics` and `STATUS=` call this).
    public func checkpointEntries() -> [CheckpointEntry] {
        table.snapshot(ifChangedSince: nil)?.files ?? []
    }

    /// Each journal input's checkpointed and latest read entry.
    public func journalProgress() -> [JournalProgress] { table.journalProgress }

    /// Writes `checkpoints.json` if anything changed since the last write. Errors are logged
    /// (the previous file stays valid) and retried at the next interval. Any thread.
    public func writeCheckpoint() {
        writing.withLock { writeCheckpointSerialized(durable: true) }
    }

    /// One writer at a time (they share the temp file name).
    private let writing = ConditionLock()
    /// Set by the last recent write; the next durable write removes the file.
    private var recentChanges: UInt64?
    private var recentExists = false

    private func writeCheckpointSerialized(durable: Bool) {
        // The tail hashes are read here, on the writer's thread, not under the table's lock.
        table.refreshTails()
        let directory = configuration.stateDirectory
        guard let snap = table.snapshot(ifChangedSince: durable ? changesWritten : recentChanges ?? changesWritten) else { return }
        // Encoded twice (a hash, then the write), in pieces: with 20,000 files the file is
        // ~6 MB, never held whole in memory.
        let written = CheckpointFile.digest(snap.files, cursors: snap.cursors)
        guard durable else {
            // Between durable writes: no fsync (see `RecentCheckpoint`); a failure only means
            // that a crash re-sends a little more.
            recentChanges = snap.token
            if let last = lastWritten, last == written { return }
            recentExists = true
            do {
                try FileSystem.writeAtomically(RecentCheckpoint.path(stateDirectory: directory), mode: 0o640, durable: false) { fd in
                    try CheckpointFile.encode(snap.files, cursors: snap.cursors) { try fd.writeAll($0) }
                }
            } catch {
                recentChanges = nil
            }
            return
        }
        changesWritten = snap.token
        if let last = lastWritten, last == written { return }
        do {
            try CheckpointFile.write(snap.files, cursors: snap.cursors, stateDirectory: directory)
            lastWritten = written
            if recentExists {
                // All it had is in the durable file now.
                try? FileSystem.remove(RecentCheckpoint.path(stateDirectory: directory))
                recentExists = false
            }
            recentChanges = nil
        } catch {
            changesWritten = nil
            logger.error("checkpoint write failed", ["checkpoint.path": directory, "error": "\(error)"])
        }
    }

    /// Set (under `checkpointSignal`) by the first acknowledgement after a write.
    private let acknowledgedFlag: AcknowledgedFlag

    private final class AcknowledgedFlag: @unchecked Sendable {
        var value = false
    }

    /// Writes as `CheckpointSchedule` decides: at once after the first acknowledgements, then
    /// at most every `checkpointInterval`.
    private func checkpointLoop(_ heartbeat: Heartbeat) {
        // Real monotonic time, not `clock` (a test's manual clock drives the reader, and would
        // stop the periodic write); the decision itself is table-tested with given times.
        var schedule = CheckpointSchedule(interval: configuration.checkpointInterval, recentInterval: configuration.recentCheckpointInterval,
                                          now: SystemClock.monotonicNanoseconds())
        while true {
            // nil: stopping; true: a durable write; false: a recent one.
            let durable = checkpointSignal.withLock { () -> Bool? in
                while !checkpointStopping {
                    switch schedule.decide(now: SystemClock.monotonicNanoseconds(), acknowledged: acknowledgedFlag.value) {
                    case .write:
                        acknowledgedFlag.value = false
                        return true
                    case .writeRecent:
                        acknowledgedFlag.value = false
                        return false
                    case .wait(let until):
                        heartbeat.waitBeating(checkpointSignal, atMost: until - SystemClock.monotonicNanoseconds())
                    }
                }
                return nil
            }
            guard let durable else { return }
            table.armCheckpointWake()
            let started = SystemClock.monotonicNanoseconds()
            writing.withLock { writeCheckpointSerialized(durable: durable) }
            let now = SystemClock.monotonicNanoseconds()
            if durable { schedule.wrote(at: now) } else { schedule.wroteRecent(at: now, took: now - started) }
        }
    }
}
