import Pipeline
import Posix
import Tail
import Testing

struct ChangeCase: CustomTestStringConvertible, Sendable {
    var name: String
    var known: Fingerprint
    var readOffset: Int64
    var size: Int64
    var prefix: UInt64?
    var recentMatches = true
    var expected: FileChange
    var testDescription: String { name }
}

let fp = Fingerprint(length: 256, hash: 0xAAAA)
let shortFP = Fingerprint(length: 10, hash: 0xBBBB)

let changeCases: [ChangeCase] = [
    ChangeCase(name: "same size", known: fp, readOffset: 1000, size: 1000, prefix: 0xAAAA, expected: .unchanged),
    ChangeCase(name: "grown", known: fp, readOffset: 1000, size: 1500, prefix: 0xAAAA, expected: .grown),
    ChangeCase(name: "copytruncate: smaller than offset", known: fp, readOffset: 1000, size: 300, prefix: 0xAAAA, expected: .truncated),
    ChangeCase(name: "truncated below fingerprint", known: fp, readOffset: 1000, size: 0, prefix: nil, expected: .truncated),
    ChangeCase(name: "truncated and rewritten past offset", known: fp, readOffset: 1000, size: 5000, prefix: 0xCCCC, expected: .replaced),
    ChangeCase(name: "inode reuse: other first bytes", known: fp, readOffset: 300, size: 300, prefix: 0xCCCC, expected: .replaced),
    ChangeCase(name: "short fingerprint still matches", known: shortFP, readOffset: 10, size: 200, prefix: 0xBBBB, expected: .grown),
    ChangeCase(name: "short file truncated to less", known: shortFP, readOffset: 10, size: 4, prefix: nil, expected: .truncated),
    ChangeCase(name: "empty file stays empty", known: .empty, readOffset: 0, size: 0, prefix: Fingerprint.empty.hash, expected: .unchanged),
    ChangeCase(name: "rewritten past offset, same first bytes", known: fp, readOffset: 1000, size: 1500, prefix: 0xAAAA, recentMatches: false, expected: .replaced),
    ChangeCase(name: "rewritten to same size, same first bytes", known: fp, readOffset: 1000, size: 1000, prefix: 0xAAAA, recentMatches: false, expected: .replaced),
    ChangeCase(name: "empty file grows", known: .empty, readOffset: 0, size: 5, prefix: Fingerprint.empty.hash, expected: .grown),
]

@Test(arguments: changeCases)
func fileChangeTable(_ c: ChangeCase) {
    #expect(FileDecisions.change(known: c.known, readOffset: c.readOffset, size: c.size, prefixHash: c.prefix,
                                 recentMatches: c.recentMatches) == c.expected)
}

@Test(arguments: [
    (current: 10, size: Int64(10), configured: 256, expected: Int?.none),
    (current: 10, size: Int64(50), configured: 256, expected: Int?.some(50)),
    (current: 10, size: Int64(5000), configured: 256, expected: Int?.some(256)),
    (current: 256, size: Int64(5000), configured: 256, expected: Int?.none),
    (current: 0, size: Int64(1), configured: 256, expected: Int?.some(1)),
])
func fingerprintGrowthTable(_ c: (current: Int, size: Int64, configured: Int, expected: Int?)) {
    #expect(FileDecisions.fingerprintGrowth(current: c.current, size: c.size, configured: c.configured) == c.expected)
}

@Test func startOffsetTable() {
    #expect(FileDecisions.startOffset(startAt: .beginning, foundAtStartup: true, size: 100) == 0)
    #expect(FileDecisions.startOffset(startAt: .end, foundAtStartup: true, size: 100) == 100)
    // A file created after start (the new file of a rotation) is read whole even with "end".
    #expect(FileDecisions.startOffset(startAt: .end, foundAtStartup: false, size: 100) == 0)
    // "end" backs up to the start of an unfinished last line.
    #expect(FileDecisions.startOffset(startAt: .end, foundAtStartup: true, size: 100, lastLineStart: 90) == 90)
    #expect(FileDecisions.startOffset(startAt: .beginning, foundAtStartup: true, size: 100, lastLineStart: 90) == 0)
}

