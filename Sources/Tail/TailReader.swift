import Pipeline
import Posix
import Runtime

/// One open (or, for the open-file limit, temporarily closed) file instance. Reader thread only.
final class FileInstance {
    var id: SourceID
    let input: Int
    var path: String
    let identity: FileIdentity
    var descriptor: FileDescriptor?
    var readOffset: Int64
    var splitter: LineSplitter
    var fingerprint: Fingerprint
    /// `nil` until the first line is there (see `FileDecisions.instanceKey`).
    var key: UInt64?
    /// The previous instance's key at this identity, not to be reused.
    var avoidKey: UInt64?
    /// Monotonic ns since its path stopped naming it (renamed out of the globs or deleted).
    var orphanSince: Int64?
    var deleted = false
    /// Monotonic ns of the last read that returned data (or of opening).
    var lastActivity: Int64
    var atEOF = false
    /// `once` mode: the size it had at start; reading stops there.
    var onceLimit: Int64?
    var done = false
    /// The last bytes read (just before `readOffset`), to notice a rewrite under our offset.
    var recent: [UInt8] = []
    static let recentBytes = 16

    func remember(_ chunk: UnsafeRawBufferPointer) {
        let k = Self.recentBytes
        if chunk.count >= k {
            recent = Array(chunk[(chunk.count - k)...])
        } else {
            recent.append(contentsOf: chunk)
            if recent.count > k { recent.removeFirst(recent.count - k) }
        }
    }

    init(id: SourceID, input: Int, path: String, identity: FileIdentity, descriptor: FileDescriptor, offset: Int64,
         maxLineBytes: Int, fingerprint: Fingerprint, key: UInt64?, now: Int64) {
        self.id = id
        self.input = input
        self.path = path
        self.identity = identity
        self.descriptor = descriptor
        readOffset = offset
        splitter = LineSplitter(maxLineBytes: maxLineBytes, offset: offset)
        self.fingerprint = fingerprint
        self.key = key
        lastActivity = now
    }
}

/// A FIFO input. Reader thread only.
///
/// Daemon: `spool` holds what was read; the FIFO has no source of its own (its segments are
/// file instances of the same input). `once`: read directly, with `id` and `splitter`.
final class PipeInstance {
    let input: Int
    /// Which of the input's paths (names the spool directory).
    let index: Int
    let path: String
    var id: SourceID?
    var descriptor: FileDescriptor?
    var splitter: LineSplitter
    var done = false
    var spool: PipeSpool?
    /// A spool write failed and was logged; cleared when writing works again.
    var spoolFailing = false
    /// After a spool failure the pipe is left alone until then (monotonic ns).
    var spoolRetryAt: Int64?
    var loggedNoSplice = false

    init(input: Int, index: Int, path: String, maxLineBytes: Int) {
        self.input = input
        self.index = index
        self.path = path
        splitter = LineSplitter(maxLineBytes: maxLineBytes)
    }
}

/// The body of the tailer's reader thread: discovery, inotify, reading, batching, backpressure.
/// Everything here runs on that one thread; shared state is reached through `tailer.state`.
final class TailReader: @unchecked Sendable {
    let tailer: Tailer
    let config: TailConfiguration
    /// Beats each time round the loop and during every wait (see `Heartbeats`).
    let heartbeat = Heartbeats.shared.register("tail-reader")
    let logger: Logger
    var instances: [SourceID: FileInstance] = [:]
    var byPath: [String: SourceID] = [:]
    var byIdentity: [FileIdentity: SourceID] = [:]
    var pipes: [PipeInstance] = []
    var inotify: Inotify?
    var watches: [Int32: String] = [:]
    var watchedDirectories: Set<String> = []
    var watchFailed = false
    var nextID: UInt32 = 1
    var openCount = 0
    var dirty: Set<SourceID> = []
    var needScan = false
    /// Files found at startup that waited for a free open-file slot.
    var deferredAtStartup: Set<FileIdentity> = []
    var deferredDiscovery = false
    var warnedLimit = false
    var onceQueue: [(path: String, identity: FileIdentity, input: Int, size: Int64)] = []
    var failedOpen: Set<String> = []
    /// The batch being pushed belongs to a deleted file past its grace time.
    var abandonCurrent = false
    /// Keys of instances let go, by identity: a file that reuses the inode with the same first
    /// line must not get the same key (see `FileDecisions.instanceKey`). Bounded: cleared past
    /// 4096 entries (the risk it covers needs a reuse soon after the close).
    var retiredKeys: [FileIdentity: UInt64] = [:]
    let buffer: UnsafeMutableRawBufferPointer
    /// Pipes are pumped into their spools also while a file's batch waits for the budget.
    let pipeBuffer: UnsafeMutableRawBufferPointer

    static let tick: Int64 = 1_000_000_000
    static let shortTick: Int64 = 100_000_000
    static let turnsPerFile = 16

    init(tailer: Tailer) {
        self.tailer = tailer
        config = tailer.configuration
        logger = tailer.logger
        buffer = .allocate(byteCount: config.readChunkBytes, alignment: 16)
        pipeBuffer = .allocate(byteCount: config.inputs.contains { $0.kind == .pipe } ? config.readChunkBytes : 0, alignment: 16)
    }

