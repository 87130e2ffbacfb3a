import Pipeline
import Posix
import Runtime

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
    /// The spool was full at the last check (reported to the table for `/health`).
    var reportedFull = false

    init(input: Int, index: Int, path: String, maxLineBytes: Int) {
        self.input = input
        self.index = index
        self.path = path
        splitter = LineSplitter(maxLineBytes: maxLineBytes)
    }
}

/// Pipe inputs: the FIFO, its spool, and (in `once` mode) reading it directly.
extension TailReader {
    // MARK: Pipes

    func openPipes() {
        for (i, spec) in config.inputs.enumerated() where spec.kind == .pipe {
            for (k, path) in spec.paths.enumerated() where !pipes.contains(where: { $0.path == path }) {
                pipes.append(PipeInstance(input: i, index: k, path: path, maxLineBytes: spec.maxLineBytes))
            }
        }
        for p in pipes where policy.spoolsPipes && p.spool == nil {
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
        for p in pipes where p.descriptor == nil && !p.done && (!policy.spoolsPipes || p.spool != nil) {
            do {
                guard let st = try FileSystem.status(p.path), st.isFIFO else {
                    logger.error("pipe input is not a FIFO", ["source.path": p.path])
                    if !policy.spoolsPipes { p.done = true }
                    continue
                }
                // O_RDWR: we are a writer too, so the pipe never reports end of file (and poll
                // never spins on POLLHUP) between one writer closing and the next opening.
                p.descriptor = try FileDescriptor.open(p.path, policy.spoolsPipes ? [.readWrite, .nonBlocking] : [.readOnly, .nonBlocking])
            } catch {
                logger.error("cannot open pipe", ["source.path": p.path, "error": "\(error)"])
                if !policy.spoolsPipes { p.done = true }
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
            table.add(id, info: info, base: 0, descriptor: nil, checkpointed: false)
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
                table.finish(id, forget: true)
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
        if ended && !policy.spoolsPipes {
            p.splitter.flush(into: &batch)
            p.done = true
        }
        _ = push(&batch, id)
        if p.done { table.finish(id, forget: true) }
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
        let full = spool.blocked(maxBytes: config.spoolMaxBytes)
        if full != p.reportedFull {
            p.reportedFull = full
            table.setPipeBlocked(p.path, full)
            if full {
                logger.warning("pipe spool full; the pipe is not read and its writers block until events are delivered",
                               ["source.path": p.path, "limits.spool_max_bytes": "\(config.spoolMaxBytes)"])
            } else {
                logger.info("pipe spool has room again", ["source.path": p.path])
            }
        }
        return full
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
        guard table.acknowledged(id, through: segment.size) else { return }
        do { try spool.remove(segment.path) } catch {
            logger.warning("cannot delete a spool segment", ["source.path": segment.path, "error": "\(error)"])
            return
        }
        logger.debug("spool segment deleted", ["source.path": segment.path])
        finish(inst, forget: true)
    }
}
