import Pipeline
import JSON
import Posix
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
public final class DeadLetter: Sendable {
    public static let fileName = "dead-letter.ndjson"
    public static let keptSegments = 3

    public let directory: String
    public let capBytes: Int64
    private let state = Mutex<Open?>(nil)

    private struct Open {
        var fd: FileDescriptor
        var size: Int64
    }

    public init(directory: String, capBytes: Int64 = 64 << 20) {
        self.directory = directory
        self.capBytes = max(4_096, capBytes)
    }

    /// The dead letter of a state directory, as `[state] directory` and the output's cap say.
    public convenience init(stateDirectory: String, capBytes: Int64 = 64 << 20) {
        self.init(directory: ShipConfiguration.deadLetterDirectory(stateDirectory: stateDirectory), capBytes: capBytes)
    }

    /// The dead letter a configuration names (`deadLetterDirectory`, `deadLetterCap`).
    public convenience init(configuration c: ShipConfiguration) {
        self.init(directory: c.deadLetterDirectory, capBytes: c.deadLetterCap)
    }

    deinit { state.withLock { $0?.fd.close() } }

    public var segmentCap: Int64 { capBytes / Int64(Self.keptSegments + 1) }

    /// Appends records and syncs them to disk.
    public func write(_ records: [DeadLetterRecord]) throws {
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        for r in records { r.serialized(into: &bytes) }
        try state.withLock { (open: inout Open?) throws in
            if let o = open, o.size > 0, o.size + Int64(bytes.count) > segmentCap {
                o.fd.close()
                open = nil
                try rotate()
            }
            if open == nil { open = try openCurrent() }
            try open!.fd.writeAll(bytes)
            try open!.fd.sync()
            open!.size += Int64(bytes.count)
        }
    }

    private func openCurrent() throws -> Open {
        try FileSystem.createDirectories(directory, mode: 0o700)
        let path = Path.join(directory, Self.fileName)
        let existed = try FileSystem.status(path) != nil
        let fd = try FileDescriptor.open(path, [.writeOnly, .append, .create], mode: 0o600)
        do {
            let size = try fd.status().size
            if !existed { try syncDirectory() }
            return Open(fd: fd, size: size)
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
    /// there is none.
    public static func count(stateDirectory: String) throws -> Int {
        let dir = ShipConfiguration.deadLetterDirectory(stateDirectory: stateDirectory)
        guard let st = try FileSystem.status(dir), st.isDirectory else { return 0 }
        var n = 0
        var chunk = [UInt8](repeating: 0, count: 65_536)
        for path in try files(in: dir) {
            let fd = try FileDescriptor.open(path)
            defer { fd.close() }
            while true {
                let got = try chunk.withUnsafeMutableBytes { (b) throws in try fd.read(into: b) }
                if got == 0 { break }
                for i in 0..<got where chunk[i] == 0x0A { n += 1 }
            }
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

    /// Parses NDJSON dead-letter text; blank lines are skipped; unknown keys are ignored (newer
    /// writers may add some).
    public static func parse(_ bytes: [UInt8], path: String = "<dead letter>") throws(ReadError) -> [DeadLetterRecord] {
        var out: [DeadLetterRecord] = []
        var doc = JSONDocument()
        var lineNumber = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
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
            out.append(r)
        }
        return out
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ`, as `DeadLetterRecord` writes it; nil outside the years
    /// Int64 nanoseconds hold (1678–2262).
    static func parseTime(_ s: String) -> Int64? {
        guard s.utf8.count == Timestamp.wireLength, let t = try? Timestamp.parse(iso: s) else { return nil }
        let (ns, overflow) = t.epochMilliseconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : ns
    }
}
