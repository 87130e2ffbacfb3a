import Pipeline
import Posix
import Runtime

/// Discovery: glob scans, inotify watches, open-file slots, checkpoint recovery, registration.
extension TailReader {
    // MARK: Discovery

    struct Found {
        var observed: FileDecisions.Observed
        var size: Int64
        var input: Int
        var path: String { observed.path }
        var identity: FileIdentity { observed.identity }
    }

    /// Every regular file matched by an input's globs and not excluded; first input wins. A
    /// pipe input's files are the segments of its spools.
    func observeAll() -> [Found] {
        var out: [Found] = []
        let patternCount = config.inputs.reduce(0) { $0 + $1.paths.count }
        // Only needed when several patterns may match one path (one glob never repeats a path).
        var seen = Set<String>()
        for (i, spec) in config.inputs.enumerated() {
            let patterns = spec.kind == .file ? spec.paths : spec.paths.indices.map {
                PipeSpool.pattern(directory: config.spoolDirectory(input: spec.name, index: $0))
            }
            for pattern in patterns {
                // Normalized, so that `dir/name` from an inotify event finds it (`./a.log`, `a//b`).
                for path in Glob.expand(pattern) {
                    let path = Path.normalize(path)
                    if patternCount > 1 && seen.contains(path) { continue }
                    if spec.kind == .file && Self.excluded(path, by: spec.exclude) { continue }
                    guard let st = try? FileSystem.status(path), st.isRegularFile else { continue }
                    if patternCount > 1 { seen.insert(path) }
                    out.append(Found(observed: .init(path: path, identity: st.identity), size: st.size, input: i))
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
        pendingDiscovery = []
        let found = observeAll()
        updateWatches(found)
        // Indices, not copies: with 20,000 files every scan's temporary memory counts.
        var foundAt: [String: Int] = [:]
        foundAt.reserveCapacity(found.count)
        for (i, f) in found.enumerated() { foundAt[f.path] = i }
        var tracked: [FileDecisions.Tracked] = []
        tracked.reserveCapacity(instances.count)
        for inst in instances.values where inst.orphanSince == nil {
            tracked.append(FileDecisions.Tracked(id: inst.id, path: inst.path, identity: inst.identity))
        }
        tracked.sort { $0.id < $1.id }
        let actions = FileDecisions.reconcile(tracked: tracked, observed: found.lazy.map(\.observed))
        tracked = []
        var slotsExhausted = false
        pendingDiscovery.reserveCapacity(actions.count)
        for action in actions {
            heartbeat.beat()  // thousands of files: a long scan is work, not a wedge
            switch action {
            case .keep(let id):
                if let inst = instances[id], let f = foundAt[inst.path].map({ found[$0] }), f.size != inst.readOffset || inst.descriptor == nil && f.size > inst.readOffset {
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
                    orphan(inst, since: now)
                    dirty.insert(id)
                }
            case .discovered(let path, let identity):
                guard let f = foundAt[path].map({ found[$0] }) else { continue }
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
                    pendingDiscovery.append((path, identity, f.input))
                    continue
                }
                let wasThere = startup || deferredAtStartup.contains(identity)
                if discover(path: path, identity: identity, input: f.input, startup: wasThere, onceLimit: nil) {
                    deferredAtStartup.remove(identity)
                } else {
                    slotsExhausted = true
                    if startup { deferredAtStartup.insert(identity) }
                    pendingDiscovery.append((path, identity, f.input))
                }
            }
        }
        pendingDiscovery.reverse()
    }

    /// Files a scan found but could not open for want of a slot, opened as slots free up
    /// (each tick) without globbing and stat-ing every file again: with thousands of files a
    /// full re-scan per round of `max_open_files` made start-up quadratic. A file gone or
    /// replaced meanwhile fails its identity check in `discover`, which asks for a scan.
    func discoverPending() {
        deferredDiscovery = false
        while let next = pendingDiscovery.popLast() {
            if byIdentity[next.identity] != nil { continue }
            guard discover(path: next.path, identity: next.identity, input: next.input,
                           startup: deferredAtStartup.contains(next.identity), onceLimit: nil) else {
                pendingDiscovery.append(next)
                return
            }
            deferredAtStartup.remove(next.identity)
        }
    }

    /// Its path no longer names it (renamed away, deleted, or found outside the globs).
    func orphan(_ inst: FileInstance, since t: Int64) {
        if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
        inst.orphanSince = t
        orphans.insert(inst.id)
    }

    func move(_ inst: FileInstance, to path: String) {
        if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
        inst.path = path
        byPath[path] = inst.id
        table.updateInfo(inst.id) { $0.path = path }
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
        var last = ""
        for f in found {
            // Files come a directory at a time: one `Set` insert per directory, not per file.
            let d = Path.directory(of: f.path)
            if d != last { dirs.insert(d); last = d }
        }
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
        // Files the globs found that wait for a slot are not lost: they claim their entries
        // when they open. (Looking for them here too made a restart with 20,000 files
        // quadratic: every name of the directory against every entry.)
        let lost = table.unclaimedEntries.filter { !deferredAtStartup.contains($0.identity) }
        entriesSearchedAtStartup += lost.count
        guard !lost.isEmpty else { return }
        var byDirectory: [String: [FileIdentity: CheckpointEntry]] = [:]
        for e in lost { byDirectory[Path.directory(of: e.path), default: [:]][e.identity] = e }
        for (dir, entries) in byDirectory {
            guard let names = try? FileSystem.list(dir) else { continue }
            for name in names {
                let path = Path.join(dir, name)
                guard let st = try? FileSystem.status(path), st.isRegularFile, let entry = entries[st.identity],
                      byIdentity[st.identity] == nil,
                      let input = config.inputs.firstIndex(where: { $0.name == entry.input && $0.kind == .file }) else { continue }
                if discover(path: path, identity: st.identity, input: input, startup: true, onceLimit: nil, onlyResume: true),
                   let id = byIdentity[st.identity], let inst = instances[id] {
                    logger.info("reading the rest of a file rotated while stopped", ["source.path": path, "source.old_path": entry.path])
                    orphan(inst, since: now)
                }
            }
        }
    }

    /// Makes room under `maxOpenFiles`; false when every open file is busy.
    func ensureSlot() -> Bool {
        let held = table.heldDescriptorCount
        if openCount + held < config.maxOpenFiles { return true }
        // Read to the end (no partial line held): closable even while its lines are in flight,
        // with the tail hash at that end handed to the table (discovery of thousands of files
        // no longer waits for each round's acknowledgements).
        slotCandidatesVisited += open.count
        let candidates = open.compactMap { instances[$0] }.filter {
            $0.descriptor != nil && $0.orphanSince == nil && $0.atEOF && !dirty.contains($0.id) && !$0.splitter.hasPartialLine
                && ($0.onceLimit == nil || $0.done)
        }.map { (id: $0.id, idleSince: $0.lastActivity) }
        let plan = FileDecisions.slot(open: openCount, held: held, limit: config.maxOpenFiles, candidates: candidates,
                                      reserve: max(1, config.maxOpenFiles / 8))
        for id in plan.evict {
            guard let inst = instances[id], let fd = inst.descriptor else { continue }
            let end = try? Fingerprint.tailHash(fd, before: inst.readOffset, count: CheckpointEntry.tailBytes)
            // The table closes it (after any tail hash it is reading from it).
            if !table.detach(id, endTail: end.flatMap { Int64($0.length) == min(inst.readOffset, Int64(CheckpointEntry.tailBytes)) ? (inst.readOffset, $0.length, $0.hash) : nil }) {
                fd.close()
            }
            inst.descriptor = nil
            open.remove(id)
        }
        if plan.granted { return true }
        if !warnedLimit {
            warnedLimit = true
            logger.warning("open file limit reached; more files wait until others are read and acknowledged",
                           ["limits.max_open_files": "\(config.maxOpenFiles)"])
        }
        return false
    }

    /// Opens a newly found file and decides where to start. False when it must wait for a slot.
    ///
    /// `onlyResume`: the file is not matched by the globs (found by `recoverRotatedWhileStopped`);
    /// open it only if its checkpoint proves it is the file we were reading.
    @discardableResult
    func discover(path: String, identity: FileIdentity, input: Int, startup: Bool, onceLimit: Int64?, onlyResume: Bool = false) -> Bool {
        guard ensureSlot() else {
            deferredDiscovery = true
            return false
        }
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
        var skip: [Range<Int64>] = []
        let entry = table.claim(identity)
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
                skip = entry.resumableDone(size: st.size)
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
        inst.skip = onceLimit == nil ? skip : skip.filter { $0.upperBound <= onceLimit! }
        settleKey(inst, fd: fd, atEnd: false)
        register(inst)
        open.insert(inst.id)
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
        table.add(inst.id, info: info, base: inst.readOffset, done: inst.skip, descriptor: inst.descriptor, checkpointed: true)
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
        table.updateInfo(inst.id) { $0.key = key }
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
        return bytes == inst.recent.bytes
    }

    static func hashPrefix(_ fd: FileDescriptor, length: Int) -> UInt64? {
        guard let bytes = try? Fingerprint.readBytes(fd, at: 0, count: length), bytes.count == length else { return nil }
        return Fingerprint.hash(bytes)
    }

    /// The reader lets go of an instance. `forget`: drop its checkpoint entry once every line is
    /// acknowledged (renamed away or deleted); otherwise keep it (`once` mode).
    /// `keepEntry`: renamed away (not deleted) and read to its end: its checkpoint entry stays,
    /// so that it is not read again if it shows up under another matched name (a symlink).
    func finish(_ inst: FileInstance, forget: Bool, keepEntry: Bool = false) {
        // The tail hash at the end of what was read, taken here (no lock held): for `keep`, and so
        // that the table closes a kept source's descriptor once all is acknowledged, unread.
        var end: (offset: Int64, length: Int, hash: UInt64)?
        if keepEntry || !forget, let fd = inst.descriptor, !inst.splitter.hasPartialLine,
           let t = try? Fingerprint.tailHash(fd, before: inst.readOffset, count: CheckpointEntry.tailBytes),
           Int64(t.length) == min(inst.readOffset, Int64(CheckpointEntry.tailBytes)) {
            end = (inst.readOffset, t.length, t.hash)
        }
        if let key = inst.key {
            if retiredKeys.count >= 4096 { retiredKeys.removeAll() }
            retiredKeys[inst.identity] = key
        }
        instances[inst.id] = nil
        if byPath[inst.path] == inst.id { byPath[inst.path] = nil }
        if byIdentity[inst.identity] == inst.id { byIdentity[inst.identity] = nil }
        dirty.remove(inst.id)
        open.remove(inst.id)
        orphans.remove(inst.id)
        inst.descriptor = nil // now owned by the shared source
        table.finish(inst.id, forget: forget, keep: keepEntry ? end : nil, endTail: forget ? nil : end)
    }

}
