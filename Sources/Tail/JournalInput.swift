import JSON
import Pipeline
import Posix
import Runtime

/// A `type = "journal"` input: one `journalctl --output=json --follow` child whose stdout the
/// reader polls like a pipe. Reader thread only.
///
/// Each entry becomes one line (`JournalEntry`) with a range in a virtual byte stream (the line's
/// length plus one), so acknowledgements, the byte budget and the watermark work exactly as for
/// files; `CursorTrail` turns the watermark back into the cursor that is checkpointed.
///
/// | situation                                   | what happens                                        |
/// |---------------------------------------------|-----------------------------------------------------|
/// | budget spent                                | the reader waits in `push`; journalctl's stdout is not read, so it blocks |
/// | journalctl missing, failing or exiting      | error logged (with its stderr), restarted after a doubling delay (1 s … 60 s) from the last entry read |
/// | checkpointed cursor no longer in the journal| warning; read again from the oldest entry           |
/// | `start_at = "end"`, no cursor yet           | the newest entry's cursor is taken as the checkpoint first, so a restart before any new entry loses nothing |
/// | `once`                                      | journalctl without `--follow`; done when it exits   |
final class JournalInput {
    let input: Int
    let spec: TailConfiguration.JournalSpec
    let name: String
    let id: SourceID
    var process: ChildProcess?
    /// Where the next journalctl starts.
    var position: JournalQuery.Position
    /// The first entry printed is this cursor's entry (skip it), unless the cursor is gone.
    var expectFirst: String?
    /// Bytes of a line journalctl has not finished yet.
    var partial: [UInt8] = []
    var standardError: [UInt8] = []
    /// Next offset in the virtual stream.
    var offset: Int64 = 0
    var entriesThisRun = 0
    var failures = 0
    var restartAt: Int64?
    var done = false
    var badLines = 0
    var document = JSONDocument()
    var writer = JSONWriter(capacity: 4096)

    init(input: Int, spec: TailConfiguration.JournalSpec, name: String, id: SourceID, position: JournalQuery.Position) {
        self.input = input
        self.spec = spec
        self.name = name
        self.id = id
        self.position = position
        if case .cursor(let c) = position { expectFirst = c }
    }

    var path: String { "journal:" + (spec.directory ?? "system") }
}

extension TailReader {
    /// Starts every journal input: claims its checkpointed cursor (or, for `start_at = "end"`,
    /// the newest entry's), registers its source and spawns journalctl.
    func openJournals() {
        for (i, spec) in config.inputs.enumerated() where spec.kind == .journal {
            guard let js = spec.journal else { continue }
            var mark: CursorTrail.Mark?
            if let saved = table.claimCursor(input: spec.name) {
                mark = .init(end: 0, cursor: saved.cursor, realtime: saved.realtime)
                logger.info("resuming journal from checkpoint", ["input": spec.name, "journal.cursor": saved.cursor])
            } else if spec.startAt == .end {
                if let newest = JournalProbe.newest(js) {
                    mark = .init(end: 0, cursor: newest.cursor, realtime: newest.realtime)
                }
            }
            let id = allocateID()
            let j = JournalInput(input: i, spec: js, name: spec.name, id: id, position: mark.map { .cursor($0.cursor) } ?? .beginning)
            let info = SourceInfo(input: spec.name, path: j.path, identity: nil, fingerprint: nil,
                                  key: FNV1a.hash(Array(("journal:" + spec.name).utf8)), isPipe: false)
            table.add(id, info: info, base: 0, descriptor: nil, checkpointed: false, cursors: CursorTrail(checkpoint: mark))
            journals.append(j)
            startJournalctl(j)
        }
    }

