import Pipeline
import Posix
import Runtime

/// Reading one file instance: changes (growth, truncation, replacement), orphans, deletion.
extension TailReader {
    // MARK: Reading

    func readDirty() {
        let ids = dirty.sorted()
        dirty = []
        noFreeSlot = false
        for id in ids {
            heartbeat.beat()
            guard let inst = instances[id] else { continue }
            if readFile(inst) { dirty.insert(inst.id) }
            if stopping { return }
        }
    }

    func reopen(_ inst: FileInstance) -> Bool {
        // One failed search for a free slot per turn: the next scan marks the rest dirty again.
        // Known files waiting for a slot are retried at the next tick, without a glob re-scan
        // (with thousands of files, a scan every 100 ms was most of the CPU).
        guard !noFreeSlot, ensureSlot() else {
            noFreeSlot = true
            waitingForSlot.insert(inst.id)
            return false
        }
        guard let fd = try? FileDescriptor.open(inst.path) else { needScan = true; return false }
        guard let st = try? fd.status(), st.identity == inst.identity else {
            fd.close()
            needScan = true
            return false
        }
        inst.descriptor = fd
        open.insert(inst.id)
        table.attach(inst.id, descriptor: fd)
        return true
    }

    /// Reads up to `turnsPerFile` chunks. Returns true when more is waiting.
    ///
    /// System calls per turn on a growing file: one `fstat` and one `pread` per chunk. The
    /// first chunk's read starts `recent.count` bytes early, so the bytes just before our
    /// offset are checked by the same call (a rewrite under our offset); a read shorter than
    /// asked is the end of the file (no second read to see 0); the first bytes are hashed
    /// again only on a thorough turn (about once a second: `thoroughCheckInterval`), or when the
    /// size says the file shrank. A rewrite in place that keeps the bytes before our offset but
    /// changes the first ones is noticed by the next thorough turn, within a second.
    /// A file read again and again has its first bytes hashed again once per this interval.
    static let thoroughCheckInterval: Int64 = 1_000_000_000

    func readFile(_ inst: FileInstance) -> Bool {
        // Not ours any more (abandoned while we waited for the budget): never reopen by path.
        if inst.done || instances[inst.id] !== inst { return false }
        if inst.descriptor == nil && !reopen(inst) { return false }
        guard let fd = inst.descriptor, let st = try? fd.status() else { return false }
        if st.linkCount == 0 && !inst.deleted {
            inst.deleted = true
            if inst.orphanSince == nil { orphan(inst, since: now) }
        }
        let spec = config.inputs[inst.input]
        // Thorough when the last read with data was in another second (no field of its own:
        // with 20,000 files the instance's size counts).
        let thorough = now / Self.thoroughCheckInterval != inst.lastActivity / Self.thoroughCheckInterval
            || st.size < inst.readOffset
        // Not grown: the recent bytes are read on their own (a write that did not grow the
        // file rewrote it); grown: the first chunk's read checks them.
        let change = FileDecisions.change(
            known: inst.fingerprint, readOffset: inst.readOffset, size: st.size,
            prefixHash: thorough ? Self.hashPrefix(fd, length: inst.fingerprint.length) : inst.fingerprint.hash,
            recentMatches: thorough || st.size == inst.readOffset ? Self.recentMatches(fd, inst) : true)
        switch change {
        case .unchanged:
            inst.atEOF = true
            if let limit = inst.onceLimit, inst.readOffset >= limit { completeOnce(inst); return false }
            return false
        case .truncated, .replaced:
            return startOver(inst, change, fd: fd, spec: spec)
        case .grown:
            break
        }
        if let length = FileDecisions.fingerprintGrowth(current: inst.fingerprint.length, size: st.size, configured: spec.fingerprintBytes),
           let fp = try? Fingerprint.read(fd, length: length) {
            inst.fingerprint = fp
            table.updateInfo(inst.id) { $0.fingerprint = fp }
        }
        let limit = inst.onceLimit ?? Int64.max
        var batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
        batch.reserve(waiting: st.size - inst.readOffset, limit: config.batchBytes, chunk: buffer.count)
        var turns = 0
        var eof = false
        // The bytes before our offset, read again with the first chunk (not on a thorough turn:
        // checked already).
        var overlap = thorough || inst.readOffset < Int64(inst.recent.count) ? 0 : inst.recent.count
        while turns < Self.turnsPerFile {
            let want = Int(min(Int64(buffer.count - overlap), inst.readLimit(limit) - inst.readOffset))
            if want <= 0 { eof = true; break }
            if overlap > inst.recent.count { overlap = 0 }  // `readLimit` jumped over a done range
            let n: Int
            do {
                n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(overlap + want)]),
                                at: inst.readOffset - Int64(overlap)) - overlap
            } catch {
                logger.warning("read failed", ["source.path": inst.path, "error": "\(error)"])
                eof = true
                break
            }
            if overlap > 0 {
                let before = UnsafeRawBufferPointer(rebasing: buffer[0..<max(0, min(overlap, overlap + n))])
                // Rewritten under our offset (the first chunk: nothing is batched yet).
                if n < 0 || !before.elementsEqual(inst.recent.bytes) { return startOver(inst, .replaced, fd: fd, spec: spec) }
            }
            if n <= 0 { eof = true; break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[overlap..<(overlap + n)])
            overlap = 0
            inst.splitter.feed(chunk, into: &batch)
            inst.remember(chunk)
            inst.readOffset += Int64(n)
            inst.lastActivity = now
            turns += 1
            if batch.bytes.count >= config.batchBytes || batch.lines.count >= config.batchLines {
                guard push(&batch, inst.id) else { return unwound(inst) }
                batch = LineBatch(source: inst.id, readTime: SystemClock.wallNanoseconds())
                batch.reserve(waiting: st.size - inst.readOffset, limit: config.batchBytes, chunk: buffer.count)
            }
            // Shorter than asked: the end of the file for now (inotify tells when it grows).
            if n < want { eof = true; break }
        }
        guard push(&batch, inst.id) else { return unwound(inst) }
        inst.atEOF = eof
        if let l = inst.onceLimit, inst.readOffset >= l { completeOnce(inst); return false }
        return !eof
    }

    /// Truncated or replaced: `once` mode ends the file, otherwise it is read again from 0.
    /// Returns true: the restarted file has lines waiting.
    private func startOver(_ inst: FileInstance, _ change: FileChange, fd: FileDescriptor, spec: TailConfiguration.InputSpec) -> Bool {
        if inst.onceLimit != nil { completeOnce(inst); return false }
        restart(inst, change, fd: fd, spec: spec)
        return true
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
        for inst in open.sorted().compactMap({ instances[$0] }) {
            guard let fd = inst.descriptor, let st = try? fd.status() else { continue }
            if st.linkCount == 0 {
                inst.deleted = true
                if inst.orphanSince == nil { orphan(inst, since: t) }
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
        table.supersede(old)
        instances[old] = nil
        dirty.remove(old)
        open.remove(old)
        orphans.remove(old)
        let fp = (try? Fingerprint.read(fd, length: spec.fingerprintBytes)) ?? .empty
        inst.id = allocateID()
        inst.readOffset = 0
        inst.splitter.reset(to: 0)
        inst.recent = []
        inst.skip = []
        inst.fingerprint = fp
        inst.avoidKey = inst.key
        inst.key = nil
        inst.atEOF = false
        register(inst)
        open.insert(inst.id)
        if inst.orphanSince != nil { orphans.insert(inst.id) }
    }

}
