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
    private let lock: StateDirectoryLock

    /// Guards everything below; also the condition for the budget wait and `once` waiters.
    let state = ConditionLock()
    var sources: [SourceID: SharedSource] = [:] { didSet { changes &+= 1 } }
    /// Checkpoint entries not matched to a file yet (kept until `forgetAfter`).
    var unclaimed: [FileIdentity: CheckpointEntry] = [:] { didSet { changes &+= 1 } }
    /// Bumped by every change to the above, so an idle tailer does not even build a snapshot.
    private var changes: UInt64 = 0
    private var changesWritten: UInt64 = .max
    var stopping = false
    var readingDone = false
    private var closed = false
    private var lastWritten: [CheckpointEntry]?
    /// The checkpoint thread sleeps on its own lock so that acknowledgements do not wake it.
    private let checkpointSignal = ConditionLock()
    private var checkpointStopping = false

    private var readerThread: Thread?
    private var checkpointThread: Thread?
    let wakeup: WakeupEvent

    /// One source as seen by `acknowledge`, `sourceInfo` and the checkpoint writer.
    struct SharedSource {
        var info: SourceInfo
        var tracker: AckTracker
        /// End of the last line pushed (the checkpoint catches up to it when all is acked).
        var emittedEnd: Int64
        /// Truncated lines in flight: the budget was charged their head, not their range.
        var truncated: [(start: Int64, excess: Int64)] = []
        /// Kept for the tail hash at checkpoint time. For a finished source it is owned here
        /// (closed once everything is acknowledged, or at once when forgotten); otherwise by
        /// the reader.
        var descriptor: FileDescriptor?
        /// Files yes; pipes and superseded (truncated) instances no.
        var checkpointed: Bool
        /// The reader let go; once fully acknowledged the descriptor is closed, and with
        /// `forget` the source (and its checkpoint entry) disappears.
        var finished = false
        var forget = false
        /// Wall ns of the last checkpoint move.
        var updated: Int64
        var tail: (offset: Int64, length: Int, hash: UInt64)?
        /// A spool segment the reader waits to delete: `acknowledge` wakes it once the checkpoint
        /// reaches this offset (one wakeup per segment, not one per acknowledgement).
        var wakeReaderAt: Int64?

        var fullyAcknowledged: Bool { tracker.checkpoint >= emittedEnd }
    }

    /// Takes the state directory lock and loads the checkpoint (falling back to `.prev`).
    /// Throws `StateDirectoryLock.Busy` for a second instance and `CheckpointFileError` when a
    /// checkpoint exists but no copy of it is readable (never a silent restart from zero).
    public init(configuration: TailConfiguration, budget: ByteBudget, output: BlockingQueue<LineBatch>, logger: Logger) throws {
        self.configuration = configuration
        self.budget = budget
        self.output = output
        self.logger = logger
        lock = try StateDirectoryLock(stateDirectory: configuration.stateDirectory)
        do {
            wakeup = try WakeupEvent.create()
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
            for e in loaded.entries { unclaimed[e.identity] = e }
            if let used = loaded.usedPath {
                logger.info("checkpoint loaded", ["checkpoint.path": used, "checkpoint.entries": "\(loaded.entries.count)"])
            }
        } catch {
            lock.release()
            throw error
        }
    }

    /// Starts the reader and checkpoint threads.
    public func start() {
        let reader = TailReader(tailer: self)
        readerThread = Thread(name: "tail-reader") { reader.run(); reader.heartbeat.retire() }
        checkpointThread = Thread(name: "tail-checkpoint") { [self] in Heartbeats.shared.run("tail-checkpoint") { checkpointLoop($0) } }
    }

    /// Stops reading, joins the reader, closes `output` (downstream drains what is in it),
    /// stops the periodic writer and writes the checkpoint. Acknowledgements still count after
    /// this; call `writeCheckpoint()` or `close()` once downstream has drained.
    public func stop() {
        state.withLock {
            stopping = true
            state.broadcast()
        }
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
        let first = state.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        if readerThread != nil { stop() }
        writeCheckpoint()
        state.withLock {
            for (id, s) in sources {
                s.descriptor?.close()
                sources[id]?.descriptor = nil
            }
        }
        state.withLock { wakeup.close() }
        lock.release()
    }

    /// Marks `start..<end` of `source` done (delivered, dead-lettered or dropped) and releases
    /// its bytes from the budget. Any thread; any order; duplicates and unknown sources ignored.
    public func acknowledge(_ source: SourceID, start: Int64, end: Int64) {
        var release: Int64 = 0
        state.withLock {
            guard var s = sources[source] else { return }
            let before = s.tracker.checkpoint
            release = s.tracker.markDone(start: start, end: end)
            if !s.truncated.isEmpty {
                s.truncated.removeAll { t in
                    guard t.start >= start && t.start < end else { return false }
                    release -= t.excess
                    return true
                }
            }
            if s.tracker.checkpoint != before { s.updated = SystemClock.wallNanoseconds() }
            if let w = s.wakeReaderAt, s.tracker.checkpoint >= w {
                s.wakeReaderAt = nil
                // Under the lock: `close` closes the event under it too (never a reused fd).
                if !stopping { wakeup.signal() }
            }
            if s.finished && s.fullyAcknowledged {
                retireLocked(source, s)
            } else {
                sources[source] = s
            }
            state.broadcast()
        }
        if release > 0 { budget.release(Int(release)) }
    }

    /// A finished, fully acknowledged source: its descriptor closes; with `forget` (renamed out
    /// of the globs or deleted, and read to its end) its checkpoint entry goes too.
    func retireLocked(_ id: SourceID, _ s: SharedSource) {
        sources[id] = s
        if s.forget {
            s.descriptor?.close()
            sources[id] = nil
        } else if let fd = s.descriptor {
            refreshTailLocked(id)
            fd.close()
            sources[id]?.descriptor = nil
        }
    }

    /// The reader lets go of a source. With `forget` its descriptor closes at once (nothing more
    /// is needed from a renamed-away or deleted file, and a deleted one holds its disk space);
    /// otherwise it stays open until acknowledged, for the checkpoint's tail hash.
    func finishSource(_ id: SourceID, forget: Bool) {
        state.withLock {
            guard var s = sources[id] else { return }
            s.finished = true
            s.forget = forget
            if forget {
                s.descriptor?.close()
                s.descriptor = nil
            }
            if s.fullyAcknowledged { retireLocked(id, s) } else { sources[id] = s }
            state.broadcast()
        }
    }

    /// Re-hashes the bytes before the checkpoint while the descriptor is still open.
    func refreshTailLocked(_ id: SourceID) {
        guard var s = sources[id], let fd = s.descriptor else { return }
        let offset = s.tracker.checkpoint
        guard s.tail?.offset != offset,
              let t = try? Fingerprint.tailHash(fd, before: offset, count: CheckpointEntry.tailBytes),
              Int64(t.length) == min(offset, Int64(CheckpointEntry.tailBytes)) else { return }
        s.tail = (offset, t.length, t.hash)
        sources[id] = s
    }

    public func sourceInfo(_ id: SourceID) -> SourceInfo? {
        state.withLock { sources[id]?.info }
    }

    /// Sources currently known (open, finished but awaiting acknowledgements, or closed for the
    /// open-file limit).
    public var sourceCount: Int { state.withLock { sources.count } }

    /// `once` mode: true when every file was read to the end it had at start and every line
    /// pushed was acknowledged.
    public var isFinished: Bool { state.withLock { readingDone && sources.values.allSatisfy(\.fullyAcknowledged) } }

    /// Waits (on a dedicated thread, never the cooperative pool) until `isFinished` or the
    /// monotonic `deadline` (ns). Returns `isFinished`.
    @discardableResult
    public func waitUntilAllAcknowledged(deadline: Int64) -> Bool {
        state.withLock {
            while !(readingDone && sources.values.allSatisfy(\.fullyAcknowledged)) {
                if !state.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { return false }
            }
            return true
        }
    }

    // MARK: Checkpoint

    /// The entries as they would be written now.
    public func checkpointEntries() -> [CheckpointEntry] {
        state.withLock { snapshotLocked() }
    }

    func snapshotLocked() -> [CheckpointEntry] {
        var out: [CheckpointEntry] = []
        let now = SystemClock.wallNanoseconds()
        for id in Array(sources.keys) where sources[id]!.checkpointed {
            refreshTailLocked(id)
            let s = sources[id]!
            // Without a proven tail (the file shrank under us, or no descriptor) the last entry
            // we could prove stands.
            guard let identity = s.info.identity, let fp = s.info.fingerprint, let t = s.tail else { continue }
            out.append(CheckpointEntry(input: s.info.input, path: s.info.path, identity: identity, fingerprint: fp,
                                       offset: t.offset, tailLength: t.length, tailHash: t.hash, key: s.info.key, updated: s.updated))
        }
        for e in unclaimed.values where now - e.updated < configuration.forgetAfter { out.append(e) }
        out.sort { ($0.path, $0.identity.inode) < ($1.path, $1.identity.inode) }
        return out
    }

    /// Writes `checkpoints.json` if anything changed since the last write. Errors are logged
    /// (the previous file stays valid) and retried at the next interval. Any thread.
    public func writeCheckpoint() {
        writing.withLock { writeCheckpointSerialized() }
    }

    /// One writer at a time (they share the temp file name).
    private let writing = ConditionLock()

    private func writeCheckpointSerialized() {
        let entries = state.withLock { () -> [CheckpointEntry]? in
            if changes == changesWritten { return nil }
            let e = snapshotLocked()
            changesWritten = changes
            return e == lastWritten ? nil : e
        }
        guard let entries else { return }
        do {
            try CheckpointFile.write(entries, stateDirectory: configuration.stateDirectory)
            state.withLock { lastWritten = entries }
        } catch {
            state.withLock { changesWritten = .max }
            logger.error("checkpoint write failed", ["checkpoint.path": configuration.stateDirectory, "error": "\(error)"])
        }
    }

    private func checkpointLoop(_ heartbeat: Heartbeat) {
        while true {
            let stop = checkpointSignal.withLock { () -> Bool in
                let deadline = SystemClock.monotonicNanoseconds() + configuration.checkpointInterval
                while !checkpointStopping && SystemClock.monotonicNanoseconds() < deadline {
                    heartbeat.waitBeating(checkpointSignal, atMost: deadline - SystemClock.monotonicNanoseconds())
                }
                return checkpointStopping
            }
            if stop { return }
            writeCheckpoint()
        }
    }
}