struct OrphanCase: CustomTestStringConvertible, Sendable {
    var name: String
    var deleted: Bool
    var atEOF: Bool
    var idle: Int64
    var orphaned: Int64
    var expected: OrphanAction
    var testDescription: String { name }
}

let s = 1_000_000_000 as Int64
let orphanCases: [OrphanCase] = [
    OrphanCase(name: "renamed, still being read", deleted: false, atEOF: false, idle: 0, orphaned: 100 * s, expected: .keepReading),
    OrphanCase(name: "renamed, at end, not quiet yet", deleted: false, atEOF: true, idle: 1 * s, orphaned: 1 * s, expected: .keepReading),
    OrphanCase(name: "renamed, at end, quiet", deleted: false, atEOF: true, idle: 5 * s, orphaned: 5 * s, expected: .close),
    OrphanCase(name: "renamed, never abandoned", deleted: false, atEOF: false, idle: 0, orphaned: 3600 * s, expected: .keepReading),
    OrphanCase(name: "deleted, at end, quiet", deleted: true, atEOF: true, idle: 6 * s, orphaned: 6 * s, expected: .close),
    OrphanCase(name: "deleted, unread, within grace", deleted: true, atEOF: false, idle: 0, orphaned: 30 * s, expected: .keepReading),
    OrphanCase(name: "deleted, unread, past grace", deleted: true, atEOF: false, idle: 0, orphaned: 61 * s, expected: .abandon),
    OrphanCase(name: "deleted, at end, past grace", deleted: true, atEOF: true, idle: 0, orphaned: 61 * s, expected: .close),
]

@Test(arguments: orphanCases)
func orphanTable(_ c: OrphanCase) {
    #expect(FileDecisions.orphanAction(deleted: c.deleted, atEOF: c.atEOF, idleNanoseconds: c.idle, orphanedNanoseconds: c.orphaned,
                                       linger: 5 * s, deletedGrace: 60 * s) == c.expected)
}

let A = FileIdentity(device: 1, inode: 10)
let B = FileIdentity(device: 1, inode: 11)
let C = FileIdentity(device: 1, inode: 12)

struct ReconcileCase: CustomTestStringConvertible, Sendable {
    var name: String
    var tracked: [FileDecisions.Tracked]
    var observed: [FileDecisions.Observed]
    var expected: [ScanAction]
    var testDescription: String { name }
}

let reconcileCases: [ReconcileCase] = [
    ReconcileCase(name: "nothing changed", tracked: [.init(id: SourceID(1), path: "/l/app.log", identity: A)],
                  observed: [.init(path: "/l/app.log", identity: A)], expected: [.keep(SourceID(1))]),
    ReconcileCase(name: "new file", tracked: [], observed: [.init(path: "/l/app.log", identity: A)],
                  expected: [.discovered(path: "/l/app.log", identity: A)]),
    ReconcileCase(name: "rename rotation out of the globs", tracked: [.init(id: SourceID(1), path: "/l/app.log", identity: A)],
                  observed: [.init(path: "/l/app.log", identity: B)],
                  expected: [.orphaned(SourceID(1)), .discovered(path: "/l/app.log", identity: B)]),
    ReconcileCase(name: "rename rotation inside the globs", tracked: [.init(id: SourceID(1), path: "/l/app.log", identity: A)],
                  observed: [.init(path: "/l/app.log", identity: B), .init(path: "/l/app.log.1", identity: A)],
                  expected: [.moved(SourceID(1), to: "/l/app.log.1"), .discovered(path: "/l/app.log", identity: B)]),
    ReconcileCase(name: "deleted", tracked: [.init(id: SourceID(1), path: "/l/app.log", identity: A)], observed: [],
                  expected: [.orphaned(SourceID(1))]),
    ReconcileCase(name: "hard links are one file", tracked: [],
                  observed: [.init(path: "/l/b", identity: A), .init(path: "/l/a", identity: A)],
                  expected: [.discovered(path: "/l/a", identity: A)]),
    ReconcileCase(name: "swap of two names", tracked: [.init(id: SourceID(1), path: "/l/a", identity: A), .init(id: SourceID(2), path: "/l/b", identity: B)],
                  observed: [.init(path: "/l/a", identity: B), .init(path: "/l/b", identity: A)],
                  expected: [.moved(SourceID(1), to: "/l/b"), .moved(SourceID(2), to: "/l/a")]),
    ReconcileCase(name: "copy replaces file: new inode", tracked: [.init(id: SourceID(1), path: "/l/a", identity: A)],
                  observed: [.init(path: "/l/a", identity: C)],
                  expected: [.orphaned(SourceID(1)), .discovered(path: "/l/a", identity: C)]),
]

