import Pipeline
import Posix

/// Every source lines were read from, as the other stages see it: the one lock of the Tail
/// module, the ack watermark per source, and the checkpoint snapshot. The reader thread adds,
/// updates and lets go of sources only through these methods; `acknowledge` comes from any
/// thread; the checkpoint thread and `/metrics` take snapshots. Nothing outside holds the lock.
///
/// ```
///  reader ── add / update / recordPush / finish ──▶ ┌─────────────┐ ◀── acknowledge (shipper, mapper)
///                                                  │ SourceTable │
///  checkpoint thread, /metrics ◀── snapshot ────── └─────────────┘ ── wake() ──▶ reader (spool segment acked)
///  checkpoint thread ── refreshTails (tail hashes, read unlocked) ──▶ ┘
/// ```
///
/// A source's life: `add` → `recordPush`* → `finish` (the reader let go) → retired once every
/// pushed line is acknowledged (descriptor closed; with `forget` the entry disappears).
///
/// **No I/O under the lock.** Acknowledging threads, the reader and `/metrics` wait on it, so
/// it is never held over a system call (`LockAudit` checks this in tests):
///
/// | I/O                                  | where it runs, with the lock released              |
/// |--------------------------------------|-----------------------------------------------------|
/// | tail hashes (`pread` before the watermark) | `refreshTails()`, on the checkpoint writer's thread, for the sources whose watermark moved (`stale`) |
/// | the tail hash before a file is closed for the open-file limit | `detach`, on the reader's thread |
/// | closing a descriptor let go of       | the thread that let go, after unlocking; a descriptor `refreshTails` is reading is closed when it is done (`lent`), so its number is never reused under a read |
/// | waking the reader (a pipe write)     | the acknowledging thread, after unlocking; `close` waits for it (`waking`) |
///
/// `snapshot` and `checkpointEntries` are pure copies: `/metrics` and `STATUS=` see the tails
/// as of the last refresh (at most one checkpoint interval old).
final class SourceTable: @unchecked Sendable {
    /// One source as seen by `acknowledge`, `info` and the checkpoint writer.
    struct Source {
        var info: SourceInfo
        var tracker: AckTracker
        /// End of the last line pushed (the checkpoint catches up to it when all is acked).
        var emittedEnd: Int64
        /// Truncated lines in flight: the budget was charged their head, not their range.
        var truncated: [(start: Int64, excess: Int64)] {
            get { rare?.truncated ?? [] }
            set { update(newValue.isEmpty) { $0.truncated = newValue } }
        }
        /// Kept for the tail hash at checkpoint time (read by `refreshTails`, unlocked). For a
        /// finished source it is owned here (closed once everything is acknowledged and the
        /// final tail hash is known, or at once when forgotten); otherwise by the reader, which
        /// hands it over to close with `detach`.
        var descriptor: FileDescriptor?
        /// Files yes; directly read pipes and superseded (truncated) instances no.
        var checkpointed: Bool
        var finished = false
        var forget = false
        /// Wall ns of the last checkpoint move.
        var updated: Int64
        var tail: (offset: Int64, length: Int, hash: UInt64)?
        /// A spool segment the reader waits to delete: `acknowledge` wakes it once the checkpoint
        /// reaches this offset (one wakeup per segment, not one per acknowledgement).
        var wakeReaderAt: Int64? {
            get { rare?.wakeReaderAt }
            set { update(newValue == nil) { $0.wakeReaderAt = newValue } }
        }
        /// A journal input: the cursor of each pushed entry, advanced with the watermark.
        var cursors: CursorTrail? {
            get { rare?.cursors }
            set { update(newValue == nil) { $0.cursors = newValue } }
        }
        /// A file renamed out of the globs and read to its end: once acknowledged its entry
        /// stays in the checkpoint (as unclaimed), so that the same file found again under
        /// another name (a symlink, a rename back) resumes at its end instead of being re-sent.
        var keep: (offset: Int64, length: Int, hash: UInt64)? {
            get { rare?.keep }
            set { update(newValue == nil) { $0.keep = newValue } }
        }
        /// Closed for the open-file limit before all was acknowledged: the tail hash at the end
        /// of what was read, taken over by `tail` when the checkpoint gets there.
        var endTail: (offset: Int64, length: Int, hash: UInt64)?

