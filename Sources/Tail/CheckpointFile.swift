import Posix

/// One file's saved position: which file (identity confirmed by fingerprint), how far every
/// line is done, and a hash of the bytes just before that offset so a file rewritten while we
/// were stopped is noticed instead of read from a wrong place.
public struct CheckpointEntry: Sendable, Equatable {
    /// The `[[input]]` it belongs to.
    public var input: String
    /// Last path it was seen at (informational; matching is by identity).
    public var path: String
    public var identity: FileIdentity
    public var fingerprint: Fingerprint
    /// Every line before this offset is done (delivered, dead-lettered or dropped).
    public var offset: Int64
    /// Length (≤ 64) and hash of the bytes before `offset`.
    public var tailLength: Int
    public var tailHash: UInt64
    /// The file instance's stable 64-bit key (deterministic event ids derive from it).
    public var key: UInt64
    /// Wall-clock nanoseconds when this entry last changed or its file was last seen.
    public var updated: Int64

    public init(input: String, path: String, identity: FileIdentity, fingerprint: Fingerprint, offset: Int64,
                tailLength: Int, tailHash: UInt64, key: UInt64, updated: Int64) {
        self.input = input
        self.path = path
        self.identity = identity
        self.fingerprint = fingerprint
        self.offset = offset
        self.tailLength = tailLength
        self.tailHash = tailHash
        self.key = key
        self.updated = updated
    }

    /// Bytes before the offset hashed into `tailHash`.
    public static let tailBytes = 64
}

/// Why a checkpoint file could not be used (with the byte offset for a syntax error).
public struct CheckpointFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// `<state>/checkpoints.json`, versioned JSON, with `checkpoints.json.prev` as the previous
/// good copy:
///
/// ```json
/// {"version":1,"entries":[
///  {"input":"app","path":"/var/log/app.log","device":2049,"inode":131,
///   "fingerprint":{"length":256,"hash":"9f0c…"},"offset":10240,
///   "tail":{"length":64,"hash":"01ab…"},"key":"77e1…","updated":1732400000000000000}
/// ]}
/// ```
///
/// Writing: the current file is renamed to `.prev`, then the new one is written atomically
/// (temp, fsync, rename, fsync directory). Reading: the current file, else `.prev` (a crash
/// between the two steps leaves only `.prev`; a corrupt current file is reported and `.prev`
/// used). Hashes and keys are 16 hex digits so that JavaScript-based tools read them exactly.
/// This module has its own small reader for this fixed shape (the JSON module came later).
public enum CheckpointFile {
    public static let version = 1
    public static func path(stateDirectory: String) -> String { Path.join(stateDirectory, "checkpoints.json") }
    public static func previousPath(stateDirectory: String) -> String { path(stateDirectory: stateDirectory) + ".prev" }

    /// What `load` found, for the tailer to log.
    public struct Loaded: Sendable {
        public var entries: [CheckpointEntry]
        /// `nil`: no checkpoint yet (first start). Otherwise the file actually used.
        public var usedPath: String?
        /// Problems with files that were skipped (each logged by the caller).
        public var problems: [CheckpointFileError]
    }

    /// Reads the entries, falling back to `.prev`. Returns `[]` on a first start (neither file
    /// exists); throws only when a checkpoint exists but no copy is usable — the caller must not
    /// start over from zero silently. Safe while the daemon runs (for `tracktail status`).
    public static func read(stateDirectory: String) throws -> [CheckpointEntry] {
        let loaded = load(stateDirectory: stateDirectory)
        if loaded.usedPath == nil, let first = loaded.problems.first { throw first }
        return loaded.entries
    }

    public static func load(stateDirectory: String) -> Loaded {
        var problems: [CheckpointFileError] = []
        for p in [path(stateDirectory: stateDirectory), previousPath(stateDirectory: stateDirectory)] {
            let bytes: [UInt8]
            do {
                guard try FileSystem.status(p) != nil else { continue }
                bytes = try FileSystem.readAll(p)
            } catch {
                problems.append(CheckpointFileError(path: p, reason: "\(error)"))
                continue
            }
            do {
                return Loaded(entries: try decode(bytes), usedPath: p, problems: problems)
            } catch let e as CheckpointFileError {
                problems.append(CheckpointFileError(path: p, reason: e.reason))
            } catch {
                problems.append(CheckpointFileError(path: p, reason: "\(error)"))
            }
        }
        return Loaded(entries: [], usedPath: nil, problems: problems)
    }

    /// Replaces the checkpoint, keeping the current one as `.prev`.
    public static func write(_ entries: [CheckpointEntry], stateDirectory: String) throws {
        let main = path(stateDirectory: stateDirectory)
        if try FileSystem.status(main) != nil {
            try FileSystem.rename(main, to: previousPath(stateDirectory: stateDirectory))
        }
        try FileSystem.writeAtomically(main, encode(entries), mode: 0o640)
    }

