import JSON
import Pipeline
import Posix
import Runtime
import Synchronization

/// Appends dead-letter records durably, with a size cap.
///
/// Files live in one directory (`<state.directory>/dead-letter/`):
///
/// | file | holds |
/// | --- | --- |
/// | `dead-letter.ndjson` | the newest records; appended to |
/// | `dead-letter.1.ndjson` | the segment before it |
/// | `dead-letter.2.ndjson`, `dead-letter.3.ndjson` | older segments; `.3` is the oldest |
///
/// A segment is rotated once it would pass a quarter of the cap, and the oldest segment is
/// deleted then, so all files together stay within the cap (default 64 MiB) plus one batch of
/// records. Records removed that way are gone: the cap is the operator's choice of how much
/// rejected data to keep; `status` shows the count so a growing pile is noticed first.
///
/// Every `write` is one `write(2)` and one `fsync` before it returns: the shipper acknowledges
/// a line's offset only after its record is on disk. Files are created mode 0600 (they hold
/// user data). Safe to call from several threads.
///
/// Faults (a full disk, an I/O error):
/// - **Whole or nothing.** A write that fails is cut back (`ftruncate`) to where it started, so
///   no half record stays behind for the next one to land on; if even that fails, the torn tail
///   is cut off when the file is opened again, and readers skip a torn final line.
/// - **Retried.** `writeRetrying` tries again with backoff (0.2 s doubling to 30 s) until it
///   succeeds or `interrupt()` is called at shutdown; meanwhile `problem` says why (the
///   shipper's `/health` shows it) and the lines stay unacknowledged, so nothing is lost.
/// - **Not twice.** A record is identified by its source, byte range and content (line or
///   event); one already in the newest two segments — written before a crash, whose lines were
///   read again because the checkpoint had not caught up — is not written again.
public final class DeadLetter: Sendable {
    public static let fileName = "dead-letter.ndjson"
    public static let keptSegments = 3

    public let directory: String
    public let capBytes: Int64
    /// Response bytes kept in a record (after redaction).
    public let responseLimit: Int
    private let logger: Logger?
    /// Test hook: given a write's size, how many bytes may reach the file before it fails with
    /// ENOSPC (`nil`: no fault).
    private let fault: (@Sendable (Int) -> Int?)?
    /// The first retry's wait; doubles to 30 s.
    private let retryInitial: Int64
    private let state = Mutex<State>(State())
    private let shared = Mutex<Shared>(Shared())
    private let waiter = ConditionLock()

    private struct State {
        var fd: FileDescriptor?
        var size: Int64 = 0
        /// Identities of the records in the current and the previous segment.
        var keys: Set<UInt64> = []
        var previousKeys: Set<UInt64> = []
        var loaded = false
    }

    private struct Shared {
        var problem: String?
        var interrupted = false
        var secrets: [String] = []
        var headerNames: [String] = []
        var summary = DeadLetterLogSummary()
    }

    /// `output.dead_letter_max_bytes` when the configuration does not say.
    public static let defaultCapBytes: Int64 = 64 << 20

    public init(directory: String, capBytes: Int64 = defaultCapBytes, responseLimit: Int = ShipConfiguration().responseBodyLimit, logger: Logger? = nil,
                retryInitial: Int64 = 200_000_000, fault: (@Sendable (Int) -> Int?)? = nil) {
        self.retryInitial = max(1, retryInitial)
        self.directory = directory
        self.capBytes = max(4_096, capBytes)
        self.responseLimit = max(0, responseLimit)
        self.logger = logger
        self.fault = fault
    }

    deinit { state.withLock { $0.fd?.close() } }

    public var segmentCap: Int64 { capBytes / Int64(Self.keptSegments + 1) }

    /// Why the last write failed, while it is being retried; `nil` when writes succeed.
    public var problem: String? { shared.withLock { $0.problem } }

