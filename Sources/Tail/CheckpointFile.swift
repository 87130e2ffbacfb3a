import JSON
import Pipeline
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
    /// Byte ranges past `offset` that are done too (acknowledged out of order while an earlier
    /// batch waited): a restart skips them. At most `maxDoneRanges`, sorted, disjoint.
    public var done: [Range<Int64>]

    public init(input: String, path: String, identity: FileIdentity, fingerprint: Fingerprint, offset: Int64,
                tailLength: Int, tailHash: UInt64, key: UInt64, updated: Int64, done: [Range<Int64>] = []) {
        self.input = input
        self.path = path
        self.identity = identity
        self.fingerprint = fingerprint
        self.offset = offset
        self.tailLength = tailLength
        self.tailHash = tailHash
        self.key = key
        self.updated = updated
        self.done = done
    }

    /// The `done` ranges still usable for a file of `size` bytes that resumes at `offset`: a
    /// range the file no longer holds whole (it shrank and grew again) is read again instead.
    public func resumableDone(size: Int64) -> [Range<Int64>] {
        done.filter { $0.lowerBound >= offset && $0.upperBound <= size }
    }

    /// Bytes before the offset hashed into `tailHash`.
    public static let tailBytes = 64
    /// Done ranges kept per file: enough for the batches a stop can leave in flight, small
    /// enough that a checkpoint of 20,000 files stays small.
    public static let maxDoneRanges = 16
}

/// Why a checkpoint file could not be used (with the byte offset for a syntax error).
public struct CheckpointFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// `<state>/checkpoints.json`, versioned JSON, with `checkpoints.json.prev` as the previous
/// good copy. One entry per line, so that a person can read and diff it:
///
/// ```json
/// {"version":2,"entries":[
///  {"input":"app","path":"/var/log/app.log","device":2049,"inode":131,
///   "fingerprint":{"length":256,"hash":"9f0c…"},"offset":10240,
///   "tail":{"length":64,"hash":"01ab…"},"done":[[20480,30720]],"key":"77e1…","updated":1732400000000000000}
/// ]}
/// ```
///
/// Versions: 2 added `done` (ranges past `offset` already delivered, skipped after a restart).
/// Both are read. A file without any `done` range is written as version 1, byte for byte as
/// before, so that an older build can still start from it; an older build refuses version 2
/// (and falls back to `.prev`).
///
/// Writing: the current file is renamed to `.prev`, then the new one is written atomically
/// (temp, fsync, rename, fsync directory). Reading: the current file, else `.prev` (a crash
/// between the two steps leaves only `.prev`; a corrupt current file is reported and `.prev`
/// used). Hashes and keys are 16 hex digits so that JavaScript-based tools read them exactly.
///
/// Reading is strict, and every error names what is wrong:
///
/// | problem                                  | reason (example)                                        |
/// |------------------------------------------|---------------------------------------------------------|
/// | not JSON                                 | `byte 17: trailing comma in object` (from the JSON module) |
/// | wrong shape                              | `top level is not an object`, `missing "entries" array`  |
/// | other version                            | `unsupported version 3 (this build reads 1 and 2)`      |
/// | field missing or of the wrong type       | `entries[2].offset: missing or not an integer`          |
/// | number with fraction or exponent, or out of range | as above (`device`/`inode`: `not an unsigned integer`) |
/// | negative offset or length                | `entries[2].tail.length: negative`                      |
/// | hash or key not hex                      | `entries[0].key: not hex`                               |
/// | done range not `[start, end]` past offset | `entries[0].done[1]: not [start, end] with offset <= start < end` |
public enum CheckpointFile {
    /// The newest version written (see above: 1 when no entry has `done` ranges).
    public static let version = 2
    /// The file is four levels deep; anything much deeper is not a checkpoint.
    static let maxDepth = 16
    public static func path(stateDirectory: String) -> String { Path.join(stateDirectory, "checkpoints.json") }
    public static func previousPath(stateDirectory: String) -> String { path(stateDirectory: stateDirectory) + ".prev" }