@Test(arguments: reconcileCases)
func reconcileTable(_ c: ReconcileCase) {
    #expect(FileDecisions.reconcile(tracked: c.tracked, observed: c.observed) == c.expected)
}

let entry = CheckpointEntry(input: "app", path: "/l/app.log", identity: A, fingerprint: Fingerprint(length: 256, hash: 0xF1),
                            offset: 1000, tailLength: 64, tailHash: 0x7A, key: 42, updated: 0)

struct ValidationCase: CustomTestStringConvertible, Sendable {
    var name: String
    var identity: FileIdentity
    var size: Int64
    var prefix: UInt64?
    var tail: UInt64?
    var resumes: Bool
    var reasonContains: String = ""
    var testDescription: String { name }
}

let validationCases: [ValidationCase] = [
    ValidationCase(name: "same file, grown", identity: A, size: 5000, prefix: 0xF1, tail: 0x7A, resumes: true),
    ValidationCase(name: "same file, exactly at offset", identity: A, size: 1000, prefix: 0xF1, tail: 0x7A, resumes: true),
    ValidationCase(name: "other inode", identity: B, size: 5000, prefix: 0xF1, tail: 0x7A, resumes: false, reasonContains: "inode"),
    ValidationCase(name: "truncated while stopped", identity: A, size: 10, prefix: nil, tail: nil, resumes: false, reasonContains: "shorter"),
    ValidationCase(name: "inode reused", identity: A, size: 5000, prefix: 0x99, tail: 0x7A, resumes: false, reasonContains: "fingerprint"),
    ValidationCase(name: "rewritten before offset", identity: A, size: 5000, prefix: 0xF1, tail: 0x00, resumes: false, reasonContains: "before"),
]

@Test(arguments: validationCases)
func checkpointValidationTable(_ c: ValidationCase) {
    let r = FileDecisions.validate(entry, identity: c.identity, size: c.size, prefixHash: c.prefix, tailHash: c.tail)
    switch r {
    case .resume(let at):
        #expect(c.resumes)
        #expect(at == 1000)
    case .startOver(let reason):
        #expect(!c.resumes)
        #expect(reason.contains(c.reasonContains), "\(reason)")
    }
}

@Test func evictionPicksOldestIdle() {
    let c: [(id: SourceID, idleSince: Int64)] = [(SourceID(1), 30), (SourceID(2), 10), (SourceID(3), 20)]
    #expect(FileDecisions.evictions(candidates: c, openCount: 5, limit: 3) == [SourceID(2), SourceID(3)])
    #expect(FileDecisions.evictions(candidates: c, openCount: 3, limit: 3) == [])
    #expect(FileDecisions.evictions(candidates: c, openCount: 10, limit: 3).count == 3)
}