    /// Values never to be stored (the token), and header names whose values are secret
    /// (`api_key_header`). Called at start and when the token is reloaded.
    public func setSecrets(_ secrets: [String], headerNames: [String] = []) {
        shared.withLock {
            for s in secrets where !s.isEmpty && !$0.secrets.contains(s) { $0.secrets.append(s) }
            for h in headerNames where !h.isEmpty && !$0.headerNames.contains(h) { $0.headerNames.append(h) }
        }
    }

    /// An API response body as a record keeps it: secrets redacted, cut to `responseLimit`.
    public func responseText(_ body: some Collection<UInt8>) -> String {
        let (secrets, names) = shared.withLock { ($0.secrets, $0.headerNames) }
        return DeadLetterRedaction.response(body, secrets: secrets, headerNames: names, limit: responseLimit)
    }

    /// Appends records and syncs them to disk: all of them or none (one attempt). Records
    /// already in the dead letter are skipped. Returns the records written.
    @discardableResult
    public func write(_ records: [DeadLetterRecord]) throws -> [DeadLetterRecord] {
        guard !records.isEmpty else { return [] }
        let written = try state.withLock { (s: inout State) throws -> [DeadLetterRecord] in
            if !s.loaded {
                try loadKeys(&s)
                s.loaded = true
            }
            var fresh: [DeadLetterRecord] = []
            var freshKeys: Set<UInt64> = []
            var bytes: [UInt8] = []
            for r in records {
                let k = Self.key(r)
                if s.keys.contains(k) || s.previousKeys.contains(k) || freshKeys.contains(k) { continue }
                r.serialized(into: &bytes)
                fresh.append(r)
                freshKeys.insert(k)
            }
            guard !fresh.isEmpty else { return [] }
            // An operator deleted the file (README: "when to delete"): start a new one rather
            // than append to a file nobody can see.
            if let fd = s.fd, let st = try? fd.status(), st.linkCount == 0 {
                fd.close()
                s.fd = nil
                s.keys = []
            }
            if s.fd != nil, s.size > 0, s.size + Int64(bytes.count) > segmentCap {
                s.fd?.close()
                s.fd = nil
                try rotate()
                s.previousKeys = s.keys
                s.keys = []
            }
            if s.fd == nil { try openCurrent(&s) }
            let fd = s.fd!
            let before = s.size
            do {
                if let allowed = fault?(bytes.count) {
                    try fd.writeAll(Array(bytes.prefix(max(0, allowed))))
                    throw Errno(code: Errno.noSpace, call: "write", path: Self.segmentPath(directory, 0))
                }
                try fd.writeAll(bytes)
                try fd.sync()
            } catch {
                // Whole or nothing: cut the partial record off. Reopened next time either way,
                // which also repairs the tail if this truncate fails too.
                try? fd.truncate(to: before)
                fd.close()
                s.fd = nil
                // `write: No space left on device` names its file for /health and the log.
                if let e = error as? Errno, e.path == nil { throw Errno(code: e.code, call: e.call, path: Self.segmentPath(directory, 0)) }
                throw error
            }
            s.size = before + Int64(bytes.count)
            s.keys.formUnion(freshKeys)
            return fresh
        }
        if let logger, !written.isEmpty {
            let now = SystemClock.monotonicNanoseconds()
            let messages = shared.withLock { sh in
                written.flatMap { sh.summary.note(source: $0.source, reason: $0.reason, offset: $0.start, rule: $0.rule, now: now) }
            }
            Self.log(messages, logger)
        }
        return written
    }