    public static func encode(_ entries: [CheckpointEntry]) -> [UInt8] {
        var s = "{\"version\":\(version),\"entries\":["
        for (i, e) in entries.enumerated() {
            s += i == 0 ? "\n " : ",\n "
            s += "{\"input\":"
            appendQuoted(e.input, to: &s)
            s += ",\"path\":"
            appendQuoted(e.path, to: &s)
            s += ",\"device\":\(e.identity.device),\"inode\":\(e.identity.inode)"
            s += ",\"fingerprint\":{\"length\":\(e.fingerprint.length),\"hash\":\"\(Hex.string(e.fingerprint.hash))\"}"
            s += ",\"offset\":\(e.offset)"
            s += ",\"tail\":{\"length\":\(e.tailLength),\"hash\":\"\(Hex.string(e.tailHash))\"}"
            s += ",\"key\":\"\(Hex.string(e.key))\",\"updated\":\(e.updated)}"
        }
        s += "\n]}\n"
        return Array(s.utf8)
    }

    static func appendQuoted(_ v: String, to s: inout String) {
        s += "\""
        for ch in v.unicodeScalars {
            switch ch {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            default:
                if ch.value < 0x20 {
                    let h = String(ch.value, radix: 16)
                    s += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    s.unicodeScalars.append(ch)
                }
            }
        }
        s += "\""
    }

    public static func decode(_ bytes: [UInt8]) throws -> [CheckpointEntry] {
        var reader = MiniJSON(bytes: bytes)
        let root = try reader.parseDocument()
        func fail(_ why: String) -> CheckpointFileError { CheckpointFileError(path: "checkpoints.json", reason: why) }
        guard case .object(let top) = root else { throw fail("top level is not an object") }
        guard let v = top["version"]?.integer else { throw fail("missing \"version\"") }
        guard v == Int64(version) else { throw fail("unsupported version \(v) (this build reads \(version))") }
        guard case .array(let list)? = top["entries"] else { throw fail("missing \"entries\" array") }
        var out: [CheckpointEntry] = []
        for (i, item) in list.enumerated() {
            guard case .object(let o) = item else { throw fail("entries[\(i)] is not an object") }
            func str(_ k: String) throws -> String {
                guard case .string(let s)? = o[k] else { throw fail("entries[\(i)].\(k): missing or not a string") }
                return s
            }
            func int(_ k: String, in obj: [String: MiniJSON.Value], path: String) throws -> Int64 {
                guard let n = obj[k]?.integer else { throw fail("entries[\(i)].\(path): missing or not an integer") }
                return n
            }
            func uint(_ k: String) throws -> UInt64 {
                guard case .number(let raw)? = o[k], let n = UInt64(raw) else { throw fail("entries[\(i)].\(k): missing or not an unsigned integer") }
                return n
            }
            func hashed(_ k: String) throws -> (Int, UInt64) {
                guard case .object(let f)? = o[k] else { throw fail("entries[\(i)].\(k): missing or not an object") }
                let length = try int("length", in: f, path: "\(k).length")
                guard case .string(let h)? = f["hash"], let hash = Hex.parse(h) else { throw fail("entries[\(i)].\(k).hash: missing or not hex") }
                guard length >= 0 else { throw fail("entries[\(i)].\(k).length: negative") }
                return (Int(length), hash)
            }
            let (fl, fh) = try hashed("fingerprint")
            let (tl, th) = try hashed("tail")
            guard let key = Hex.parse(try str("key")) else { throw fail("entries[\(i)].key: not hex") }
            let offset = try int("offset", in: o, path: "offset")
            guard offset >= 0 else { throw fail("entries[\(i)].offset: negative") }
            out.append(CheckpointEntry(
                input: try str("input"), path: try str("path"),
                identity: FileIdentity(device: try uint("device"), inode: try uint("inode")),
                fingerprint: Fingerprint(length: fl, hash: fh), offset: offset,
                tailLength: tl, tailHash: th, key: key, updated: try int("updated", in: o, path: "updated")))
        }
        return out
    }
}

/// A small strict JSON reader for the checkpoint file's fixed shape (objects, arrays, strings,
/// integers, booleans, null). Numbers are kept as text so 64-bit values stay exact.
struct MiniJSON {
    indirect enum Value {
        case object([String: Value])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null

        var integer: Int64? {
            if case .number(let raw) = self { return Int64(raw) }
            return nil
        }
    }

    let bytes: [UInt8]
    var i = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ why: String) -> CheckpointFileError {
        CheckpointFileError(path: "checkpoints.json", reason: "byte \(i): \(why)")
    }

    mutating func parseDocument() throws -> Value {
        let v = try parseValue()
        skipSpace()
        if i != bytes.count { throw error("unexpected data after the document") }
        return v
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func parseValue() throws -> Value {
        skipSpace()
        guard i < bytes.count else { throw error("unexpected end of file") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            depth += 1
            if depth > 16 { throw error("nested too deeply") }
            defer { depth -= 1 }
            i += 1
            var o: [String: Value] = [:]
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key string") }
                let k = try parseString()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                o[k] = try parseValue()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of file") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            depth += 1
            if depth > 16 { throw error("nested too deeply") }
            defer { depth -= 1 }
            i += 1
            var a: [Value] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                a.append(try parseValue())
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of file") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            i += 1
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                throw error("only integers are expected here")
            }
            return .number(String(decoding: bytes[start..<i], as: UTF8.self))
        default:
            throw error("unexpected character")
        }
    }

    mutating func literal(_ word: String, _ v: Value) throws -> Value {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("invalid literal") }
        i += w.count
        return v
    }

    mutating func parseString() throws -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw error("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                    throw error("bad \\u escape")
                }
                i += 4
                // Paths with surrogate pairs are not written by us; keep the scalar or U+FFFD.
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw error("bad escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not UTF-8") }
        return s
    }
}