        var fullyAcknowledged: Bool { tracker.checkpoint >= emittedEnd }

        /// The fields most sources never set (`truncated`, `wakeReaderAt`, `cursors`, `keep`),
        /// out of line, `nil` until one is set: with 20,000 files the table's dictionary holds
        /// a slot per file, and these were a third of it.
        private var rare: Rare?

        /// Copy on write; a default value set where there is no box allocates none.
        private mutating func update(_ isDefault: Bool, _ body: (Rare) -> Void) {
            if rare == nil {
                if isDefault { return }
                rare = Rare()
            } else if !isKnownUniquelyReferenced(&rare) {
                rare = rare!.copy()
            }
            body(rare!)
            if rare!.isEmpty { rare = nil }
        }

        private final class Rare {
            var truncated: [(start: Int64, excess: Int64)] = []
            var wakeReaderAt: Int64?
            var cursors: CursorTrail?
            var keep: (offset: Int64, length: Int, hash: UInt64)?

            var isEmpty: Bool { truncated.isEmpty && wakeReaderAt == nil && cursors == nil && keep == nil }

            func copy() -> Rare {
                let c = Rare()
                c.truncated = truncated
                c.wakeReaderAt = wakeReaderAt
                c.cursors = cursors
                c.keep = keep
                return c
            }
        }

        init(info: SourceInfo, tracker: AckTracker, emittedEnd: Int64, descriptor: FileDescriptor?, checkpointed: Bool,
             updated: Int64, cursors: CursorTrail?) {
            self.info = info
            self.tracker = tracker
            self.emittedEnd = emittedEnd
            self.descriptor = descriptor
            self.checkpointed = checkpointed
            self.updated = updated
            self.cursors = cursors
        }
    }

    /// Never held over I/O (`LockAudit` checks it in tests): other stages' threads wait on it.
    private let lock = ConditionLock(audited: "tail.sources")
    /// For tests: `LockAudit.violations(of:)`.
    var auditedLock: ConditionLock { lock }
    /// For tests: runs in `refreshTails` between lending descriptors and reading them.
    nonisolated(unsafe) var beforeTailReads: (() -> Void)?
    private var sources: [SourceID: Source] = [:] { didSet { changes &+= 1 } }
    /// Checkpoint entries not matched to a file yet (kept until `forgetAfter`).
    private var unclaimed = UnclaimedEntries() { didSet { changes &+= 1 } }
    /// Journal cursors loaded at start, by input name, until the journal input claims them.
    private var unclaimedCursors: [String: JournalCheckpoint] = [:] { didSet { changes &+= 1 } }
    /// Bumped by every change to the above, so an idle tailer does not even build a snapshot.
    private var changes: UInt64 = 0
    private var stopping = false
    /// FIFO paths whose spool is at its cap (set by the reader).
    private var blocked: Set<String> = []
    private var readingDone = false
    private let forgetAfter: Int64
    /// Wakes the reader (its event descriptor); called with the lock released (counted in
    /// `waking`), never after `close`.
    private let wakeReader: @Sendable () -> Void
    /// Wakes the checkpoint thread (the leading edge, see `CheckpointSchedule`): called, with
    /// the lock released, by the first acknowledgement after `armCheckpointWake`, so once per
    /// write, not once per acknowledgement.
    private let wakeCheckpoint: @Sendable () -> Void
    private var checkpointArmed = true
    /// Finished sources that may still hold a descriptor (a superset; see `heldDescriptorCount`).
    private var held: Set<SourceID> = []
    private var closed = false
    /// Checkpointed sources whose tail hash may be behind their watermark: `refreshTails` reads
    /// these (not every source) on its next pass.
    private var stale: Set<SourceID> = []
    /// Descriptors `refreshTails` is reading now (how many times), and those let go meanwhile:
    /// the last return closes them.
    private var lent: [FileDescriptor: Int] = [:]
    private var closeWhenReturned: Set<FileDescriptor> = []
    /// Threads signalling the reader with the lock released (`close` waits for them).
    private var waking = 0