    /// `write`, tried again with backoff until it succeeds; throws only after `interrupt()`.
    /// `problem` says why while it fails. With a `heartbeat` the backoff beats (a full disk is
    /// waited out, not a wedge).
    public func writeRetrying(_ records: [DeadLetterRecord], beating heartbeat: Heartbeat? = nil) throws {
        var delay = retryInitial
        var attempt = 0
        while true {
            do {
                try write(records)
                let recovered = shared.withLock { sh -> Bool in
                    defer { sh.problem = nil }
                    return sh.problem != nil
                }
                if recovered { logger?.notice("dead letter writable again", ["dead_letter.directory": directory]) }
                return
            } catch {
                attempt += 1
                let text = "\(error)"
                let stop = shared.withLock { sh -> Bool in
                    sh.problem = "\(text); retrying in \(delay / 1_000_000) ms"
                    return sh.interrupted
                }
                if stop { throw error }
                // The first failure, then every fourth attempt (every 2 minutes once the wait is 30 s).
                if attempt == 1 || attempt % 4 == 0 {
                    logger?.error("cannot write the dead letter; retrying (the lines stay unacknowledged, nothing is lost)",
                                  ["error": text, "retry.in.ms": String(delay / 1_000_000), "attempt": String(attempt)])
                }
                let deadline = SystemClock.monotonicNanoseconds() + delay
                waiter.withLock {
                    while !shared.withLock({ $0.interrupted }) && SystemClock.monotonicNanoseconds() < deadline {
                        if let heartbeat {
                            heartbeat.waitBeating(waiter, atMost: deadline - SystemClock.monotonicNanoseconds())
                        } else {
                            _ = waiter.wait(until: deadline)
                        }
                    }
                }
                delay = min(delay * 2, 30_000_000_000)
            }
        }
    }

    /// Shutdown: a `writeRetrying` waiting out a backoff gives up (its lines stay unacknowledged).
    public func interrupt() {
        shared.withLock { $0.interrupted = true }
        waiter.withLock { waiter.broadcast() }
    }

    /// Logs the summaries of windows that have passed; call about once a second, and with
    /// `final` at shutdown so that no count is left unsaid.
    public func tick(final: Bool = false) {
        guard let logger else { return }
        let now = SystemClock.monotonicNanoseconds()
        Self.log(shared.withLock { $0.summary.tick(now: now, final: final) }, logger)
    }

    private static func log(_ messages: [DeadLetterLogSummary.Message], _ logger: Logger) {
        for m in messages {
            switch m {
            case .single(let source, let reason, let offset, let rule):
                logger.warning(m.text, ["reason": reason, "rule": rule ?? "none", "source.path": source, "source.offset": String(offset)])
            case .summary(let source, let lines, _, _):
                logger.warning(m.text, ["lines": String(lines), "source.path": source])
            }
        }
    }

    /// What identifies a record across restarts: source, byte range and content, not the time
    /// or the reason (a line read again after a crash gets a new time, maybe a new reason).
    static func key(_ r: DeadLetterRecord) -> UInt64 {
        var h = FNV1a()
        h.add(r.source.utf8)
        h.add(UInt64(bitPattern: r.start))
        h.add(UInt64(bitPattern: r.end))
        if let line = r.line { h.add(1); h.add(line.utf8) }
        if let event = r.event { h.add(2); h.add(event) }
        return h.value
    }

    /// How much of the newest records `write` knows at start, to skip them when their lines are
    /// read again: those written since the last checkpoint before a crash, the newest ones. A
    /// window of 4 MiB (some 10,000 records) keeps the first write after a start quick and the
    /// index small (8 bytes a record), whatever the cap.
    static let startupIndexBytes: Int64 = 4 << 20

    /// Identities of the newest records (the last `startupIndexBytes` of the current segment and,
    /// if it is shorter, of the previous one). A torn final line is not a record; `openCurrent`
    /// cuts it off.
    private func loadKeys(_ s: inout State) throws {
        s.previousKeys = []
        s.keys = []
        let currentSize = try FileSystem.status(Self.segmentPath(directory, 0))?.size ?? 0
        let previousWindow = max(0, Self.startupIndexBytes - currentSize)
        for (n, target) in [(1, false), (0, true)] {
            let path = Self.segmentPath(directory, n)
            guard let st = try FileSystem.status(path) else { continue }
            let window = target ? Self.startupIndexBytes : previousWindow
            if window == 0 { continue }
            var keys: Set<UInt64> = []
            try DeadLetterFile.forEachRecord(path, from: max(0, st.size - window)) { keys.insert(Self.key($0)) }
            if target { s.keys = keys } else { s.previousKeys = keys }
        }
    }