    func startJournalctl(_ j: JournalInput) {
        let args = JournalQuery.arguments(j.spec, position: j.position, follow: policy.follows)
        j.partial = []
        j.standardError = []
        j.entriesThisRun = 0
        j.restartAt = nil
        do {
            j.process = try ChildProcess(executable: j.spec.journalctlPath, arguments: args)
            logger.info("journalctl started", ["input": j.name, "journal.arguments": args.joined(separator: " ")])
        } catch {
            j.failures += 1
            let delay = JournalDecisions.delay(failures: j.failures, min: config.journalRestartMin, max: config.journalRestartMax)
            logger.error("cannot start journalctl; retrying", [
                "input": j.name, "journal.path": j.spec.journalctlPath, "error": "\(error)", "retry.after_ms": "\(delay / 1_000_000)"])
            j.restartAt = now + delay
        }
    }

    /// Once per loop turn: restarts journalctl when its delay is over.
    func maintainJournals() {
        for j in journals where j.process == nil && !j.done {
            if let at = j.restartAt, now >= at { startJournalctl(j) }
        }
    }

    /// The earliest journal restart, for the loop's timeout.
    var journalRestartDue: Bool { journals.contains { $0.process == nil && !$0.done && $0.restartAt != nil } }

    /// Reads what journalctl printed (up to `turnsPerFile` chunks) and hands the entries on.
    func readJournal(_ j: JournalInput) {
        guard let p = j.process else { return }
        var batch = LineBatch(source: j.id, readTime: SystemClock.wallNanoseconds())
        var marks: [CursorTrail.Mark] = []
        let maxLine = config.inputs[j.input].maxLineBytes
        var ended = false
        turns: for _ in 0..<Self.turnsPerFile {
            let n: Int?
            do { n = try p.standardOutput.readIfAvailable(into: buffer) } catch { ended = true; break }
            guard let n else { break }
            if n == 0 { ended = true; break }
            j.partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            var from = 0
            while let nl = j.partial[from...].firstIndex(of: 0x0A) {
                let raw = j.partial[from..<nl]
                from = nl + 1
                guard let entry = JournalEntry.decode(raw, document: &j.document, writer: &j.writer) else {
                    if j.badLines == 0 || j.badLines.isMultiple(of: 1000) {
                        logger.warning("journalctl printed a line that is not a journal entry", ["input": j.name, "line.head": String(decoding: raw.prefix(200), as: UTF8.self)])
                    }
                    j.badLines += 1
                    continue
                }
                if let expected = j.expectFirst {
                    j.expectFirst = nil
                    if entry.cursor == expected { continue }
                    if !JournalProbe.cursorExists(j.spec, expected) {
                        logger.warning("the checkpointed journal cursor is no longer in the journal (vacuumed or rotated away); reading from the oldest entry",
                                       ["input": j.name, "journal.cursor": expected])
                        j.partial = []
                        stopJournalctl(j)
                        j.position = .beginning
                        startJournalctl(j)
                        break turns
                    }
                }
                j.entriesThisRun += 1
                j.failures = 0
                var text = entry.line[...]
                var truncated = false
                if text.count > maxLine {
                    text = text.prefix(maxLine)
                    truncated = true
                }
                let start = j.offset
                let end = start + Int64(entry.line.count) + 1
                let textStart = batch.bytes.count
                batch.bytes.append(contentsOf: text)
                batch.lines.append(LineRecord(textStart: textStart, textEnd: batch.bytes.count, start: start, end: end, truncated: truncated))
                marks.append(.init(end: end, cursor: entry.cursor, realtime: entry.realtime))
                j.offset = end
                j.position = .cursor(entry.cursor)
                if batch.bytes.count >= config.batchBytes || batch.lines.count >= config.batchLines {
                    guard push(&batch, j.id, cursors: marks) else { return }
                    batch = LineBatch(source: j.id, readTime: SystemClock.wallNanoseconds())
                    marks = []
                }
            }
            if from > 0 { j.partial.removeFirst(from) }
        }
        guard push(&batch, j.id, cursors: marks) else { return }
        if ended { journalctlEnded(j) }
    }

    /// Keeps the last 4 KiB of journalctl's stderr for the error message.
    func drainJournalErrors(_ j: JournalInput) {
        guard let p = j.process else { return }
        while let n = try? p.standardError.readIfAvailable(into: buffer), n > 0 {
            j.standardError.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if j.standardError.count > 4096 { j.standardError.removeFirst(j.standardError.count - 4096) }
        }
    }

