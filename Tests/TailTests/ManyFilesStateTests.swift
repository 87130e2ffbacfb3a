import Foundation
import Pipeline
import Posix
@testable import Tail
import Testing

/// Thousands of files (issue 11 item 5): per-file state of at most ~1 KiB, and work per file
/// opened that does not grow with the number of files known.
@Suite struct ManyFilesStateTests {
    /// What each known file costs in the reader (`FileInstance`) and in the source table's
    /// dictionary (`SourceTable.Source`, one slot per file; with 20,000 files the dictionary has
    /// 32,768 slots). Before: 240 + a 48-byte array for the last bytes read, and 308.
    @Test func perFileStructuresStaySmall() {
        #expect(MemoryLayout<SourceTable.Source>.stride <= 216)
        #expect(MemoryLayout<RecentBytes>.stride <= 24)
        let inst = FileInstance(id: SourceID(1), input: 0, path: "/var/log/app/some-service-000001.log",
                                identity: FileIdentity(device: 1, inode: 2), descriptor: FileDescriptor(rawValue: -1), offset: 0,
                                maxLineBytes: 1024, fingerprint: .empty, key: nil, now: 0)
        inst.remember(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(allocationSize(inst) <= 224)
        // The optionals behind sentinels read back as set.
        #expect(inst.key == nil && inst.avoidKey == nil && inst.orphanSince == nil && inst.onceLimit == nil)
        inst.key = 7
        inst.orphanSince = -5
        inst.onceLimit = 0
        #expect(inst.key == 7 && inst.orphanSince == -5 && inst.onceLimit == 0)
        inst.orphanSince = nil
        #expect(inst.orphanSince == nil)
    }

    /// Chunks fed in turn → the last 16 bytes, as an array would hold them.
    @Test(arguments: [
        [[UInt8]](),
        [[1, 2, 3]],
        [[1, 2, 3], [], [4]],
        [Array(0..<16)],
        [Array(0..<17)],
        [Array(0..<10), Array(10..<20)],
        [Array(0..<15), [99]],
        [Array(0..<15), [98, 99]],
        [Array(0..<100), [1], Array(200..<203)],
    ] as [[[UInt8]]])
    func recentBytesKeepTheLastSixteen(_ chunks: [[UInt8]]) {
        var recent = RecentBytes()
        var reference: [UInt8] = []
        for c in chunks {
            c.withUnsafeBytes { recent.append($0) }
            reference = Array((reference + c).suffix(16))
        }
        #expect(recent.bytes == reference)
        #expect(recent.count == reference.count)
        #expect(recent.isEmpty == reference.isEmpty)
    }

    /// 300 files under `max_open_files = 8`: the search for a slot looks at open files only
    /// (about 2,600 visits here). Before, each search walked every instance: about 50,000.
    @Test func openingFilesDoesNotWalkEveryKnownFile() throws {
        let h = Harness()
        var expected: [String] = []
        for i in 0..<300 {
            let ls = lines("f\(i)", 0..<2)
            expected += ls
            h.write("f\(i).log", joined(ls))
        }
        try h.start(h.configuration(maxOpenFiles: 8))
        #expect(eventually(60) { h.texts.count >= expected.count })
        h.stop()
        expectExactly(h, expected)
        let visits = h.tailer.reader?.slotCandidatesVisited ?? -1
        #expect(visits >= 0 && visits <= 300 * 8 * 3, "\(visits) instances visited")

        // A restart: the files waiting for a slot are not searched for as rotated away
        // (before: all ~290 of them, each against every name in the directory).
        h.clearDelivered()
        for i in 0..<300 { h.append("f\(i).log", "f\(i) new line\n") }
        try h.start(h.configuration(maxOpenFiles: 8))
        #expect(eventually(60) { h.texts.count >= 300 })
        h.stop()
        expectExactly(h, (0..<300).map { "f\($0) new line" })
        #expect(h.tailer.reader?.entriesSearchedAtStartup == 0)
    }
}

/// The checkpoint read line by line must mean exactly what the whole-document parse means.
@Suite struct CheckpointStreamingTests {
    static let entry = CheckpointEntry(input: "app", path: "/var/log/a.log", identity: FileIdentity(device: 1, inode: 2),
                                       fingerprint: Fingerprint(length: 10, hash: 3), offset: 10, tailLength: 10, tailHash: 4,
                                       key: 5, updated: 6)
    static let line = String(decoding: CheckpointFile.encode([entry]), as: UTF8.self)
        .split(separator: "\n")[1]
    static let body = String(line.dropFirst())