    init(entries: [CheckpointEntry], cursors: [JournalCheckpoint], forgetAfter: Int64, wakeReader: @escaping @Sendable () -> Void,
         wakeCheckpoint: @escaping @Sendable () -> Void = {}) {
        self.forgetAfter = forgetAfter
        self.wakeReader = wakeReader
        self.wakeCheckpoint = wakeCheckpoint
        unclaimed = UnclaimedEntries(entries)
        // Most come back as sources: sized once instead of doubling (old and new storage
        // at once) while thousands of files are discovered.
        sources.reserveCapacity(entries.count)
        for c in cursors { unclaimedCursors[c.input] = c }
    }

    // MARK: Lifecycle flags

    var isStopping: Bool { lock.withLock { stopping } }

    func requestStop() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    /// `once` mode: the reader read everything it will read.
    func markReadingDone() {
        lock.withLock {
            readingDone = true
            lock.broadcast()
        }
    }

    /// Waits up to `nanoseconds` for an acknowledgement or a stop. Returns whether stopping.
    func pause(nanoseconds: Int64) -> Bool {
        lock.withLock {
            if !stopping { lock.wait(until: SystemClock.monotonicNanoseconds() + nanoseconds) }
            return stopping
        }
    }

    // MARK: Reader side

    /// `done`: ranges past `base` already done (from the checkpoint; the reader skips them).
    func add(_ id: SourceID, info: SourceInfo, base: Int64, done: [Range<Int64>] = [], descriptor: FileDescriptor?, checkpointed: Bool,
             cursors: CursorTrail? = nil) {
        lock.withLock {
            sources[id] = Source(info: info, tracker: AckTracker(base: base, done: done), emittedEnd: base, descriptor: descriptor,
                                 checkpointed: checkpointed, updated: SystemClock.wallNanoseconds(), cursors: cursors)
            if checkpointed { stale.insert(id) }
        }
    }

    /// Path, key or fingerprint changed (renamed, first line complete, file grew).
    func updateInfo(_ id: SourceID, _ body: (inout SourceInfo) -> Void) {
        lock.withLock {
            guard sources[id] != nil else { return }
            body(&sources[id]!.info)
        }
    }

    /// The reader reopened a file closed for the open-file limit.
    func attach(_ id: SourceID, descriptor: FileDescriptor) {
        lock.withLock {
            sources[id]?.descriptor = descriptor
            sources[id]?.endTail = nil
            if sources[id]?.checkpointed == true { stale.insert(id) }
        }
    }

    /// The reader closes a file for the open-file limit: the table takes the tail hash at the
    /// watermark first (on the reader's thread, with the lock released), then closes the
    /// descriptor (returns false when it holds none for `id`: the caller closes its own).
    /// `endTail`: the hash before the end of what was read (the reader took it), used once every
    /// line is acknowledged, so a file need not stay open while its lines are in flight.
    @discardableResult
    func detach(_ id: SourceID, endTail: (offset: Int64, length: Int, hash: UInt64)? = nil) -> Bool {
        let job = lock.withLock { () -> TailJob? in
            guard let s = sources[id], let fd = s.descriptor, s.checkpointed, s.tail?.offset != s.tracker.checkpoint else { return nil }
            lent[fd, default: 0] += 1
            return TailJob(id: id, descriptor: fd, offset: s.tracker.checkpoint)
        }
        let hashed = job.map { ($0, Self.tailHash($0)) }
        var owned = false
        let closing = lock.withLock { () -> [FileDescriptor] in
            var closing: [FileDescriptor] = []
            if let (job, hash) = hashed { settleLocked(job, hash, &closing) }
            if let fd = sources[id]?.descriptor {
                owned = true
                sources[id]!.descriptor = nil
                letGoLocked(fd, &closing)
            }
            sources[id]?.endTail = endTail
            return closing
        }
        for fd in closing { fd.close() }
        return owned
    }