    private func openCurrent(_ s: inout State) throws {
        try FileSystem.createDirectories(directory, mode: 0o700)
        let path = Path.join(directory, Self.fileName)
        let existed = try FileSystem.status(path) != nil
        let fd = try FileDescriptor.open(path, [.readWrite, .append, .create], mode: 0o600)
        do {
            var size = try fd.status().size
            // A torn tail (a failed truncate back): cut it to the last complete line.
            if size > 0 {
                var last: UInt8 = 0
                _ = try withUnsafeMutableBytes(of: &last) { try fd.read(into: $0, at: size - 1) }
                if last != 0x0A {
                    let complete = try DeadLetterFile.forEachRecord(path, nil)
                    try fd.truncate(to: complete)
                    try fd.sync()
                    logger?.warning("cut a torn final record off the dead letter", ["path": path, "bytes": String(size - complete)])
                    size = complete
                }
            }
            if !existed { try syncDirectory() }
            s.fd = fd
            s.size = size
        } catch {
            fd.close()
            throw error
        }
    }

    private func rotate() throws {
        try FileSystem.remove(Self.segmentPath(directory, Self.keptSegments))
        for i in stride(from: Self.keptSegments - 1, through: 0, by: -1) {
            let from = Self.segmentPath(directory, i)
            if try FileSystem.status(from) != nil { try FileSystem.rename(from, to: Self.segmentPath(directory, i + 1)) }
        }
        try syncDirectory()
    }

    private func syncDirectory() throws {
        let d = try FileDescriptor.open(directory, .directory)
        defer { d.close() }
        try d.sync()
    }

    /// `dead-letter.ndjson` for 0, `dead-letter.N.ndjson` for older segment N.
    public static func segmentPath(_ directory: String, _ n: Int) -> String {
        Path.join(directory, n == 0 ? fileName : "dead-letter.\(n).ndjson")
    }

    /// Existing dead-letter files, oldest first.
    public static func files(in directory: String) throws -> [String] {
        var out: [String] = []
        for n in stride(from: keptSegments + 8, through: 0, by: -1) {
            let p = segmentPath(directory, n)
            if try FileSystem.status(p) != nil { out.append(p) }
        }
        return out
    }

    /// Records in all dead-letter files of a state directory (for `tracktail status`); 0 when
    /// there is none. A torn final line is not a record.
    public static func count(stateDirectory: String) throws -> Int {
        let dir = ShipConfiguration.deadLetterDirectory(stateDirectory: stateDirectory)
        guard let st = try FileSystem.status(dir), st.isDirectory else { return 0 }
        var n = 0
        for path in try files(in: dir) { n += try countLines(path) }
        return n
    }

    /// Complete lines (ending in a newline) of a file, from byte `offset` on.
    public static func countLines(_ path: String, from offset: Int64 = 0) throws -> Int {
        var n = 0
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let fd = try FileDescriptor.open(path)
        defer { fd.close() }
        var at = offset
        while true {
            let got = try chunk.withUnsafeMutableBytes { (b) throws in try fd.read(into: b, at: at) }
            if got == 0 { break }
            at += Int64(got)
            for i in 0..<got where chunk[i] == 0x0A { n += 1 }
        }
        return n
    }
}