    func journalctlEnded(_ j: JournalInput) {
        guard let p = j.process else { return }
        drainJournalErrors(j)
        let how = p.wait()
        p.closePipes()
        j.process = nil
        let stderr = String(decoding: j.standardError, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
        var status: Int32?
        if case .exited(let c) = how { status = c }
        let usedCursor: Bool = if case .cursor = j.position { j.entriesThisRun == 0 } else { false }
        let next = JournalDecisions.afterExit(once: !policy.follows, status: status, entriesRead: j.entriesThisRun, usedCursor: usedCursor,
                                              standardError: stderr, failures: j.failures + 1,
                                              minDelay: config.journalRestartMin, maxDelay: config.journalRestartMax)
        switch next {
        case .done:
            j.done = true
            table.finish(j.id, forget: false)
        case .dropCursor:
            logger.warning("journalctl refused the checkpointed cursor; reading from the oldest entry",
                           ["input": j.name, "journal.stderr": stderr])
            j.position = .beginning
            j.expectFirst = nil
            startJournalctl(j)
        case .restart(let delay):
            if !policy.follows {
                logger.error("journalctl failed", ["input": j.name, "journal.exit": how.description, "journal.stderr": stderr])
                j.done = true
                table.finish(j.id, forget: false)
                return
            }
            j.failures += 1
            if case .cursor(let c) = j.position { j.expectFirst = c }
            logger.error("journalctl ended; restarting it from the last entry read", [
                "input": j.name, "journal.exit": how.description, "journal.stderr": stderr, "retry.after_ms": "\(delay / 1_000_000)"])
            j.restartAt = now + delay
        }
    }

    func stopJournalctl(_ j: JournalInput) {
        guard let p = j.process else { return }
        p.terminate()
        p.wait()
        p.closePipes()
        j.process = nil
    }

    func closeJournals() {
        for j in journals { stopJournalctl(j) }
    }
}

/// One-shot journalctl runs: the newest entry (for `start_at = "end"` and `tracktail status`),
/// whether a cursor still exists. Each runs journalctl to its first entry, at most 10 s, on the
/// calling (dedicated, never cooperative) thread.
public enum JournalProbe {
    /// The newest entry the input's filters match: its cursor and `__REALTIME_TIMESTAMP` (µs);
    /// nil for an empty journal or when journalctl fails.
    public static func newest(_ spec: TailConfiguration.JournalSpec) -> (cursor: String, realtime: Int64)? {
        firstEntry(spec.journalctlPath, JournalQuery.arguments(spec, position: .newest, follow: false)).map { ($0.cursor, $0.realtime) }
    }

    /// Whether `cursor` still names an entry (regardless of the input's filters).
    static func cursorExists(_ spec: TailConfiguration.JournalSpec, _ cursor: String) -> Bool {
        let all = TailConfiguration.JournalSpec(directory: spec.directory, journalctlPath: spec.journalctlPath)
        return firstEntry(spec.journalctlPath, JournalQuery.arguments(all, position: .cursor(cursor), follow: false) + ["--lines=1"])?.cursor == cursor
    }

    static func firstEntry(_ path: String, _ args: [String]) -> JournalEntry? {
        guard let p = try? ChildProcess(executable: path, arguments: args) else { return nil }
        defer {
            p.terminate()
            p.wait()
            p.closePipes()
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        var bytes: [UInt8] = []
        let deadline = SystemClock.monotonicNanoseconds() + 10_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            guard let ready = try? InotifyPoll.wait([p.standardOutput], timeoutMilliseconds: 100), ready[0].readable || ready[0].hangUp else { continue }
            guard let n = try? p.standardOutput.readIfAvailable(into: buffer) else { continue }
            if n == 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if bytes.contains(0x0A) { break }
        }
        guard let nl = bytes.firstIndex(of: 0x0A) else { return nil }
        return JournalEntry.decode(bytes[..<nl])
    }
}