    /// A truncated or replaced file: the old instance is no longer checkpointed (its lines in
    /// flight are still acknowledged) and its descriptor now belongs to the new instance.
    func supersede(_ id: SourceID) {
        lock.withLock {
            sources[id]?.checkpointed = false
            sources[id]?.descriptor = nil
        }
        finish(id, forget: true)
    }

    /// The reader lets go of a source. With `forget` its descriptor closes at once (nothing more
    /// is needed from a renamed-away or deleted file, and a deleted one holds its disk space);
    /// otherwise it stays open until acknowledged, for the checkpoint's tail hash.
    ///
    /// `keep`: the tail hash at the end of a renamed-away file read to its end (see `Source.keep`).
    /// `endTail`: the tail hash at the end of what was read (the reader took it), so that the
    /// descriptor closes as soon as the last line is acknowledged, without another read.
    func finish(_ id: SourceID, forget: Bool, keep: (offset: Int64, length: Int, hash: UInt64)? = nil,
                endTail: (offset: Int64, length: Int, hash: UInt64)? = nil) {
        let closing = lock.withLock { () -> [FileDescriptor] in
            var closing: [FileDescriptor] = []
            guard var s = sources[id] else { return closing }
            s.finished = true
            s.forget = forget
            s.keep = keep
            if let endTail { s.endTail = endTail }
            if forget, let fd = s.descriptor {
                s.descriptor = nil
                letGoLocked(fd, &closing)
            }
            if s.fullyAcknowledged { retireLocked(id, s, &closing) } else { sources[id] = s }
            if sources[id]?.descriptor != nil { held.insert(id) }
            lock.broadcast()
            return closing
        }
        for fd in closing { fd.close() }
    }

    /// The checkpoint entry loaded for this identity, if any (each is claimed once).
    func claim(_ identity: FileIdentity) -> CheckpointEntry? {
        lock.withLock { unclaimed.removeValue(forKey: identity) }
    }

    /// The journal cursor loaded for this input, if any.
    func claimCursor(input: String) -> JournalCheckpoint? {
        lock.withLock { unclaimedCursors.removeValue(forKey: input) }
    }

    var unclaimedEntries: [CheckpointEntry] { lock.withLock { Array(unclaimed.values) } }

    /// Descriptors held by finished sources that wait for acknowledgements (they count against
    /// the open-file limit).
    /// O(finished sources waiting for acknowledgements), not O(all sources): asked before every
    /// file opened once the open-file limit is reached.
    var heldDescriptorCount: Int {
        lock.withLock {
            held = held.filter { sources[$0].map { $0.finished && $0.descriptor != nil } ?? false }
            return held.count
        }
    }

    /// Which of `ids` have every line pushed so far acknowledged.
    func fullyAcknowledged(_ ids: [SourceID]) -> Set<SourceID> {
        lock.withLock { Set(ids.filter { sources[$0]?.fullyAcknowledged ?? false }) }
    }

    /// Before a batch is pushed: its lines are in flight from now on. Returns what `undoPush`
    /// needs when the push fails.
    func recordPush(_ id: SourceID, start: Int64, end: Int64, excess: [(start: Int64, excess: Int64)],
                    cursors: [CursorTrail.Mark] = []) -> Int64 {
        lock.withLock {
            let previous = sources[id]?.emittedEnd ?? start
            sources[id]?.emittedEnd = end
            sources[id]?.truncated += excess
            if !cursors.isEmpty { sources[id]?.cursors?.append(cursors) }
            return previous
        }
    }

    /// The push failed (the output was closed): the batch never left; the reader stops.
    func undoPush(_ id: SourceID, previousEnd: Int64, excess: [(start: Int64, excess: Int64)], cursorCount: Int = 0) {
        lock.withLock {
            sources[id]?.emittedEnd = previousEnd
            sources[id]?.truncated.removeAll { t in excess.contains { $0.start == t.start } }
            if cursorCount > 0 { sources[id]?.cursors?.dropLast(cursorCount) }
            stopping = true
            lock.broadcast()
        }
    }

    /// True when everything before `offset` is acknowledged; otherwise `acknowledge` wakes the
    /// reader once it is.
    func acknowledged(_ id: SourceID, through offset: Int64) -> Bool {
        lock.withLock {
            guard let s = sources[id] else { return false }
            if s.tracker.checkpoint >= offset { return true }
            sources[id]?.wakeReaderAt = offset
            return false
        }
    }