    /// Text → read line by line (true) or handed to the whole-document parse (false).
    @Test(arguments: [
        ("{\"version\":1,\"entries\":[\n]}\n", true),
        ("{\"version\":1,\"entries\":[\n \(body)\n]}\n", true),
        ("{\"version\":1,\"entries\":[\n \(body),\n \(body)\n]}\n", true),
        ("{\"version\":2,\"entries\":[\n \(body)\n],\"journal\":[\n {\"input\":\"j\",\"cursor\":\"c\",\"realtime\":1,\"updated\":2}\n]}\n", true),
        ("{\"version\":1,\"entries\":[\n \(body)\n]}", true),
        // Not the written layout: parsed whole (valid or not).
        ("{\"version\":1,\"entries\":[\n \(body),\n]}\n", false),      // trailing comma: invalid
        ("{\"version\":1,\"entries\":[\n \(body)\n \(body)\n]}\n", false), // missing comma: invalid
        ("{\"version\":1,\"entries\":[\r\n \(body)\r\n]}\r\n", false),  // CRLF: valid
        ("{\"version\": 1, \"entries\": [\(body)]}", false),
        ("{\"version\":1,\"entries\":[\n \(body)\n]}\nx", false),
        ("{\"version\":1,\"entries\":[\n \(body)\n]}\n\n", true),
        ("{\"version\":3,\"entries\":[\n]}\n", false),
        ("{\"version\":1,\"entries\":[\n {\"input\":1}\n]}\n", true),  // valid JSON, bad entry: same error
        ("{\"version\":1,\"entries\":[\n [1]\n]}\n", false),
    ])
    func linesMeanWhatTheDocumentMeans(_ text: String, readByLines: Bool) throws {
        let bytes = Array(text.utf8)
        var start = 0
        let byLines = Result {
            try CheckpointFile.decodeLines {
                guard start < bytes.count else { return nil }
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                defer { start = end + 1 }
                return bytes[start..<end]
            }
        }
        let whole = Result { try CheckpointFile.decodeDocument(bytes) }
        switch byLines {
        case .success(let r?):
            #expect(readByLines)
            let w = try whole.get()
            #expect(r.entries == w.entries && r.cursors == w.cursors)
        case .success(nil):
            #expect(!readByLines)
        case .failure(let e):
            #expect(readByLines)
            guard case .failure(let w) = whole else { Issue.record("only the line reading failed: \(e)"); return }
            #expect("\(e)" == "\(w)")
        }
        // `decodeAll` agrees with the whole-document parse either way.
        switch (Result { try CheckpointFile.decodeAll(bytes) }, whole) {
        case (.success(let a), .success(let b)): #expect(a.entries == b.entries && a.cursors == b.cursors)
        case (.failure(let a), .failure(let b)): #expect("\(a)" == "\(b)")
        default: Issue.record("decodeAll and the document parse disagree")
        }
    }

