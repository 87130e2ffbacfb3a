import Pipeline
import Posix
import Runtime

/// The body of the tailer's reader thread: discovery, inotify, reading, batching, backpressure.
/// Everything here runs on that one thread; what other stages see goes through `table`.
///
/// The loop, in order each turn: pipe spools maintained → files with news read → (`once`: done?)
/// → glob rescan when due → tick when due (orphans, polling) → wait in `poll(2)` for inotify,
/// the wake-up event, pipes and journalctl, at most until the next timer. `ReaderSchedule`
/// decides the timers from the injected clock.
final class TailReader: @unchecked Sendable {
    let tailer: Tailer
    let config: TailConfiguration
    let logger: Logger
    /// Beats each time round the loop and during every wait (see `Heartbeats`).
    let heartbeat = Heartbeats.shared.register("tail-reader")
    var instances: [SourceID: FileInstance] = [:]
    var byPath: [String: SourceID] = [:]
    var byIdentity: [FileIdentity: SourceID] = [:]
    var pipes: [PipeInstance] = []
    var journals: [JournalInput] = []
    var inotify: Inotify?
    var watches: [Int32: String] = [:]
    var watchedDirectories: Set<String> = []
    var watchFailed = false
    var nextID: UInt32 = 1
    /// Instances holding a descriptor (at most `max_open_files`): the only ones `ensureSlot`
    /// looks at, so that opening a file costs the same with 20,000 known files as with 20.
    var open: Set<SourceID> = []
    var openCount: Int { open.count }
    /// Instances whose path stopped naming them (a superset: `tick` drops the ones that are
    /// gone or came back), so that neither the tick nor the loop's conditions walk every file.
    var orphans: Set<SourceID> = []
    /// Instances `ensureSlot` looked at, over the reader's life (for tests: it must grow with
    /// the files opened times `max_open_files`, not with the square of the files known).
    var slotCandidatesVisited = 0
    /// Checkpoint entries `recoverRotatedWhileStopped` looked for outside the globs (for tests).
    var entriesSearchedAtStartup = 0
    var dirty: Set<SourceID> = []
    var needScan = false
    /// Files found at startup that waited for a free open-file slot.
    var deferredAtStartup: Set<FileIdentity> = []
    var deferredDiscovery = false
    var warnedLimit = false
    /// `ensureSlot` found no free slot this turn of `readDirty` (not searched again per file).
    var noFreeSlot = false
    /// Known files closed for the open-file limit that have news but found no free slot:
    /// marked dirty again at each (100 ms) tick.
    var waitingForSlot: Set<SourceID> = []
    /// Found by the last scan, waiting for a slot (last to open first; see `discoverPending`).
    var pendingDiscovery: [(path: String, identity: FileIdentity, input: Int)] = []
    /// Files rotated out of the globs while we were stopped (found by `recoverRotatedWhileStopped`),
    /// waiting for a slot to read the rest of them; opened before `pendingDiscovery`.
    var pendingRecovery: [(path: String, identity: FileIdentity, input: Int, oldPath: String)] = []
    /// Per pattern directory, its modification time when the last full scan listed it (nil:
    /// reuse impossible: no scan yet, or a directory part with wildcards); see `quickRescan`.
    var listedDirectories: [String: Int64]?
    var listedAt: Int64 = 0
    var quickRescansInARow = 0
    /// Periodic rescans that only re-stat known files / that listed the directories (for tests).
    var quickRescans = 0
    var fullScans = 0
    /// Discovery waits for a free open-file slot: the tick runs every 100 ms to retry.
    var waitingToDiscover: Bool { deferredDiscovery || !pendingRecovery.isEmpty }
    var onceQueue: [(path: String, identity: FileIdentity, input: Int, size: Int64)] = []
    var failedOpen: Set<String> = []
    /// Monotonic ns until which inotify is not polled (see `waitForEvents`).
    var inotifyQuietUntil: Int64?
    /// Lines were handed on since the reader last waited: it sends `LineBatch.caughtUpMarker`
    /// before it waits again.
    var pushedSinceWait = false
    /// The batch being pushed belongs to a deleted file past its grace time.
    var abandonCurrent = false
    /// Keys of instances let go, by identity: a file that reuses the inode with the same first
    /// line must not get the same key (see `FileDecisions.instanceKey`). Bounded: cleared past
    /// 4096 entries (the risk it covers needs a reuse soon after the close).
    var retiredKeys: [FileIdentity: UInt64] = [:]
    let buffer: UnsafeMutableRawBufferPointer
    /// Pipes are pumped into their spools also while a file's batch waits for the budget.
    let pipeBuffer: UnsafeMutableRawBufferPointer