    /// The reader found a pipe's spool full (`true`) or read it again (`false`).
    func setPipeBlocked(_ path: String, _ isBlocked: Bool) {
        lock.withLock {
            if isBlocked { blocked.insert(path) } else { blocked.remove(path) }
        }
    }

    var blockedPipes: [String] { lock.withLock { blocked.sorted() } }

    // MARK: Downstream side

    /// Marks `start..<end` of `source` done and returns how many bytes were newly acknowledged
    /// (to release from the budget; truncated lines count only their head). Any thread; any
    /// order; duplicates and unknown sources return 0.
    func acknowledge(_ source: SourceID, start: Int64, end: Int64) -> Int64 {
        var closing: [FileDescriptor] = []
        var wakeTheReader = false
        var wakeTheCheckpoint = false
        let release = lock.withLock { () -> Int64 in
            guard var s = sources[source] else { return 0 }
            let before = s.tracker.checkpoint
            let added = s.tracker.markDone(start: start, end: end)
            var release = added
            if !s.truncated.isEmpty {
                s.truncated.removeAll { t in
                    guard t.start >= start && t.start < end else { return false }
                    release -= t.excess
                    return true
                }
            }
            if s.tracker.checkpoint != before {
                s.updated = SystemClock.wallNanoseconds()
                let checkpoint = s.tracker.checkpoint
                s.cursors?.advance(to: checkpoint)
                if s.checkpointed { stale.insert(source) }
            }
            if checkpointArmed && added > 0 && (s.checkpointed || s.cursors != nil) {
                checkpointArmed = false
                wakeTheCheckpoint = true
            }
            if let w = s.wakeReaderAt, s.tracker.checkpoint >= w {
                s.wakeReaderAt = nil
                // Signalled below, unlocked; `close` closes the event only once `waking` is 0.
                if !stopping && !closed {
                    waking += 1
                    wakeTheReader = true
                }
            }
            if s.finished && s.fullyAcknowledged {
                retireLocked(source, s, &closing)
            } else {
                sources[source] = s
            }
            lock.broadcast()
            return release
        }
        for fd in closing { fd.close() }
        if wakeTheCheckpoint { wakeCheckpoint() }
        if wakeTheReader {
            wakeReader()
            lock.withLock {
                waking -= 1
                if waking == 0 { lock.broadcast() }
            }
        }
        return release
    }

    /// The next acknowledgement wakes the checkpoint thread (called before each write).
    func armCheckpointWake() { lock.withLock { checkpointArmed = true } }

    func info(_ id: SourceID) -> SourceInfo? { lock.withLock { sources[id]?.info } }

    var count: Int { lock.withLock { sources.count } }

    var isFinished: Bool { lock.withLock { readingDone && sources.values.allSatisfy(\.fullyAcknowledged) } }

    /// Waits until `isFinished` or the monotonic `deadline` (ns). Dedicated threads only.
    func waitUntilAllAcknowledged(deadline: Int64) -> Bool {
        lock.withLock {
            while !(readingDone && sources.values.allSatisfy(\.fullyAcknowledged)) {
                if !lock.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { return false }
            }
            return true
        }
    }

    /// Journal inputs: where each one stands (for `/metrics`).
    var journalProgress: [JournalProgress] {
        lock.withLock {
            sources.values.compactMap { s in
                s.cursors.map { JournalProgress(input: s.info.input, checkpoint: $0.checkpoint, latest: $0.latest) }
            }.sorted { $0.input < $1.input }
        }
    }

