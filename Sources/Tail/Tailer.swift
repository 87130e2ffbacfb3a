import Pipeline
import Posix
import Runtime

/// The file and pipe input: one dedicated thread that discovers, watches and reads, and one that
/// writes the checkpoint file.
///
/// ```
///  files/pipes ──read──▶ LineSplitter ──LineBatch──▶ budget.acquire ──▶ output.push
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
    private var lastWritten: (files: [CheckpointEntry], cursors: [JournalCheckpoint])?
    private var changesWritten: UInt64?
    /// The checkpoint thread sleeps on its own lock so that acknowledgements do not wake it.
    private let checkpointSignal = ConditionLock()
    private var checkpointStopping = false

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
        do {
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
            table = SourceTable(entries: loaded.entries, cursors: loaded.cursors, forgetAfter: configuration.forgetAfter,
                                wakeReader: { wakeup.signal() })
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
        readerThread = Thread(name: "tail-reader") { reader.run() }
        checkpointThread = Thread(name: "tail-checkpoint") { [self] in checkpointLoop() }
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

    /// The file entries as they would be written now.
    public func checkpointEntries() -> [CheckpointEntry] {
        table.snapshot(ifChangedSince: nil)?.files ?? []
    }

    /// Each journal input's checkpointed and latest read entry.
    public func journalProgress() -> [JournalProgress] { table.journalProgress }

    /// Writes `checkpoints.json` if anything changed since the last write. Errors are logged
    /// (the previous file stays valid) and retried at the next interval. Any thread.
    public func writeCheckpoint() {
        writing.withLock { writeCheckpointSerialized() }
    }

    /// One writer at a time (they share the temp file name).
    private let writing = ConditionLock()

    private func writeCheckpointSerialized() {
        guard let snap = table.snapshot(ifChangedSince: changesWritten) else { return }
        changesWritten = snap.token
        if let last = lastWritten, last.files == snap.files, last.cursors == snap.cursors { return }
        do {
            try CheckpointFile.write(snap.files, cursors: snap.cursors, stateDirectory: configuration.stateDirectory)
            lastWritten = (snap.files, snap.cursors)
        } catch {
            changesWritten = nil
            logger.error("checkpoint write failed", ["checkpoint.path": configuration.stateDirectory, "error": "\(error)"])
        }
    }

    private func checkpointLoop() {
        while true {
            let stop = checkpointSignal.withLock { () -> Bool in
                let deadline = SystemClock.monotonicNanoseconds() + configuration.checkpointInterval
                while !checkpointStopping && SystemClock.monotonicNanoseconds() < deadline {
                    checkpointSignal.wait(until: deadline)
                }
                return checkpointStopping
            }
            if stop { return }
            writeCheckpoint()
        }
    }
}