    static let tick = ReaderSchedule.tick
    static let turnsPerFile = 16
    let table: SourceTable
    let clock: any Clock
    let policy: ReadPolicy

    init(tailer: Tailer) {
        self.tailer = tailer
        config = tailer.configuration
        logger = tailer.logger
        table = tailer.table
        clock = tailer.clock
        policy = config.policy
        buffer = .allocate(byteCount: config.readChunkBytes, alignment: 16)
        pipeBuffer = .allocate(byteCount: config.inputs.contains { $0.kind == .pipe } ? config.readChunkBytes : 0, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        pipeBuffer.deallocate()
    }

    var now: Int64 { clock.now() }
    var stopping: Bool { table.isStopping }

    /// What the schedule needs to know about the reader's state right now.
    var conditions: ReaderSchedule.Conditions {
        ReaderSchedule.Conditions(
            once: !policy.follows,
            polling: !policy.follows || inotify == nil || watchFailed || waitingToDiscover || !waitingForSlot.isEmpty
                || !orphans.isEmpty,
            fastTick: !policy.follows || waitingToDiscover || !waitingForSlot.isEmpty,
            retryTimer: journalRestartDue
                || pipes.contains { p in p.spoolRetryAt != nil || p.spool.map { !$0.pending.isEmpty || $0.needsSync } ?? false },
            workWaiting: !dirty.isEmpty || needScan,
            scanRequested: needScan)
    }

    // MARK: The loop

    func run() {
        if policy.follows && !config.disableInotify {
            do { inotify = try Inotify.create() } catch {
                logger.warning("inotify unavailable; polling files every second", ["error": "\(error)"])
            }
        }
        openPipes()
        openJournals()
        if !policy.follows {
            onceQueue = observeAll().map { ($0.path, $0.identity, $0.input, $0.size) }
            discoverOnceQueue()
        } else {
            scan(startup: true)
            recoverRotatedWhileStopped()
        }
        var schedule = ReaderSchedule(now: now, rescanInterval: config.rescanInterval)
        while !stopping {
            heartbeat.beat()
            maintainSpools()
            maintainJournals()
            readDirty()
            // Files read to their end free their slots at once: the next ones open now, not at
            // the next tick (with 20,000 files and 256 slots, 100 ms per round made start-up slow).
            if policy.follows && (deferredDiscovery && !pendingDiscovery.isEmpty || !pendingRecovery.isEmpty) { discoverPending() }
            if !policy.follows {
                discoverOnceQueue()
                if onceQueue.isEmpty && instances.values.allSatisfy(\.done) && pipes.allSatisfy(\.done) && journals.allSatisfy(\.done)
                    && dirty.isEmpty { break }
            }
            var conditions = self.conditions
            if schedule.takeScan(now: now, conditions) {
                let requested = needScan
                needScan = false
                if requested || !quickRescan() { scan(startup: false) }
                if pipes.contains(where: { $0.descriptor == nil && !$0.done }) { openPipes() }
            }
            conditions = self.conditions
            if schedule.takeTick(now: now, conditions) { tick() }
            let timeout = min(schedule.timeout(now: now, self.conditions), Heartbeats.beatInterval)
            if pushedSinceWait && timeout > 0 {
                // Everything there was is handed on: the batcher need not wait for more.
                pushedSinceWait = false
                _ = tailer.output.push(.caughtUpMarker, beating: heartbeat)
            }
            waitForEvents(timeoutNanoseconds: timeout)
        }
        finish()
    }

    /// Waits for inotify, the wake-up event, pipes and journalctl, at most `timeoutNanoseconds`.
    ///
    /// Reads are coalesced: inotify is looked at again no sooner than `readCoalesce` after the
    /// last time it woke the reader. A writer appending line by line at 5,000/s is then read
    /// in bursts of `readCoalesce` (one read turn and one wake-up of every stage per burst, not
    /// per line), while the first line after a quiet spell is read at once. During
    /// the window the reader sleeps in the same `poll` without the inotify descriptor, so one
    /// blocking call covers both the wait and the stop request; afterwards the events that came
    /// meanwhile are all read in one go.
    func waitForEvents(timeoutNanoseconds: Int64) {
        var fds = [tailer.wakeup.descriptor]
        var timeout = timeoutNanoseconds
        let coalescing = inotifyQuietUntil.map { $0 > now } ?? false
        if coalescing { timeout = min(timeout, inotifyQuietUntil! - now) }
        if let inotify, !coalescing { fds.append(inotify.descriptor) }
        let inotifyReady = inotify != nil && !coalescing
        let pipeStart = fds.count
        let livePipes = pipes.filter { $0.descriptor != nil && !$0.done && !spoolBlocked($0) }
        fds += livePipes.map { $0.descriptor! }
        let journalStart = fds.count
        let liveJournals = journals.filter { $0.process != nil }
        for j in liveJournals { fds += [j.process!.standardOutput, j.process!.standardError] }
        let ms = Int32(min(Int64(Int32.max), (timeout + 999_999) / 1_000_000))
        guard let ready = try? InotifyPoll.wait(fds, timeoutMilliseconds: ms) else { return }
        if ready[0].readable { tailer.wakeup.drain() }
        if inotifyReady && ready[1].readable {
            if config.readCoalesce > 0 && policy.follows { inotifyQuietUntil = now + config.readCoalesce }
            handleInotify()
        }
        for (i, p) in livePipes.enumerated() where ready[pipeStart + i].readable || ready[pipeStart + i].hangUp {
            if p.spool != nil { pumpPipe(p) } else { readPipe(p, hangUp: ready[pipeStart + i].hangUp) }
        }
        for (i, j) in liveJournals.enumerated() {
            let out = ready[journalStart + 2 * i], err = ready[journalStart + 2 * i + 1]
            if err.readable || err.hangUp { drainJournalErrors(j) }
            if out.readable || out.hangUp { readJournal(j) }
        }
    }

    func handleInotify() {
        guard let inotify else { return }
        let events: [InotifyEvent]
        do { events = try inotify.readEvents() } catch {
            logger.warning("inotify read failed; rescanning", ["error": "\(error)"])
            needScan = true
            return
        }
        for e in events {
            if e.mask.contains(.queueOverflow) {
                logger.notice("inotify queue overflowed; rescanning")
                needScan = true
                dirty.formUnion(instances.keys)
                continue
            }
            if e.mask.contains(.ignored) {
                if let d = watches.removeValue(forKey: e.watch) { watchedDirectories.remove(d) }
                needScan = true
                continue
            }
            guard let dir = watches[e.watch] else { continue }
            if !e.mask.isDisjoint(with: [.create, .movedFrom, .movedTo, .delete]) { needScan = true }
            if !e.mask.isDisjoint(with: [.modify, .closeWrite]), let id = byPath[Path.normalize(Path.join(dir, e.name))] {
                dirty.insert(id)
            }
        }
    }

    /// Once a second while needed: orphans (renamed away or deleted) are read and closed when
    /// done; without inotify every open file is checked.
    func tick() {
        let t = now
        if inotify == nil || watchFailed || !policy.follows {
            for (id, inst) in instances where !inst.done && inst.orphanSince == nil { dirty.insert(id) }
        }
        if waitingToDiscover && policy.follows {
            if pendingDiscovery.isEmpty && pendingRecovery.isEmpty { needScan = true } else { discoverPending() }
        }
        dirty.formUnion(waitingForSlot.filter { instances[$0] != nil })
        waitingForSlot = []
        let orphaned = orphans.compactMap { id in instances[id].flatMap { $0.orphanSince == nil ? nil : $0 } }
        orphans = Set(orphaned.map(\.id))
        for inst in orphaned.sorted(by: { $0.id < $1.id }) {
            var more = false
            for _ in 0..<8 {
                more = readFile(inst)
                if !more { break }
            }
            guard let since = inst.orphanSince, instances[inst.id] === inst else { continue }
            if let fd = inst.descriptor, let st = try? fd.status() { inst.deleted = st.linkCount == 0 }
            let action = FileDecisions.orphanAction(
                deleted: inst.deleted, atEOF: inst.atEOF, idleNanoseconds: t - max(inst.lastActivity, since),
                orphanedNanoseconds: t - since, linger: config.orphanLinger, deletedGrace: config.deletedGrace)
            switch action {
            case .keepReading:
                if more { dirty.insert(inst.id) }
            case .close:
                var batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
                inst.splitter.flush(into: &batch)
                _ = push(&batch, inst.id)
                abandonCurrent = false
                logger.info("file closed after rotation or deletion", ["source.path": inst.path, "source.offset": "\(inst.readOffset)"])
                finish(inst, forget: true, keepEntry: !inst.deleted)
            case .abandon:
                abandon(inst)
            }
        }
    }

    func finish() {
        if policy.finishes {
            table.markReadingDone()
            tailer.output.close()
        }
        closeJournals()
        if let inotify { inotify.close() }
        inotify = nil
        for p in pipes {
            p.descriptor?.close()
            p.descriptor = nil
            p.spool?.close()
        }
    }


    /// Charges the batch to the budget (waiting while it is spent), stamps the source's key on
    /// it and hands it on. False when stopping or the output was closed. `cursors`: a journal
    /// batch's entry cursors, recorded with the push.
    func push(_ batch: inout LineBatch, _ id: SourceID, cursors: [CursorTrail.Mark] = []) -> Bool {
        guard let first = batch.lines.first, let last = batch.lines.last else { return true }
        // A line is complete in the file now, so the key is computable (at the latest here).
        if let inst = instances[id], inst.key == nil, let fd = inst.descriptor { settleKey(inst, fd: fd, atEnd: true) }
        batch.sourceKey = sourceKey(id)
        var excess: [(start: Int64, excess: Int64)] = []
        for l in batch.lines where l.truncated { excess.append((l.start, (l.end - l.start) - Int64(l.textCount))) }
        // Summed per line: a batch may jump over a range done before a restart.
        let charge = Int(batch.lines.reduce(0) { $0 + ($1.end - $1.start) } - excess.reduce(0) { $0 + $1.excess })
        var waits = 0
        while !tailer.budget.tryAcquire(charge) {
            heartbeat.beat()
            // Downstream is slow, the spool is not: keep taking what the pipes have.
            pumpPipes()
            if table.pause(nanoseconds: 100_000_000) { return false }
            waits += 1
            if waits % 10 == 0 && closeExpiredDeleted(current: id) {
                abandonCurrent = true
                return false
            }
        }
        let previousEnd = table.recordPush(id, start: first.start, end: last.end, excess: excess, cursors: cursors)
        if !tailer.output.push(batch, beating: heartbeat) {
            tailer.budget.release(charge)
            table.undoPush(id, previousEnd: previousEnd, excess: excess, cursorCount: cursors.count)
            return false
        }
        pushedSinceWait = true
        return true
    }

    /// The key event ids derive from (see `SourceInfo.key`), carried by each batch.
    func sourceKey(_ id: SourceID) -> UInt64 {
        if let inst = instances[id] { return inst.key ?? 0 }
        return table.info(id)?.key ?? 0
    }
}