/// Reads a dead-letter file back, for `tracktail replay`.
public enum DeadLetterFile {
    /// A line that is not a dead-letter record: where and why.
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public var path: String
        public var line: Int
        public var message: String
        public var description: String { "\(path):\(line): \(message)" }
    }

    public static func read(_ path: String) throws -> [DeadLetterRecord] {
        try parse(FileSystem.readAll(path), path: path)
    }

    /// Calls `body` (when given) with each well-formed record of a file from byte `offset` on
    /// (a line cut by `offset` is skipped), reading it in chunks (a dead letter can be large);
    /// lines that are not records are skipped. Returns the length of the file's complete part:
    /// up to and including its last newline.
    @discardableResult
    public static func forEachRecord(_ path: String, from offset: Int64 = 0, _ body: ((DeadLetterRecord) -> Void)?) throws -> Int64 {
        let fd = try FileDescriptor.open(path)
        defer { fd.close() }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var complete = offset
        var at = offset
        var skipping = offset > 0
        var doc = JSONDocument()
        while true {
            let got = try chunk.withUnsafeMutableBytes { (b) throws in try fd.read(into: b, at: at) }
            if got == 0 { break }
            let chunkStart = at
            at += Int64(got)
            var from = 0
            for i in 0..<got where chunk[i] == 0x0A {
                pending.append(contentsOf: chunk[from..<i])
                if !skipping, let body, let r = try? record(ArraySlice(pending), doc: &doc, path: path, lineNumber: 0) { body(r) }
                skipping = false
                pending.removeAll(keepingCapacity: true)
                complete = chunkStart + Int64(i) + 1   // a line may have begun in an earlier chunk
                from = i + 1
            }
            pending.append(contentsOf: chunk[from..<got])
        }
        return complete
    }

    /// Parses NDJSON dead-letter text; blank lines are skipped; unknown keys are ignored (newer
    /// writers may add some). A final line without its newline that is not a record is a write
    /// torn by a crash or a full disk: skipped, not an error.
    public static func parse(_ bytes: [UInt8], path: String = "<dead letter>") throws(ReadError) -> [DeadLetterRecord] {
        var out: [DeadLetterRecord] = []
        var doc = JSONDocument()
        var lineNumber = 0
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                out.append(try record(line, doc: &doc, path: path, lineNumber: lineNumber))
            } catch {
                if index == lines.count - 1 { continue }   // torn final line
                throw error
            }
        }
        return out
    }

    /// One line as a record.
    static func record(_ line: ArraySlice<UInt8>, doc: inout JSONDocument, path: String, lineNumber: Int) throws(ReadError) -> DeadLetterRecord {
        func fail(_ m: String) -> ReadError { ReadError(path: path, line: lineNumber, message: m) }
        do { try doc.parse(line) } catch { throw fail(error.description) }
        guard doc.kind(doc.root) == .object else { throw fail("not a JSON object") }
        var r = DeadLetterRecord(time: 0, reason: "", source: "", start: 0, end: 0)
        var problem: String?
        var seen: Set<String> = []
        doc.forEachMember(doc.root) { key, value in
            let k = doc.key(key)
            seen.insert(k)
            guard problem == nil, doc.kind(value) != .null else { return }
            func text() -> String? {
                if let s = doc.string(value) { return s }
                problem = "\(k): expected a string"
                return nil
            }
            func integer() -> Int64? {
                if let v = doc.int64(value) { return v }
                problem = "\(k): expected an integer"
                return nil
            }
            switch k {
            case "time":
                guard let s = text() else { return }
                if let t = parseTime(s) { r.time = t } else { problem = "time: not YYYY-MM-DDTHH:MM:SS.sssZ: \(s)" }
            case "reason": r.reason = text() ?? ""
            case "rule": r.rule = text()
            case "status": r.status = integer().map { Int($0) }
            case "response": r.response = text()
            case "source": r.source = text() ?? ""
            case "start": r.start = integer() ?? 0
            case "end": r.end = integer() ?? 0
            case "line": r.line = text()
            case "event": r.event = Array(doc.rawBytes(value))
            default: break
            }
        }
        if let problem { throw fail(problem) }
        for required in ["reason", "source", "start", "end"] where !seen.contains(required) {
            throw fail("missing \(required)")
        }
        return r
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ`, as `DeadLetterRecord` writes it; nil outside the years
    /// Int64 nanoseconds hold (1678–2262).
    static func parseTime(_ s: String) -> Int64? {
        guard s.utf8.count == Timestamp.wireLength, let t = try? Timestamp.parse(iso: s) else { return nil }
        let (ns, overflow) = t.epochMilliseconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : ns
    }
}