    /// The checkpoint as it would be written now, or `nil` when nothing changed since `token`
    /// (pass the returned token next time; `nil` token: always).
    func snapshot(ifChangedSince token: UInt64?) -> (files: [CheckpointEntry], cursors: [JournalCheckpoint], token: UInt64)? {
        // Copied under the lock; selected and sorted (20,000 paths) after it.
        guard let copy = lock.withLock({ () -> (rows: [CheckpointSelection.Row], unclaimed: [CheckpointEntry], cursors: [JournalCheckpoint], token: UInt64)? in
            if let token, token == changes { return nil }
            let s = rowsLocked()
            return (s.rows, Array(unclaimed.values), s.cursors + unclaimedCursors.values, changes)
        }) else { return nil }
        let files = CheckpointSelection.entries(rows: copy.rows, unclaimed: copy.unclaimed, now: SystemClock.wallNanoseconds(), forgetAfter: forgetAfter)
        return (files, copy.cursors.sorted { $0.input < $1.input }, copy.token)
    }

    private func rowsLocked() -> (rows: [CheckpointSelection.Row], cursors: [JournalCheckpoint]) {
        var rows: [CheckpointSelection.Row] = []
        rows.reserveCapacity(sources.count)
        var cursors: [JournalCheckpoint] = []
        for s in sources.values {
            if let c = s.cursors, let at = c.checkpoint {
                cursors.append(JournalCheckpoint(input: s.info.input, cursor: at.cursor, realtime: at.realtime, updated: s.updated))
            }
            guard s.checkpointed, let identity = s.info.identity, let fp = s.info.fingerprint else {
                rows.append(.init(entry: nil, checkpointed: false))
                continue
            }
            rows.append(.init(entry: s.tail.map {
                CheckpointEntry(input: s.info.input, path: s.info.path, identity: identity, fingerprint: fp,
                                offset: $0.offset, tailLength: $0.length, tailHash: $0.hash, key: s.info.key, updated: s.updated,
                                done: CheckpointSelection.done(tail: $0.offset, watermark: s.tracker.checkpoint, tracker: s.tracker))
            }, checkpointed: true))
        }
        return (rows, cursors)
    }

    /// Closes every descriptor the table holds, then runs `body` (closing the reader's wake-up
    /// event), both with the lock released. After this `acknowledge` never wakes the reader.
    func close(_ body: () -> Void = {}) {
        let closing = lock.withLock { () -> [FileDescriptor] in
            closed = true
            while waking > 0 { lock.wait() }
            var closing: [FileDescriptor] = []
            // By key, not `for (id, s) in sources`: changing the dictionary while iterating it
            // copied all of it (7 MB with 20,000 files) at every stop.
            for id in Array(sources.keys) {
                guard let fd = sources[id]?.descriptor else { continue }
                sources[id]?.descriptor = nil
                letGoLocked(fd, &closing)
            }
            return closing
        }
        for fd in closing { fd.close() }
        body()
    }

    /// Reads the tail hashes the checkpoint needs: for each source whose watermark moved, the
    /// bytes just before it, with the lock released (the caller is the checkpoint writer; call it
    /// before `snapshot`). A finished source waiting for its final hash is closed afterwards.
    func refreshTails() {
        var closing: [FileDescriptor] = []
        let jobs = lock.withLock { () -> [TailJob] in
            var jobs: [TailJob] = []
            for id in stale {
                guard var s = sources[id], s.checkpointed else { continue }
                let offset = s.tracker.checkpoint
                if s.tail?.offset == offset && !(s.finished && s.fullyAcknowledged && !s.forget && s.descriptor != nil) { continue }
                if s.tail?.offset != offset, let e = s.endTail, e.offset == offset { s.tail = e }
                if s.tail?.offset == offset {
                    // A retired source that waited for its final hash lets its descriptor go.
                    if s.finished && s.fullyAcknowledged && !s.forget, let fd = s.descriptor {
                        s.descriptor = nil
                        letGoLocked(fd, &closing)
                    }
                    sources[id] = s
                    continue
                }
                guard let fd = s.descriptor else { continue }
                lent[fd, default: 0] += 1
                jobs.append(TailJob(id: id, descriptor: fd, offset: offset))
            }
            stale = []
            return jobs
        }
        for fd in closing { fd.close() }
        guard !jobs.isEmpty else { return }
        beforeTailReads?()
        let hashed = jobs.map { ($0, Self.tailHash($0)) }
        closing = lock.withLock { () -> [FileDescriptor] in
            var closing: [FileDescriptor] = []
            for (job, hash) in hashed { settleLocked(job, hash, &closing) }
            return closing
        }
        for fd in closing { fd.close() }
    }