    deinit {
        buffer.deallocate()
        pipeBuffer.deallocate()
    }

    var now: Int64 { SystemClock.monotonicNanoseconds() }
    var stopping: Bool { tailer.state.withLock { tailer.stopping } }

    // MARK: The loop

    func run() {
        if !config.once && !config.disableInotify {
            do { inotify = try Inotify.create() } catch {
                logger.warning("inotify unavailable; polling files every second", ["error": "\(error)"])
            }
        }
        openPipes()
        if config.once {
            onceQueue = observeAll().map { ($0.path, $0.status.identity, $0.input, $0.status.size) }
            discoverOnceQueue()
        } else {
            scan(startup: true)
            recoverRotatedWhileStopped()
        }
        var nextRescan = now + config.rescanInterval
        var nextTick = now + Self.tick
        while !stopping {
            heartbeat.beat()
            maintainSpools()
            readDirty()
            if config.once {
                discoverOnceQueue()
                if onceQueue.isEmpty && instances.values.allSatisfy(\.done) && pipes.allSatisfy(\.done) && dirty.isEmpty { break }
            }
            let t = now
            if !config.once && (needScan || t >= nextRescan) {
                needScan = false
                scan(startup: false)
                if pipes.contains(where: { $0.descriptor == nil && !$0.done }) { openPipes() }
                nextRescan = t + config.rescanInterval
            }
            let tickNeeded = config.once || inotify == nil || watchFailed || deferredDiscovery
                || instances.values.contains { $0.orphanSince != nil }
            if tickNeeded && t >= nextTick {
                tick()
                nextTick = t + (config.once || deferredDiscovery ? Self.shortTick : Self.tick)
            }
            var timeout = config.once ? Self.shortTick : nextRescan - now
            if tickNeeded { timeout = min(timeout, nextTick - now) }
            if pipes.contains(where: { p in p.spoolRetryAt != nil || p.spool.map { !$0.pending.isEmpty || $0.needsSync } ?? false }) {
                timeout = min(timeout, Self.tick)
            }
            if !dirty.isEmpty || needScan { timeout = 0 }
            waitForEvents(timeoutNanoseconds: min(max(0, timeout), Heartbeats.beatInterval))
        }
        finish()
    }

    func waitForEvents(timeoutNanoseconds: Int64) {
        var fds = [tailer.wakeup.descriptor]
        if let inotify { fds.append(inotify.descriptor) }
        let pipeStart = fds.count
        let livePipes = pipes.filter { $0.descriptor != nil && !$0.done && !spoolBlocked($0) }
        fds += livePipes.map { $0.descriptor! }
        let ms = Int32(min(Int64(Int32.max), (timeoutNanoseconds + 999_999) / 1_000_000))
        guard let ready = try? InotifyPoll.wait(fds, timeoutMilliseconds: ms) else { return }
        if ready[0].readable { tailer.wakeup.drain() }
        if inotify != nil && ready[1].readable {
            // Let a burst of appends land before reading: one read of many lines instead of a
            // wake-up of every stage per line (a writer appending line by line at 5,000/s costs
            // ~10x less CPU), for at most `readCoalesce` of extra latency.
            if config.readCoalesce > 0 && !config.once { SystemClock.sleep(nanoseconds: config.readCoalesce) }
            handleInotify()
        }
        for (i, p) in livePipes.enumerated() where ready[pipeStart + i].readable || ready[pipeStart + i].hangUp {
            if p.spool != nil { pumpPipe(p) } else { readPipe(p, hangUp: ready[pipeStart + i].hangUp) }
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
        if inotify == nil || watchFailed || config.once {
            for (id, inst) in instances where !inst.done && inst.orphanSince == nil { dirty.insert(id) }
        }
        if deferredDiscovery && !config.once { needScan = true }
        for inst in Array(instances.values) where inst.orphanSince != nil {
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
                finish(inst, forget: true)
            case .abandon:
                abandon(inst)
            }
        }
    }

    func finish() {
        if config.once {
            tailer.state.withLock {
                tailer.readingDone = true
                tailer.state.broadcast()
            }
            tailer.output.close()
        }
        if let inotify { inotify.close() }
        inotify = nil
        for p in pipes {
            p.descriptor?.close()
            p.descriptor = nil
            p.spool?.close()
        }
    }

    // MARK: Discovery

    struct Found {
        var path: String
        var status: FileStatus
        var input: Int
    }

    /// Every regular file matched by an input's globs and not excluded; first input wins. A
    /// pipe input's files are the segments of its spools.
    func observeAll() -> [Found] {
        var seen = Set<String>()
        var out: [Found] = []
        for (i, spec) in config.inputs.enumerated() {
            let patterns = spec.kind == .file ? spec.paths : spec.paths.indices.map {
                PipeSpool.pattern(directory: config.spoolDirectory(input: spec.name, index: $0))
            }
            for pattern in patterns {
                // Normalized, so that `dir/name` from an inotify event finds it (`./a.log`, `a//b`).
                for path in Glob.expand(pattern).map(Path.normalize) where !seen.contains(path) {
                    if spec.kind == .file && Self.excluded(path, by: spec.exclude) { continue }
                    guard let st = try? FileSystem.status(path), st.isRegularFile else { continue }
                    seen.insert(path)
                    out.append(Found(path: path, status: st, input: i))
                }
            }
        }
        return out
    }