    /// Written in pieces: the same bytes as at once, and the digest is theirs.
    @Test func encodedInPiecesAsAtOnce() throws {
        let entries = (0..<500).map { i in
            var e = Self.entry
            e.path = "/var/log/f\(i).log"
            e.identity = FileIdentity(device: 1, inode: UInt64(i))
            return e
        }
        let cursors = [JournalCheckpoint(input: "j", cursor: "s=1", realtime: 1, updated: 2)]
        let whole = CheckpointFile.encode(entries, cursors: cursors)
        var pieces: [[UInt8]] = []
        CheckpointFile.encode(entries, cursors: cursors, chunkBytes: 1000) { pieces.append(Array($0)) }
        #expect(pieces.count > 10)
        #expect(pieces.allSatisfy { $0.count < 1000 + 400 })
        #expect(Array(pieces.joined()) == whole)
        let digest = CheckpointFile.digest(entries, cursors: cursors)
        #expect(digest.count == whole.count && digest.hash == FNV1a.hash(whole))
        // And read back line by line from a file.
        let dir = makeTempDirectory(#function)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CheckpointFile.write(entries, cursors: cursors, stateDirectory: dir)
        let back = try CheckpointFile.decodeFile(CheckpointFile.path(stateDirectory: dir))
        #expect(back.entries == entries && back.cursors == cursors)
    }
}

/// `Path.normalize` returns a normal path as it is (no copy per file per scan).
@Test(arguments: [
    ("/var/log/a.log", "/var/log/a.log"),
    ("a", "a"),
    ("/", "/"),
    ("", "."),
    (".", "."),
    ("./a", "a"),
    ("a/./b", "a/b"),
    ("a//b", "a/b"),
    ("a/b/", "a/b"),
    ("/a/../b", "/b"),
    ("../a", "../a"),
    ("a/...", "a/..."),
    ("a/.b/..c", "a/.b/..c"),
    ("//a", "/a"),
])
func pathNormalize(_ path: String, _ expected: String) {
    #expect(Path.normalize(path) == expected)
}

/// The bytes malloc gave an object (glibc's `malloc_usable_size`, looked up at run time: it
/// is not in the Glibc module's headers).
func allocationSize(_ object: AnyObject) -> Int {
    typealias Usable = @convention(c) (UnsafeMutableRawPointer?) -> Int
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_usable_size") else { return -1 }
    return unsafeBitCast(symbol, to: Usable.self)(Unmanaged.passUnretained(object).toOpaque())
}

/// The checkpoint's order (path, then inode), sorted in place: the same as `sorted`.
@Test(arguments: [0, 1, 2, 3, 7, 100, 1000])
func checkpointEntriesSortInPlace(_ count: Int) {
    var g = SystemRandomNumberGenerator()
    let entries = (0..<count).map { i -> CheckpointEntry in
        var e = CheckpointStreamingTests.entry
        e.path = "/l/\(Int.random(in: 0..<max(1, count / 3), using: &g))"
        e.identity = FileIdentity(device: 1, inode: UInt64.random(in: 0..<5, using: &g))
        e.offset = Int64(i)
        return e
    }
    var sorted = entries
    CheckpointSelection.sortInPlace(&sorted)
    let keys = sorted.map { ($0.path, $0.identity.inode) }
    #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 })
    #expect(sorted.map(\.offset).sorted() == entries.map(\.offset), "a permutation")
}

/// `UnclaimedEntries` answers like the dictionary it replaced, through loads, claims (sweeps
/// included), re-insertions and lookups of identities never held.
@Test(arguments: [1, 2, 3, 4, 5])
func unclaimedEntriesActLikeADictionary(_ seed: UInt64) {
    var g = SeededGenerator(seed: seed)
    func entry(_ inode: UInt64, _ offset: Int64) -> CheckpointEntry {
        var e = CheckpointStreamingTests.entry
        e.identity = FileIdentity(device: inode % 3, inode: inode)
        e.offset = offset
        return e
    }
    let loaded = (0..<300).map { _ in entry(UInt64.random(in: 0..<400, using: &g), Int64.random(in: 0..<1000, using: &g)) }
    var reference: [FileIdentity: CheckpointEntry] = [:]
    for e in loaded { reference[e.identity] = e }
    var table = UnclaimedEntries(loaded)
    #expect(table.count == reference.count)
    for step in 0..<2000 {
        let id = entry(UInt64.random(in: 0..<450, using: &g), 0).identity
        switch Int.random(in: 0..<10, using: &g) {
        case 0..<6:
            #expect(table.removeValue(forKey: id) == reference.removeValue(forKey: id), "step \(step)")
        case 6..<8:
            let e = entry(id.inode, Int64(step))
            table[id] = e
            reference[id] = e
        default:
            #expect(table[id] == reference[id], "step \(step)")
        }
        #expect(table.count == reference.count)
    }
    #expect(Set(table.values.map(\.identity)) == Set(reference.keys))
    #expect(table.values.allSatisfy { reference[$0.identity] == $0 })
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