    // MARK: Private

    /// A tail hash to read with the lock released: `offset` was the watermark of `id`.
    private struct TailJob {
        var id: SourceID
        var descriptor: FileDescriptor
        var offset: Int64
    }

    /// The hash of the bytes before `job.offset`; `nil` when fewer are there than the checkpoint
    /// needs (the file shrank: no proof, the last written entry stays).
    private static func tailHash(_ job: TailJob) -> (length: Int, hash: UInt64)? {
        guard let t = try? Fingerprint.tailHash(job.descriptor, before: job.offset, count: CheckpointEntry.tailBytes),
              Int64(t.length) == min(job.offset, Int64(CheckpointEntry.tailBytes)) else { return nil }
        return t
    }

    /// A tail job is back: the descriptor is returned, the hash kept if it is newer than the
    /// one held (never past the watermark: that only grows), and a finished, fully acknowledged
    /// source that waited for it lets its descriptor go.
    private func settleLocked(_ job: TailJob, _ hash: (length: Int, hash: UInt64)?, _ closing: inout [FileDescriptor]) {
        if let n = lent[job.descriptor] {
            if n > 1 { lent[job.descriptor] = n - 1 } else { lent[job.descriptor] = nil }
            if n == 1, closeWhenReturned.remove(job.descriptor) != nil { closing.append(job.descriptor) }
        }
        guard var s = sources[job.id] else { return }
        let outcome = TailRefresh.settle(read: hash != nil, offset: job.offset, tail: s.tail?.offset, watermark: s.tracker.checkpoint,
                                         checkpointed: s.checkpointed, retired: s.finished && s.fullyAcknowledged && !s.forget)
        if outcome.adopt, let hash { s.tail = (job.offset, hash.length, hash.hash) }
        if outcome.again { stale.insert(job.id) }
        if outcome.release, let fd = s.descriptor {
            s.descriptor = nil
            letGoLocked(fd, &closing)
        }
        sources[job.id] = s
    }

    /// `fd` is no longer the table's: closed by the caller once unlocked, or by the last
    /// `refreshTails` reading it.
    private func letGoLocked(_ fd: FileDescriptor, _ closing: inout [FileDescriptor]) {
        if lent[fd] != nil { closeWhenReturned.insert(fd) } else { closing.append(fd) }
    }

    /// A finished, fully acknowledged source: its descriptor closes; with `forget` (renamed out
    /// of the globs or deleted, and read to its end) its checkpoint entry goes too. One whose
    /// tail hash at the final watermark is still to be read keeps its descriptor until the
    /// next `refreshTails` has read it.
    private func retireLocked(_ id: SourceID, _ s: Source, _ closing: inout [FileDescriptor]) {
        var s = s
        if s.forget {
            if let fd = s.descriptor { letGoLocked(fd, &closing) }
            sources[id] = nil
            if let k = s.keep, s.checkpointed, k.offset == s.tracker.checkpoint, let identity = s.info.identity, let fp = s.info.fingerprint {
                unclaimed[identity] = CheckpointEntry(input: s.info.input, path: s.info.path, identity: identity, fingerprint: fp,
                                                      offset: k.offset, tailLength: k.length, tailHash: k.hash, key: s.info.key,
                                                      updated: SystemClock.wallNanoseconds())
            }
            return
        }
        let offset = s.tracker.checkpoint
        if s.tail?.offset != offset, let e = s.endTail, e.offset == offset { s.tail = e }
        if let fd = s.descriptor, !s.checkpointed || s.tail?.offset == offset {
            s.descriptor = nil
            letGoLocked(fd, &closing)
        } else if s.descriptor != nil {
            stale.insert(id)
        }
        sources[id] = s
    }
}