    /// `exclude` patterns with a `/` match the whole path, others the file name.
    static func excluded(_ path: String, by patterns: [String]) -> Bool {
        patterns.contains { p in p.contains("/") ? Glob.matches(p, path) : Glob.matches(p, Path.base(of: path)) }
    }

    func scan(startup: Bool) {
        deferredDiscovery = false
        let found = observeAll()
        updateWatches(found)
        var foundBy: [String: Found] = [:]
        for f in found { foundBy[f.path] = f }
        let tracked = instances.values.filter { $0.orphanSince == nil }.map {
            FileDecisions.Tracked(id: $0.id, path: $0.path, identity: $0.identity)
        }.sorted { $0.id < $1.id }
        let actions = FileDecisions.reconcile(tracked: tracked, observed: found.map { .init(path: $0.path, identity: $0.status.identity) })
        var slotsExhausted = false
        for action in actions {
            heartbeat.beat()  // thousands of files: a long scan is work, not a wedge
            switch action {
            case .keep(let id):
                if let inst = instances[id], let f = foundBy[inst.path], f.status.size != inst.readOffset || inst.descriptor == nil && f.status.size > inst.readOffset {
                    dirty.insert(id)
                }
            case .moved(let id, let to):
                guard let inst = instances[id] else { continue }
                logger.info("file renamed", ["source.path": inst.path, "source.new_path": to])
                move(inst, to: to)
                dirty.insert(id)
            case .orphaned(let id):
                guard let inst = instances[id] else { continue }
                if inst.descriptor == nil {
                    // Closed for the open-file limit while fully read; its path is gone now.
                    finish(inst, forget: true)
                } else {
                    if byPath[inst.path] == id { byPath[inst.path] = nil }
                    inst.orphanSince = now
                    dirty.insert(id)
                }
            case .discovered(let path, let identity):
                guard let f = foundBy[path] else { continue }
                if let id = byIdentity[identity], let inst = instances[id] {
                    // An orphan came back under a matched name.
                    inst.orphanSince = nil
                    move(inst, to: path)
                    dirty.insert(id)
                    continue
                }
                // Once no slot is free, the rest wait for the next scan (no need to try each).
                // A file that was there at startup keeps counting as such (`start_at = "end"`).
                if slotsExhausted {
                    deferredDiscovery = true
                    if startup { deferredAtStartup.insert(identity) }
                    continue
                }
                let wasThere = startup || deferredAtStartup.contains(identity)
                if discover(path: path, identity: identity, input: f.input, startup: wasThere, onceLimit: nil) {
                    deferredAtStartup.remove(identity)
                } else {
                    slotsExhausted = true
                    if startup { deferredAtStartup.insert(identity) }
                }
            }
        }
    }

    func move(_ inst: FileInstance, to path: String) {
        if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
        inst.path = path
        byPath[path] = inst.id
        tailer.state.withLock { tailer.sources[inst.id]?.info.path = path }
    }

    func discoverOnceQueue() {
        deferredDiscovery = false
        while let next = onceQueue.first {
            guard discover(path: next.path, identity: next.identity, input: next.input, startup: true, onceLimit: next.size) else { return }
            onceQueue.removeFirst()
        }
    }

    /// Watches the directory of every pattern (when it has no wildcard) and of every matched file.
    func updateWatches(_ found: [Found]) {
        guard let inotify else { return }
        var dirs = Set<String>()
        for spec in config.inputs where spec.kind == .file {
            for p in spec.paths {
                let d = Path.normalize(Path.directory(of: p))
                if !Glob.hasMagic(d) { dirs.insert(d) }
            }
        }
        for f in found { dirs.insert(Path.directory(of: f.path)) }
        for d in dirs.subtracting(watchedDirectories) {
            do {
                let wd = try inotify.addWatch(d, mask: [.create, .movedFrom, .movedTo, .delete, .modify, .closeWrite, .onlyDirectory])
                watches[wd] = d
                watchedDirectories.insert(d)
            } catch let e as Errno where e.code == Errno.noEntry {
                continue // appears later: found by the rescan
            } catch {
                if !watchFailed {
                    logger.warning("cannot watch directory; polling its files every second", ["directory": d, "error": "\(error)"])
                }
                watchFailed = true
            }
        }
    }