    /// What `load` found, for the tailer to log.
    public struct Loaded: Sendable {
        public var entries: [CheckpointEntry]
        /// Journal inputs' cursors.
        public var cursors: [JournalCheckpoint] = []
        /// `nil`: no checkpoint yet (first start). Otherwise the file actually used.
        public var usedPath: String?
        /// Problems with files that were skipped (each logged by the caller).
        public var problems: [CheckpointFileError]
    }

    /// Reads the entries, falling back to `.prev`. Returns `[]` on a first start (neither file
    /// exists); throws only when a checkpoint exists but no copy is usable — the caller must not
    /// start over from zero silently. Safe while the daemon runs (for `tracktail status`).
    public static func read(stateDirectory: String) throws -> [CheckpointEntry] {
        try readAll(stateDirectory: stateDirectory).entries
    }

    /// `read`, with the journal cursors.
    public static func readAll(stateDirectory: String) throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint]) {
        let loaded = load(stateDirectory: stateDirectory)
        if loaded.usedPath == nil, let first = loaded.problems.first { throw first }
        return (loaded.entries, loaded.cursors)
    }

    public static func load(stateDirectory: String) -> Loaded {
        var problems: [CheckpointFileError] = []
        for p in [path(stateDirectory: stateDirectory), previousPath(stateDirectory: stateDirectory)] {
            do {
                guard try FileSystem.status(p) != nil else { continue }
            } catch {
                problems.append(CheckpointFileError(path: p, reason: "\(error)"))
                continue
            }
            do {
                let all = try decodeFile(p)
                return Loaded(entries: all.entries, cursors: all.cursors, usedPath: p, problems: problems)
            } catch let e as CheckpointFileError {
                problems.append(CheckpointFileError(path: p, reason: e.reason))
            } catch {
                problems.append(CheckpointFileError(path: p, reason: "\(error)"))
            }
        }
        return Loaded(entries: [], usedPath: nil, problems: problems)
    }

    /// Replaces the checkpoint, keeping the current one as `.prev`. The file is encoded and
    /// written in pieces of about `chunkBytes`: with 20,000 files it is ~6 MB, which is never
    /// held whole in memory.
    public static func write(_ entries: [CheckpointEntry], cursors: [JournalCheckpoint] = [], stateDirectory: String) throws {
        try replace(stateDirectory: stateDirectory) { fd in
            try encode(entries, cursors: cursors) { try fd.writeAll($0) }
        }
    }

    /// `write` with the bytes from `encode`.
    public static func write(encoded bytes: [UInt8], stateDirectory: String) throws {
        try replace(stateDirectory: stateDirectory) { try $0.writeAll(bytes) }
    }

    private static func replace(stateDirectory: String, _ body: (FileDescriptor) throws -> Void) throws {
        let main = path(stateDirectory: stateDirectory)
        if try FileSystem.status(main) != nil {
            try FileSystem.rename(main, to: previousPath(stateDirectory: stateDirectory))
        }
        try FileSystem.writeAtomically(main, mode: 0o640, body)
    }

    /// Size and FNV-1a hash of what `encode` would produce, computed piece by piece (to skip a
    /// write that would not change the file, without holding the file's bytes).
    public static func digest(_ entries: [CheckpointEntry], cursors: [JournalCheckpoint] = []) -> (count: Int, hash: UInt64) {
        var count = 0
        var h = FNV1a()
        encode(entries, cursors: cursors) { chunk in
            count += chunk.count
            h.add(chunk)
        }
        return (count, h.value)
    }

    /// The file's bytes: minified JSON except for a line break before each entry and the closing
    /// bracket (each entry on its own line, so that `decodeAll` can read it line by line).
    public static func encode(_ entries: [CheckpointEntry], cursors: [JournalCheckpoint] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + entries.count * 320)
        encode(entries, cursors: cursors) { out.append(contentsOf: $0) }
        return out
    }

    /// `encode`, handed to `sink` in pieces of about `chunkBytes` (never more than one entry past).
    public static func encode(_ entries: [CheckpointEntry], cursors: [JournalCheckpoint] = [], chunkBytes: Int = 65536,
                              into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var out: [UInt8] = []
        out.reserveCapacity(min(chunkBytes, 64 + entries.count * 320) + 512)
        var line = JSONWriter(capacity: 512)
        func flush(_ force: Bool) throws {
            guard force || out.count >= chunkBytes else { return }
            try out.withUnsafeBytes { try sink($0) }
            out.removeAll(keepingCapacity: true)
        }
        out.append(contentsOf: "{\"version\":\(entries.contains { !$0.done.isEmpty } ? version : 1),\"entries\":[".utf8)
        for (i, e) in entries.enumerated() {
            out.append(contentsOf: (i == 0 ? "\n " : ",\n ").utf8)
            line.reset()
            write(e, to: &line)
            out.append(contentsOf: line.bytes)
            try flush(false)
        }
        out.append(contentsOf: "\n]".utf8)
        if !cursors.isEmpty {
            // Only when there is a journal input: files-only checkpoints stay byte-identical.
            out.append(contentsOf: ",\"journal\":[".utf8)
            for (i, c) in cursors.enumerated() {
                out.append(contentsOf: (i == 0 ? "\n " : ",\n ").utf8)
                line.reset()
                line.beginObject()
                line.key("input"); line.string(c.input)
                line.key("cursor"); line.string(c.cursor)
                line.key("realtime"); line.int(c.realtime)
                line.key("updated"); line.int(c.updated)
                line.endObject()
                out.append(contentsOf: line.bytes)
                try flush(false)
            }
            out.append(contentsOf: "\n]".utf8)
        }
        out.append(contentsOf: "}\n".utf8)
        try flush(true)
    }

    static func write(_ e: CheckpointEntry, to w: inout JSONWriter) {
        w.beginObject()
        w.key("input")
        w.string(e.input)
        w.key("path")
        w.string(e.path)
        // UInt64: above Int64.max too, so written from its decimal text.
        w.key("device")
        w.number(text: String(e.identity.device))
        w.key("inode")
        w.number(text: String(e.identity.inode))
        w.key("fingerprint")
        writeHashed(length: e.fingerprint.length, hash: e.fingerprint.hash, to: &w)
        w.key("offset")
        w.int(e.offset)
        w.key("tail")
        writeHashed(length: e.tailLength, hash: e.tailHash, to: &w)
        if !e.done.isEmpty {
            w.key("done")
            w.beginArray()
            for r in e.done {
                w.beginArray()
                w.int(r.lowerBound)
                w.int(r.upperBound)
                w.endArray()
            }
            w.endArray()
        }
        w.key("key")
        w.string(Hex.string(e.key))
        w.key("updated")
        w.int(e.updated)
        w.endObject()
    }

    /// `{"length":N,"hash":"16 hex"}`
    static func writeHashed(length: Int, hash: UInt64, to w: inout JSONWriter) {
        w.beginObject()
        w.key("length")
        w.int(Int64(length))
        w.key("hash")
        w.string(Hex.string(hash))
        w.endObject()
    }

    public static func decode(_ bytes: [UInt8]) throws -> [CheckpointEntry] {
        try decodeAll(bytes).entries
    }

    /// The file entries and the journal cursors (`"journal"`, optional).
    ///
    /// A file in the layout `encode` writes (one entry per line) is read line by line, each
    /// entry parsed on its own; anything else (a hand-edited file, or one that is not valid) is
    /// parsed whole, which also gives the error its byte offset. Both read the same documents
    /// the same way (see `decodeLines`).
    public static func decodeAll(_ bytes: [UInt8]) throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint]) {
        var start = 0
        let lines = try decodeLines {
            guard start < bytes.count else { return nil }
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            defer { start = end + 1 }
            return bytes[start..<end]
        }
        return try lines ?? decodeDocument(bytes)
    }

    /// `decodeAll` of a file, read in pieces: a checkpoint of 20,000 files (~6 MB) is never held
    /// whole in memory (nor its parse), unless it is not in the layout `encode` writes.
    static func decodeFile(_ path: String) throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint]) {
        let fd = try FileDescriptor.open(path)
        var reader = LineReader(fd)
        let lines = try { () throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint])? in
            defer { fd.close() }
            return try decodeLines { try reader.next() }
        }()
        return try lines ?? decodeDocument(try FileSystem.readAll(path))
    }

    /// The line-by-line reading of the layout `encode` writes, or `nil` when the text is not in
    /// it (then the caller parses the whole document). Accepted, and nothing else:
    ///
    /// | line                                    | then                                   |
    /// |-----------------------------------------|----------------------------------------|
    /// | `{"version":N,"entries":[` (N = 1, 2)    | first line                             |
    /// | ` {…},` or ` {…}` (the last one)         | one entry, parsed on its own           |
    /// | `],"journal":[` then ` {…},` / ` {…}`    | journal cursors                        |
    /// | `]}`                                     | the end; only an empty line may follow |
    ///
    /// Each line is complete JSON on its own, and the commas are checked, so an accepted text
    /// is a valid document with the same meaning. An entry that is valid JSON but not a valid
    /// entry throws the same error as the whole-document reading (same index).
    static func decodeLines(_ next: () throws -> ArraySlice<UInt8>?) throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint])? {
        guard let first = try next() else { return nil }
        let v1 = Array(#"{"version":1,"entries":["#.utf8), v2 = Array(#"{"version":2,"entries":["#.utf8)
        guard first.elementsEqual(v1) || first.elementsEqual(v2) else { return nil }
        let journalOpen = Array(#"],"journal":["#.utf8), close = Array("]}".utf8)
        // An entry sits two levels down in the document: the same depth limit as a whole parse.
        var doc = JSONDocument(maxDepth: maxDepth - 2)
        var entries: [CheckpointEntry] = []
        var cursors: [JournalCheckpoint] = []
        var inJournal = false
        var count = 0
        var needsMore = false  // the last element ended with a comma
        while let line = try next() {
            if line.elementsEqual(close) || (!inJournal && line.elementsEqual(journalOpen)) {
                if needsMore { return nil }
                if line.elementsEqual(close) {
                    while let rest = try next() { if !rest.isEmpty { return nil } }
                    return (entries, cursors)
                }
                inJournal = true
                count = 0
                continue
            }
            // ` {…}` with an optional trailing comma; the previous element must have had one.
            guard line.first == 0x20, count == 0 || needsMore else { return nil }
            var body = line.dropFirst()
            needsMore = body.last == 0x2C
            if needsMore { body = body.dropLast() }
            guard body.first == 0x7B, (try? doc.parse(body)) != nil else { return nil }
            if inJournal {
                cursors.append(try cursor(doc, doc.root, index: count))
            } else {
                entries.append(try entry(doc, doc.root, index: count))
            }
            count += 1
        }
        return nil
    }

    /// The whole document parsed at once (any layout).
    static func decodeDocument(_ bytes: [UInt8]) throws -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint]) {
        var doc = JSONDocument(maxDepth: maxDepth)
        do {
            try doc.parse(bytes)
        } catch {
            throw fail("\(error)")
        }
        let root = doc.root
        guard doc.kind(root) == .object else { throw fail("top level is not an object") }
        guard let v = doc.member(root, "version").flatMap(doc.int64) else { throw fail("missing \"version\"") }
        guard v == 1 || v == 2 else { throw fail("unsupported version \(v) (this build reads 1 and 2)") }
        guard let list = doc.member(root, "entries"), doc.kind(list) == .array else { throw fail("missing \"entries\" array") }
        var out: [CheckpointEntry] = []
        out.reserveCapacity(doc.count(list))
        var i = 0
        try doc.forEachElement(list) { o in
            out.append(try entry(doc, o, index: i))
            i += 1
        }
        var cursors: [JournalCheckpoint] = []
        if let j = doc.member(root, "journal") {
            guard doc.kind(j) == .array else { throw fail("\"journal\" is not an array") }
            var k = 0
            try doc.forEachElement(j) { o in
                cursors.append(try cursor(doc, o, index: k))
                k += 1
            }
        }
        return (out, cursors)
    }

    static func fail(_ why: String) -> CheckpointFileError { CheckpointFileError(path: "checkpoints.json", reason: why) }

    /// One element of `"entries"`, read straight from the parsed tape (no `JSONValue` tree).
    static func entry(_ doc: JSONDocument, _ o: JSONNode, index i: Int) throws -> CheckpointEntry {
        guard doc.kind(o) == .object else { throw fail("entries[\(i)] is not an object") }
        func str(_ k: String) throws -> String {
            guard let s = doc.member(o, k).flatMap(doc.string) else { throw fail("entries[\(i)].\(k): missing or not a string") }
            return s
        }
        func int(_ k: String, in obj: JSONNode, path: String) throws -> Int64 {
            guard let n = doc.member(obj, k).flatMap(doc.int64) else { throw fail("entries[\(i)].\(path): missing or not an integer") }
            return n
        }
        func uint(_ k: String) throws -> UInt64 {
            // From the exact decimal text: fractions, exponents, negatives and overflow fail.
            guard let raw = doc.member(o, k).flatMap(doc.numberText), let n = UInt64(raw) else {
                throw fail("entries[\(i)].\(k): missing or not an unsigned integer")
            }
            return n
        }
        func hashed(_ k: String) throws -> (Int, UInt64) {
            guard let f = doc.member(o, k), doc.kind(f) == .object else { throw fail("entries[\(i)].\(k): missing or not an object") }
            let length = try int("length", in: f, path: "\(k).length")
            guard let h = doc.member(f, "hash").flatMap(doc.string), let hash = Hex.parse(h) else {
                throw fail("entries[\(i)].\(k).hash: missing or not hex")
            }
            guard length >= 0 else { throw fail("entries[\(i)].\(k).length: negative") }
            return (Int(length), hash)
        }
        let (fl, fh) = try hashed("fingerprint")
        let (tl, th) = try hashed("tail")
        guard let key = Hex.parse(try str("key")) else { throw fail("entries[\(i)].key: not hex") }
        let offset = try int("offset", in: o, path: "offset")
        guard offset >= 0 else { throw fail("entries[\(i)].offset: negative") }
        var done: [Range<Int64>] = []
        if let d = doc.member(o, "done") {
            guard doc.kind(d) == .array else { throw fail("entries[\(i)].done: not an array") }
            var j = 0
            try doc.forEachElement(d) { r in
                defer { j += 1 }
                guard doc.kind(r) == .array, doc.count(r) == 2, let start = doc.element(r, 0).flatMap(doc.int64),
                      let end = doc.element(r, 1).flatMap(doc.int64), offset <= start, start < end else {
                    throw fail("entries[\(i)].done[\(j)]: not [start, end] with offset <= start < end")
                }
                done.append(start..<end)
            }
        }
        return CheckpointEntry(
            input: try str("input"), path: try str("path"),
            identity: FileIdentity(device: try uint("device"), inode: try uint("inode")),
            fingerprint: Fingerprint(length: fl, hash: fh), offset: offset,
            tailLength: tl, tailHash: th, key: key, updated: try int("updated", in: o, path: "updated"), done: done)
    }

    /// One element of `"journal"`.
    static func cursor(_ doc: JSONDocument, _ o: JSONNode, index k: Int) throws -> JournalCheckpoint {
        guard doc.kind(o) == .object, let input = doc.member(o, "input").flatMap(doc.string),
              let cursor = doc.member(o, "cursor").flatMap(doc.string), !cursor.isEmpty,
              let realtime = doc.member(o, "realtime").flatMap(doc.int64), let updated = doc.member(o, "updated").flatMap(doc.int64) else {
            throw fail("journal[\(k)]: needs input, cursor (strings), realtime and updated (integers)")
        }
        return JournalCheckpoint(input: input, cursor: cursor, realtime: realtime, updated: updated)
    }

    /// Lines of a file, read 64 KiB at a time (a line may be longer; the buffer grows to it).
    struct LineReader {
        let fd: FileDescriptor
        var buffer: [UInt8] = []
        var start = 0
        var atEnd = false
        init(_ fd: FileDescriptor) { self.fd = fd }

        /// The next line without its `\n`; the last one also without; `nil` after it.
        mutating func next() throws -> ArraySlice<UInt8>? {
            var from = start
            while true {
                if let i = buffer[from...].firstIndex(of: 0x0A) {
                    defer { start = i + 1 }
                    return buffer[start..<i]
                }
                if atEnd {
                    guard start < buffer.count else { return nil }
                    defer { start = buffer.count }
                    return buffer[start...]
                }
                buffer.removeSubrange(0..<start)
                from = buffer.count
                start = 0
                buffer.append(contentsOf: repeatElement(0, count: 65536))
                let n = try buffer.withUnsafeMutableBytes { try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[from...])) }
                buffer.removeSubrange((from + n)...)
                atEnd = n == 0
            }
        }
    }
}