/// A tail hash read with the table's lock released, once the lock is taken again: the
/// watermark may have moved and the source may have been retired meanwhile. Pure.
///
/// | read | `offset` vs the tail held | `offset` vs the watermark now | outcome |
/// |------|---------------------------|-------------------------------|---------|
/// | yes  | newer (or none held)      | ≤ (only ever grows)           | adopt: entries are written at `offset` |
/// | yes  | not newer                 | any                           | keep the held one |
/// | no (file shrank) | any           | any                           | keep the held one (the last written entry stays) |
/// | any  | any                       | moved past it                 | read again next pass |
/// | any  | any                       | equal, source retired         | release: its descriptor closes |
enum TailRefresh {
    struct Outcome: Equatable, Sendable {
        var adopt = false
        var again = false
        var release = false
    }

    /// `retired`: finished, every line acknowledged, its entry kept (not forgotten).
    static func settle(read: Bool, offset: Int64, tail: Int64?, watermark: Int64, checkpointed: Bool, retired: Bool) -> Outcome {
        Outcome(adopt: read && checkpointed && (tail ?? -1) < offset && offset <= watermark,
                again: checkpointed && watermark != offset,
                release: retired && watermark == offset)
    }
}

/// Which entries go into a checkpoint: a pure function of what the table holds.
///
/// | source                                            | written                               |
/// |---------------------------------------------------|---------------------------------------|
/// | checkpointed file with a proven tail hash          | its current entry                     |
/// | checkpointed file without one (shrank, no descriptor yet) | nothing new: its last written entry is lost only if it was never proven |
/// | not checkpointed (a pipe read directly, a superseded instance) | nothing                   |
/// | loaded entry not matched to a file, updated < `forgetAfter` ago | kept as loaded          |
/// | loaded entry not matched, older                    | forgotten                             |
///
/// Sorted by path, then inode, so that the file diffs well.
enum CheckpointSelection {
    struct Row {
        var entry: CheckpointEntry?
        var checkpointed: Bool
    }

    /// The done ranges an entry written at `tail` keeps: those past the watermark and, when the
    /// tail hash lags behind the watermark (a file whose descriptor is closed: renamed away,
    /// deleted, or closed for the open-file limit), `tail..<watermark` too, so that a restart
    /// skips what was acknowledged since instead of sending it again. At most
    /// `CheckpointEntry.maxDoneRanges`.
    ///
    /// | tail vs watermark | done ranges                                   |
    /// |-------------------|-----------------------------------------------|
    /// | equal             | the tracker's (largest first, up to the limit) |
    /// | tail < watermark  | `tail..<watermark`, then the tracker's (one fewer) |
    static func done(tail: Int64, watermark: Int64, tracker: AckTracker) -> [Range<Int64>] {
        guard tail < watermark else { return tracker.doneRanges(limit: CheckpointEntry.maxDoneRanges) }
        return [tail..<watermark] + tracker.doneRanges(limit: CheckpointEntry.maxDoneRanges - 1)
    }

    static func entries(rows: [Row], unclaimed: some Collection<CheckpointEntry>, now: Int64, forgetAfter: Int64) -> [CheckpointEntry] {
        // Sized once: with 20,000 files each copy grown by doubling was megabytes.
        var out: [CheckpointEntry] = []
        out.reserveCapacity(rows.count + unclaimed.count)
        for r in rows where r.checkpointed { if let e = r.entry { out.append(e) } }
        for e in unclaimed where now - e.updated < forgetAfter { out.append(e) }
        sortInPlace(&out)
        return out
    }

    /// By path, then inode, without the half-size buffer `sort` takes for 112-byte elements:
    /// the order is found on indices, then applied by following the permutation's cycles.
    static func sortInPlace(_ entries: inout [CheckpointEntry]) {
        var order = Array(0..<Int32(entries.count))
        entries.withUnsafeBufferPointer { e in
            order.sort { (e[Int($0)].path, e[Int($0)].identity.inode) < (e[Int($1)].path, e[Int($1)].identity.inode) }
        }
        // Position i takes the element at order[i]; a done position is marked -1.
        for start in order.indices where order[start] >= 0 {
            let first = entries[start]
            var i = start
            while true {
                let from = Int(order[i])
                order[i] = -1
                if from == start {
                    entries[i] = first
                    break
                }
                entries[i] = entries[from]
                i = from
            }
        }
    }
}