    /// A file we had a checkpoint for may have been rotated out of the globs while we were
    /// stopped (`app.log` → `app.log.1` under the glob `app.log`): look for its identity next to
    /// its old path and read the rest of it before letting go.
    func recoverRotatedWhileStopped() {
        let lost = tailer.state.withLock { Array(tailer.unclaimed.values) }
        guard !lost.isEmpty else { return }
        var byDirectory: [String: [CheckpointEntry]] = [:]
        for e in lost { byDirectory[Path.directory(of: e.path), default: []].append(e) }
        for (dir, entries) in byDirectory {
            guard let names = try? FileSystem.list(dir) else { continue }
            let wanted = Set(entries.map(\.identity))
            for name in names {
                let path = Path.join(dir, name)
                guard let st = try? FileSystem.status(path), st.isRegularFile, wanted.contains(st.identity),
                      byIdentity[st.identity] == nil,
                      let entry = entries.first(where: { $0.identity == st.identity }),
                      let input = config.inputs.firstIndex(where: { $0.name == entry.input && $0.kind == .file }) else { continue }
                if discover(path: path, identity: st.identity, input: input, startup: true, onceLimit: nil, onlyResume: true),
                   let id = byIdentity[st.identity], let inst = instances[id] {
                    logger.info("reading the rest of a file rotated while stopped", ["source.path": path, "source.old_path": entry.path])
                    if byPath[path] == id { byPath[path] = nil }
                    inst.orphanSince = now
                }
            }
        }
    }

    /// Makes room under `maxOpenFiles`; false when every open file is busy.
    func ensureSlot() -> Bool {
        let held = tailer.state.withLock { tailer.sources.values.filter { $0.finished && $0.descriptor != nil }.count }
        if openCount + held < config.maxOpenFiles { return true }
        let acked = tailer.state.withLock { () -> Set<SourceID> in
            Set(tailer.sources.filter { $0.value.fullyAcknowledged }.keys)
        }
        let candidates = instances.values.filter {
            $0.descriptor != nil && $0.orphanSince == nil && $0.atEOF && !dirty.contains($0.id) && acked.contains($0.id)
                && ($0.onceLimit == nil || $0.done)
        }.map { (id: $0.id, idleSince: $0.lastActivity) }
        let evict = FileDecisions.evictions(candidates: candidates, openCount: openCount + held + 1, limit: config.maxOpenFiles)
        for id in evict {
            guard let inst = instances[id], let fd = inst.descriptor else { continue }
            tailer.state.withLock {
                tailer.refreshTailLocked(id)
                tailer.sources[id]?.descriptor = nil
            }
            fd.close()
            inst.descriptor = nil
            openCount -= 1
        }
        if openCount + held < config.maxOpenFiles { return true }
        if !warnedLimit {
            warnedLimit = true
            logger.warning("open file limit reached; more files wait until others are read and acknowledged",
                           ["limits.max_open_files": "\(config.maxOpenFiles)"])
        }
        deferredDiscovery = true
        return false
    }