@Test func instanceKeyTable() {
    let first = Array("{\"a\":1}\n".utf8)
    let k = FileDecisions.instanceKey(identity: A, head: first + Array("more".utf8), fingerprintBytes: 256)
    #expect(k != nil)
    // Only the first line counts: what follows may still be growing.
    #expect(FileDecisions.instanceKey(identity: A, head: first + Array("other and longer".utf8), fingerprintBytes: 256) == k)
    #expect(FileDecisions.instanceKey(identity: A, head: first, fingerprintBytes: 256) == k)
    // Another inode or another first line: another key.
    #expect(FileDecisions.instanceKey(identity: B, head: first, fingerprintBytes: 256) != k)
    #expect(FileDecisions.instanceKey(identity: A, head: Array("{\"a\":2}\n".utf8), fingerprintBytes: 256) != k)
    // No complete first line yet: not computable, unless at the end of a `once` read.
    #expect(FileDecisions.instanceKey(identity: A, head: Array("partial".utf8), fingerprintBytes: 256) == nil)
    #expect(FileDecisions.instanceKey(identity: A, head: Array("partial".utf8), fingerprintBytes: 256, atEnd: true) != nil)
    // A first line longer than the fingerprint: its first `fingerprintBytes` bytes.
    let long = [UInt8](repeating: 0x61, count: 300)
    #expect(FileDecisions.instanceKey(identity: A, head: Array(long.prefix(256)), fingerprintBytes: 256)
        == FileDecisions.instanceKey(identity: A, head: long + [0x0A], fingerprintBytes: 256))
    // A previous instance had this key (same first line after truncation): derive another.
    let next = FileDecisions.instanceKey(identity: A, head: first, fingerprintBytes: 256, avoid: k)
    #expect(next != nil && next != k)
    #expect(FileDecisions.instanceKey(identity: A, head: Array("{\"b\":1}\n".utf8), fingerprintBytes: 256, avoid: k)
        == FileDecisions.instanceKey(identity: A, head: Array("{\"b\":1}\n".utf8), fingerprintBytes: 256))
}

struct SlotCase: Sendable, CustomTestStringConvertible {
    var name: String
    var open: Int
    var held: Int
    var idle: [UInt32]
    var evict: [UInt32]
    var granted: Bool
    var testDescription: String { name }
}

/// Open-file slots under `max_open_files` = 3. Candidates idle since their id (lower = longer).
@Test(arguments: [
    SlotCase(name: "room", open: 1, held: 1, idle: [1], evict: [], granted: true),
    SlotCase(name: "full, one idle file", open: 3, held: 0, idle: [2, 1], evict: [1], granted: true),
    SlotCase(name: "full, nothing evictable", open: 3, held: 0, idle: [], evict: [], granted: false),
    SlotCase(name: "held descriptors count", open: 2, held: 1, idle: [], evict: [], granted: false),
    SlotCase(name: "over the limit, too few idle", open: 4, held: 1, idle: [5], evict: [5], granted: false),
])
func openFileSlots(_ c: SlotCase) {
    let plan = FileDecisions.slot(open: c.open, held: c.held, limit: 3,
                                  candidates: c.idle.map { (id: SourceID($0), idleSince: Int64($0)) })
    #expect(plan.evict == c.evict.map(SourceID.init))
    #expect(plan.granted == c.granted)
}

/// A periodic rescan lists the directories again only when one may have changed.
@Test(arguments: [
    // (listed, now, listed at, waiting, reused in a row, reuse?)
    (nil, ["/l": 1_000], 10_000, false, 0, false),                      // no listing yet
    (["/l": 1_000], ["/l": 1_000], 10_000, false, 0, true),
    (["/l": 1_000], ["/l": 1_000], 10_000, false, 4, true),
    (["/l": 1_000], ["/l": 1_000], 10_000, false, 5, false),            // every 6th lists
    (["/l": 1_000], ["/l": 1_000], 10_000, true, 0, false),             // files wait for a slot
    (["/l": 1_000], ["/l": 1_001], 10_000, false, 0, false),            // the directory changed
    (["/l": 1_000], ["/l": nil], 10_000, false, 0, false),              // it is gone
    (["/l": 1_000], ["/l": 1_000, "/m": 1_000], 10_000, false, 0, false), // another directory
    (["/l": 9_500], ["/l": 9_500], 10_000, false, 0, false),            // changed just before the listing
    (["/l": 8_000], ["/l": 8_000], 10_000, false, 0, false),            // margin is exclusive
    (["/l": 1_000, "/m": 7_999], ["/l": 1_000, "/m": 7_999], 10_000, false, 0, true),
] as [([String: Int64]?, [String: Int64?], Int64, Bool, Int, Bool)])
func reuseListingTable(listed: [String: Int64]?, now: [String: Int64?], listedAt: Int64, waiting: Bool, inARow: Int, expected: Bool) {
    #expect(FileDecisions.reuseListing(listed: listed, now: now, listedAt: listedAt, margin: 2_000, waiting: waiting,
                                       reusedInARow: inARow, fullEvery: 6) == expected)
}