    /// Opens a newly found file and decides where to start. False when it must wait for a slot.
    ///
    /// `onlyResume`: the file is not matched by the globs (found by `recoverRotatedWhileStopped`);
    /// open it only if its checkpoint proves it is the file we were reading.
    @discardableResult
    func discover(path: String, identity: FileIdentity, input: Int, startup: Bool, onceLimit: Int64?, onlyResume: Bool = false) -> Bool {
        guard ensureSlot() else { return false }
        let spec = config.inputs[input]
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path) } catch {
            if failedOpen.insert(path).inserted { logger.warning("cannot open file", ["source.path": path, "error": "\(error)"]) }
            return true
        }
        failedOpen.remove(path)
        guard let st = try? fd.status(), st.identity == identity, st.isRegularFile,
              let fp = try? Fingerprint.read(fd, length: spec.fingerprintBytes) else {
            fd.close()
            needScan = true
            return true
        }
        var offset: Int64
        var key: UInt64?
        var avoidKey = retiredKeys.removeValue(forKey: identity)
        var fingerprint = fp
        let entry = tailer.state.withLock { tailer.unclaimed.removeValue(forKey: identity) }
        if let entry {
            let prefix = Self.hashPrefix(fd, length: entry.fingerprint.length)
            var tail: UInt64?
            if entry.offset <= st.size, let t = try? Fingerprint.tailHash(fd, before: entry.offset, count: entry.tailLength),
               t.length == entry.tailLength {
                tail = t.hash
            }
            switch FileDecisions.validate(entry, identity: st.identity, size: st.size, prefixHash: prefix, tailHash: tail) {
            case .resume(let at):
                offset = at
                key = entry.key == 0 ? nil : entry.key
                if fp.length < entry.fingerprint.length { fingerprint = entry.fingerprint }
                logger.info("resuming file from checkpoint", ["source.path": path, "source.offset": "\(at)"])
            case .startOver(let reason):
                if onlyResume {
                    fd.close()
                    logger.info("checkpointed file no longer found", ["source.path": entry.path, "reason": reason])
                    return true
                }
                offset = 0
                avoidKey = entry.key
                logger.warning("checkpoint does not match the file; reading it from the start",
                               ["source.path": path, "checkpoint.offset": "\(entry.offset)", "reason": reason])
            }
        } else {
            // A spool segment holds only what the pipe gave us: all of it is to be read.
            let startAt = spec.kind == .pipe ? .beginning : spec.startAt
            var lastLineStart: Int64?
            if startAt == .end && startup { lastLineStart = Self.lastLineStart(fd, size: st.size) }
            offset = FileDecisions.startOffset(startAt: startAt, foundAtStartup: startup, size: st.size, lastLineStart: lastLineStart)
        }
        if let onceLimit { offset = min(offset, onceLimit) }
        let inst = FileInstance(id: allocateID(), input: input, path: path, identity: identity, descriptor: fd, offset: offset,
                                maxLineBytes: spec.maxLineBytes, fingerprint: fingerprint,
                                key: key, now: now)
        inst.onceLimit = onceLimit
        inst.avoidKey = avoidKey
        settleKey(inst, fd: fd, atEnd: false)
        register(inst)
        openCount += 1
        // At startup there may be thousands: one line each only when debugging.
        logger.log(startup ? .debug : .info, "file opened", ["source.path": path, "source.id": "\(inst.id)", "source.offset": "\(offset)"])
        return true
    }

    func register(_ inst: FileInstance) {
        instances[inst.id] = inst
        byPath[inst.path] = inst.id
        byIdentity[inst.identity] = inst.id
        dirty.insert(inst.id)
        let info = SourceInfo(input: config.inputs[inst.input].name, path: inst.path, identity: inst.identity,
                              fingerprint: inst.fingerprint, key: inst.key ?? 0, isPipe: config.inputs[inst.input].kind == .pipe)
        tailer.state.withLock {
            tailer.sources[inst.id] = Tailer.SharedSource(
                info: info, tracker: AckTracker(base: inst.readOffset), emittedEnd: inst.readOffset,
                descriptor: inst.descriptor, checkpointed: true, updated: SystemClock.wallNanoseconds())
        }
    }

    func allocateID() -> SourceID {
        defer { nextID &+= 1 }
        return SourceID(nextID)
    }

    /// Computes the instance key once its first line is there; must run before its first push.
    func settleKey(_ inst: FileInstance, fd: FileDescriptor, atEnd: Bool) {
        guard inst.key == nil else { return }
        let length = config.inputs[inst.input].fingerprintBytes
        guard let head = try? Fingerprint.readBytes(fd, at: 0, count: length),
              let key = FileDecisions.instanceKey(identity: inst.identity, head: head, fingerprintBytes: length,
                                                  atEnd: atEnd, avoid: inst.avoidKey) else { return }
        inst.key = key
        tailer.state.withLock { tailer.sources[inst.id]?.info.key = key }
    }

    /// Offset just past the last newline in the final 64 KiB (0 for a shorter file without one;
    /// `size` when a longer file has none there).
    static func lastLineStart(_ fd: FileDescriptor, size: Int64) -> Int64 {
        let from = max(0, size - 65536)
        guard let bytes = try? Fingerprint.readBytes(fd, at: from, count: Int(size - from)) else { return size }
        if let i = bytes.lastIndex(of: 0x0A) { return from + Int64(i) + 1 }
        return from == 0 ? 0 : size
    }

    static func recentMatches(_ fd: FileDescriptor, _ inst: FileInstance) -> Bool {
        guard !inst.recent.isEmpty, inst.readOffset >= Int64(inst.recent.count) else { return true }
        let bytes = try? Fingerprint.readBytes(fd, at: inst.readOffset - Int64(inst.recent.count), count: inst.recent.count)
        return bytes == inst.recent
    }

    static func hashPrefix(_ fd: FileDescriptor, length: Int) -> UInt64? {
        guard let bytes = try? Fingerprint.readBytes(fd, at: 0, count: length), bytes.count == length else { return nil }
        return FNV1a.hash(bytes)
    }

    /// The reader lets go of an instance. `forget`: drop its checkpoint entry once every line is
    /// acknowledged (renamed away or deleted); otherwise keep it (`once` mode).
    func finish(_ inst: FileInstance, forget: Bool) {
        if let key = inst.key {
            if retiredKeys.count >= 4096 { retiredKeys.removeAll() }
            retiredKeys[inst.identity] = key
        }
        instances[inst.id] = nil
        if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
        if byIdentity[inst.identity] == inst.id { byIdentity[inst.identity] = nil }
        dirty.remove(inst.id)
        if inst.descriptor != nil { openCount -= 1 }
        inst.descriptor = nil // now owned by the shared source
        tailer.finishSource(inst.id, forget: forget)
    }

    // MARK: Reading

    func readDirty() {
        let ids = dirty.sorted()
        dirty = []
        for id in ids {
            heartbeat.beat()
            guard let inst = instances[id] else { continue }
            if readFile(inst) { dirty.insert(inst.id) }
            if stopping { return }
        }
    }

    func reopen(_ inst: FileInstance) -> Bool {
        guard ensureSlot() else { return false }
        guard let fd = try? FileDescriptor.open(inst.path) else { needScan = true; return false }
        guard let st = try? fd.status(), st.identity == inst.identity else {
            fd.close()
            needScan = true
            return false
        }
        inst.descriptor = fd
        openCount += 1
        tailer.state.withLock { tailer.sources[inst.id]?.descriptor = fd }
        return true
    }

    /// Reads up to `turnsPerFile` chunks. Returns true when more is waiting.
    func readFile(_ inst: FileInstance) -> Bool {
        // Not ours any more (abandoned while we waited for the budget): never reopen by path.
        if inst.done || instances[inst.id] !== inst { return false }
        if inst.descriptor == nil && !reopen(inst) { return false }
        guard let fd = inst.descriptor, let st = try? fd.status() else { return false }
        if st.linkCount == 0 && !inst.deleted {
            inst.deleted = true
            if inst.orphanSince == nil {
                if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
                inst.orphanSince = now
            }
        }
        let spec = config.inputs[inst.input]
        let change = FileDecisions.change(known: inst.fingerprint, readOffset: inst.readOffset, size: st.size,
                                          prefixHash: Self.hashPrefix(fd, length: inst.fingerprint.length),
                                          recentMatches: Self.recentMatches(fd, inst))
        switch change {
        case .unchanged:
            inst.atEOF = true
            if let limit = inst.onceLimit, inst.readOffset >= limit { completeOnce(inst) }
            return false
        case .truncated, .replaced:
            if inst.onceLimit != nil { completeOnce(inst); return false }
            restart(inst, change, fd: fd, spec: spec)
        case .grown:
            break
        }
        if let length = FileDecisions.fingerprintGrowth(current: inst.fingerprint.length, size: st.size, configured: spec.fingerprintBytes),
           let fp = try? Fingerprint.read(fd, length: length) {
            inst.fingerprint = fp
            tailer.state.withLock { tailer.sources[inst.id]?.info.fingerprint = fp }
        }
        let limit = inst.onceLimit ?? Int64.max
        var batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
        var turns = 0
        var eof = false
        while turns < Self.turnsPerFile {
            let want = Int(min(Int64(buffer.count), limit - inst.readOffset))
            if want <= 0 { eof = true; break }
            let n: Int
            do { n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: inst.readOffset) } catch {
                logger.warning("read failed", ["source.path": inst.path, "error": "\(error)"])
                eof = true
                break
            }
            if n == 0 { eof = true; break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            inst.splitter.feed(chunk, into: &batch)
            inst.remember(chunk)
            inst.readOffset += Int64(n)
            inst.lastActivity = now
            turns += 1
            if batch.bytes.count >= config.batchBytes || batch.lines.count >= config.batchLines {
                guard push(&batch, inst.id) else { return unwound(inst) }
                batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
            }
        }
        guard push(&batch, inst.id) else { return unwound(inst) }
        inst.atEOF = eof
        if let l = inst.onceLimit, inst.readOffset >= l { completeOnce(inst); return false }
        return !eof
    }

    /// A push failed: stopping, or the file expired while we waited (see `closeExpiredDeleted`).
    func unwound(_ inst: FileInstance) -> Bool {
        if abandonCurrent {
            abandonCurrent = false
            abandon(inst)
        }
        return false
    }

    func completeOnce(_ inst: FileInstance) {
        var batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
        inst.splitter.flush(into: &batch)
        _ = push(&batch, inst.id)
        inst.done = true
        finish(inst, forget: false)
    }

    /// While the budget is spent nothing is read and no tick runs, but a deleted file must still
    /// be let go after its grace time (it holds its disk space while open). Checked about once a
    /// second during the wait. Returns true when the file being pushed is one of them (the
    /// caller abandons it once it has unwound).
    func closeExpiredDeleted(current: SourceID) -> Bool {
        let t = now
        var currentExpired = false
        for inst in Array(instances.values) {
            guard let fd = inst.descriptor, let st = try? fd.status() else { continue }
            if st.linkCount == 0 {
                inst.deleted = true
                if inst.orphanSince == nil {
                    if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
                    inst.orphanSince = t
                }
            }
            guard inst.deleted, let since = inst.orphanSince, t - since >= config.deletedGrace else { continue }
            if inst.id == current { currentExpired = true } else { abandon(inst) }
        }
        return currentExpired
    }

    /// Closes a deleted file that was not read to its end within the grace time.
    func abandon(_ inst: FileInstance) {
        let size = (try? inst.descriptor?.status().size) ?? inst.readOffset
        logger.warning("deleted file closed before it was read to its end", [
            "source.path": inst.path, "source.offset": "\(inst.readOffset)", "bytes.unread": "\(max(0, size - inst.readOffset))"])
        finish(inst, forget: true)
    }

    /// Truncated (copytruncate) or replaced in place: the old instance ends (its in-flight lines
    /// are still acknowledged, but it is no longer checkpointed) and a new one starts at 0 on the
    /// same descriptor, with a new source id and key.
    func restart(_ inst: FileInstance, _ change: FileChange, fd: FileDescriptor, spec: TailConfiguration.InputSpec) {
        logger.notice(change == .truncated ? "file truncated; reading it again from the start" : "file content replaced; reading it from the start",
                      ["source.path": inst.path, "source.offset": "\(inst.readOffset)"])
        let old = inst.id
        tailer.state.withLock {
            tailer.sources[old]?.checkpointed = false
            tailer.sources[old]?.descriptor = nil
        }
        tailer.finishSource(old, forget: true)
        instances[old] = nil
        dirty.remove(old)
        let fp = (try? Fingerprint.read(fd, length: spec.fingerprintBytes)) ?? .empty
        inst.id = allocateID()
        inst.readOffset = 0
        inst.splitter.reset(to: 0)
        inst.recent = []
        inst.fingerprint = fp
        inst.avoidKey = inst.key
        inst.key = nil
        inst.atEOF = false
        register(inst)
    }

    /// Charges the batch to the budget (waiting while it is spent) and hands it on.
    /// False when stopping or the output was closed.
    func push(_ batch: inout LineBatch, _ id: SourceID) -> Bool {
        guard let first = batch.lines.first, let last = batch.lines.last else { return true }
        // A line is complete in the file now, so the key is computable (at the latest here).
        if let inst = instances[id], inst.key == nil, let fd = inst.descriptor { settleKey(inst, fd: fd, atEnd: true) }
        var excess: [(start: Int64, excess: Int64)] = []
        for l in batch.lines where l.truncated { excess.append((l.start, (l.end - l.start) - Int64(l.textCount))) }
        let charge = Int(last.end - first.start - excess.reduce(0) { $0 + $1.excess })
        var waits = 0
        while !tailer.budget.tryAcquire(charge) {
            heartbeat.beat()
            // Downstream is slow, the spool is not: keep taking what the pipes have.
            pumpPipes()
            let stop = tailer.state.withLock { () -> Bool in
                if !tailer.stopping { tailer.state.wait(until: SystemClock.monotonicNanoseconds() + 100_000_000) }
                return tailer.stopping
            }
            if stop { return false }
            waits += 1
            if waits % 10 == 0 && closeExpiredDeleted(current: id) {
                abandonCurrent = true
                return false
            }
        }
        let previousEnd = tailer.state.withLock { () -> Int64 in
            let p = tailer.sources[id]?.emittedEnd ?? first.start
            tailer.sources[id]?.emittedEnd = last.end
            tailer.sources[id]?.truncated += excess
            return p
        }
        if !tailer.output.push(batch, beating: heartbeat) {
            tailer.budget.release(charge)
            tailer.state.withLock {
                tailer.sources[id]?.emittedEnd = previousEnd
                tailer.sources[id]?.truncated.removeAll { t in excess.contains { $0.start == t.start } }
                tailer.stopping = true
            }
            return false
        }
        return true
    }

    // MARK: Pipes

    func openPipes() {
        for (i, spec) in config.inputs.enumerated() where spec.kind == .pipe {
            for (k, path) in spec.paths.enumerated() where !pipes.contains(where: { $0.path == path }) {
                pipes.append(PipeInstance(input: i, index: k, path: path, maxLineBytes: spec.maxLineBytes))
            }
        }
        for p in pipes where !config.once && p.spool == nil {
            let spec = config.inputs[p.input]
            let directory = config.spoolDirectory(input: spec.name, index: p.index)
            do {
                // A segment alone must stay under the cap, else a line without a newline that
                // fills it would block the pipe for good (it never gets sealed and retired).
                let segment = config.effectiveSpoolSegmentBytes
                p.spool = try PipeSpool(directory: directory, segmentBytes: segment,
                                        hardExtraBytes: min(Int64(spec.maxLineBytes), config.spoolMaxBytes - segment - 1))
            } catch {
                // The pipe is not opened without its spool (retried at the next rescan).
                logger.error("cannot open the pipe spool", ["source.path": p.path, "spool.directory": directory, "error": "\(error)"])
            }
        }
        for p in pipes where p.descriptor == nil && !p.done && (config.once || p.spool != nil) {
            do {
                guard let st = try FileSystem.status(p.path), st.isFIFO else {
                    logger.error("pipe input is not a FIFO", ["source.path": p.path])
                    if config.once { p.done = true }
                    continue
                }
                // O_RDWR: we are a writer too, so the pipe never reports end of file (and poll
                // never spins on POLLHUP) between one writer closing and the next opening.
                p.descriptor = try FileDescriptor.open(p.path, config.once ? [.readOnly, .nonBlocking] : [.readWrite, .nonBlocking])
            } catch {
                logger.error("cannot open pipe", ["source.path": p.path, "error": "\(error)"])
                if config.once { p.done = true }
                continue
            }
            if let spool = p.spool {
                logger.info("pipe opened", ["source.path": p.path, "spool.directory": spool.directory])
                continue
            }
            let id = allocateID()
            p.id = id
            let info = SourceInfo(input: config.inputs[p.input].name, path: p.path, identity: nil, fingerprint: nil,
                                  key: FNV1a.hash(Array(p.path.utf8)), isPipe: true)
            tailer.state.withLock {
                tailer.sources[id] = Tailer.SharedSource(info: info, tracker: AckTracker(base: 0), emittedEnd: 0,
                                                         checkpointed: false, updated: SystemClock.wallNanoseconds())
            }
            logger.info("pipe opened", ["source.path": p.path, "source.id": "\(id)"])
        }
    }

    func readPipe(_ p: PipeInstance, hangUp: Bool) {
        guard let fd = p.descriptor, let id = p.id else { return }
        var batch = LineBatch(source: id, readTime: SystemClock.wallNanoseconds())
        var ended = false
        for _ in 0..<Self.turnsPerFile {
            let n: Int?
            do { n = try fd.readIfAvailable(into: buffer) } catch {
                // Reopened at the next rescan.
                logger.warning("pipe read failed; reopening it", ["source.path": p.path, "error": "\(error)"])
                fd.close()
                p.descriptor = nil
                _ = push(&batch, id)
                tailer.finishSource(id, forget: true)
                p.splitter = LineSplitter(maxLineBytes: p.splitter.maxLineBytes)
                return
            }
            guard let n else { break }
            if n == 0 { ended = true; break }
            p.splitter.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &batch)
            if batch.bytes.count >= config.batchBytes || batch.lines.count >= config.batchLines {
                guard push(&batch, id) else { return }
                batch = LineBatch(source: id, readTime: SystemClock.wallNanoseconds())
            }
        }
        if ended && config.once {
            p.splitter.flush(into: &batch)
            p.done = true
        }
        _ = push(&batch, id)
        if p.done { tailer.finishSource(id, forget: true) }
    }

    // MARK: Pipe spools

    /// True while a spooled pipe must not be read: its spool is at the cap, a write is pending,
    /// or a failure waits for its retry.
    func spoolBlocked(_ p: PipeInstance) -> Bool {
        guard let spool = p.spool else { return false }
        if let at = p.spoolRetryAt {
            if now < at { return true }
            p.spoolRetryAt = nil
        }
        return spool.blocked(maxBytes: config.spoolMaxBytes)
    }

    /// Moves what a spooled pipe has (without waiting) into its spool, unless it is blocked.
    func pumpPipe(_ p: PipeInstance) {
        guard let fd = p.descriptor, let spool = p.spool else { return }
        for _ in 0..<Self.turnsPerFile {
            if spoolBlocked(p) { break }
            let n: Int
            do {
                n = try spool.pump(from: fd, count: pipeBuffer.count, scratch: pipeBuffer)
                p.spoolFailing = false
            } catch let e as Errno where e.call == "read" {
                // Reopened at the next rescan; what was spooled stays.
                logger.warning("pipe read failed; reopening it", ["source.path": p.path, "error": "\(e)"])
                fd.close()
                p.descriptor = nil
                return
            } catch {
                reportSpoolFailure(p, error)
                p.spoolRetryAt = now + Self.tick
                break
            }
            if !spool.splicing && !p.loggedNoSplice {
                p.loggedNoSplice = true
                logger.notice("the spool's file system refuses splice; the pipe is spooled by read and write",
                              ["source.path": p.path, "spool.directory": spool.directory])
            }
            // Open read-write, so there is no end of file; 0: nothing more now.
            if n == 0 { break }
        }
        spool.syncIfDue(now: now)
    }

    func pumpPipes() {
        for p in pipes where p.spool != nil && p.descriptor != nil { pumpPipe(p) }
    }

    func reportSpoolFailure(_ p: PipeInstance, _ error: any Error) {
        if !p.spoolFailing {
            logger.error("cannot write to the pipe spool; the pipe is not read until it works again",
                         ["source.path": p.path, "spool.directory": p.spool?.directory ?? "", "error": "\(error)"])
        }
        p.spoolFailing = true
    }

    /// Once per loop: retries a pending spool write, opens new segments, marks grown ones for
    /// reading and deletes sealed segments that are read and acknowledged.
    func maintainSpools() {
        for p in pipes {
            guard let spool = p.spool else { continue }
            if !spool.pending.isEmpty && (p.spoolRetryAt.map { now >= $0 } ?? true) {
                do {
                    try spool.retryPending()
                    p.spoolFailing = false
                } catch {
                    reportSpoolFailure(p, error)
                    p.spoolRetryAt = now + Self.tick
                }
            }
            spool.syncIfDue(now: now)
            for segment in spool.segments {
                if byPath[segment.path] == nil {
                    guard let st = try? FileSystem.status(segment.path), st.isRegularFile, byIdentity[st.identity] == nil else { continue }
                    discover(path: segment.path, identity: st.identity, input: p.input, startup: false, onceLimit: nil)
                }
                if let id = byPath[segment.path], let inst = instances[id], inst.readOffset < segment.size { dirty.insert(id) }
            }
            for segment in spool.sealed { retire(segment, of: spool) }
        }
    }

    /// A sealed segment read to its end: its partial last line (only when it was cut without a
    /// newline) is handed on, and once everything is acknowledged the file is deleted (before
    /// its checkpoint entry is forgotten: a crash in between leaves a stale entry, never a
    /// segment read twice).
    func retire(_ segment: PipeSpool.Segment, of spool: PipeSpool) {
        guard let id = byPath[segment.path], let inst = instances[id], inst.readOffset >= segment.size else { return }
        if inst.splitter.hasPartialLine {
            var batch = LineBatch(source: id, readTime: SystemClock.wallNanoseconds())
            inst.splitter.flush(into: &batch)
            guard push(&batch, id) else { return }
        }
        let acknowledged = tailer.state.withLock { () -> Bool in
            guard let s = tailer.sources[id] else { return false }
            if s.tracker.checkpoint >= segment.size { return true }
            tailer.sources[id]?.wakeReaderAt = segment.size
            return false
        }
        guard acknowledged else { return }
        do { try spool.remove(segment.path) } catch {
            logger.warning("cannot delete a spool segment", ["source.path": segment.path, "error": "\(error)"])
            return
        }
        logger.debug("spool segment deleted", ["source.path": segment.path])
        finish(inst, forget: true)
    }
}
