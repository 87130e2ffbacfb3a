import Pipeline
import Posix
@testable import Tail
import Testing

/// The reader loop's timers, driven by a hand-moved clock (no sleeping).
struct ReaderScheduleTests {
    typealias C = ReaderSchedule.Conditions
    static let second: Int64 = 1_000_000_000

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var at: Int64
        var conditions: C
        var scan: Bool
        var tick: Bool
        /// Timeout asked for after the scan and tick decisions.
        var timeout: Int64
        var testDescription: String { name }
    }

    // Schedule created at t=0 with a 10 s rescan interval: next rescan at 10 s, next tick at 1 s.
    static let cases: [Case] = [
        .init(name: "idle daemon sleeps until the rescan", at: 0, conditions: C(), scan: false, tick: false, timeout: 10 * second),
        .init(name: "rescan due", at: 10 * second, conditions: C(), scan: true, tick: false, timeout: 10 * second),
        .init(name: "scan requested early", at: 2 * second, conditions: C(scanRequested: true), scan: true, tick: false, timeout: 10 * second),
        .init(name: "once never scans, sleeps 100 ms", at: 20 * second, conditions: C(once: true, scanRequested: true), scan: false, tick: false, timeout: 100_000_000),
        .init(name: "polling: tick due", at: 1 * second, conditions: C(polling: true), scan: false, tick: true, timeout: 1 * second),
        .init(name: "polling: tick not due, sleep until it", at: 400_000_000, conditions: C(polling: true), scan: false, tick: false, timeout: 600_000_000),
        .init(name: "fast tick after a due tick", at: 1 * second, conditions: C(polling: true, fastTick: true), scan: false, tick: true, timeout: 100_000_000),
        .init(name: "work waiting: no sleep", at: 0, conditions: C(workWaiting: true), scan: false, tick: false, timeout: 0),
        .init(name: "spool retry caps at 1 s", at: 0, conditions: C(retryTimer: true), scan: false, tick: false, timeout: 1 * second),
        .init(name: "no tick without polling", at: 5 * second, conditions: C(), scan: false, tick: false, timeout: 5 * second),
        .init(name: "overdue never negative", at: 30 * second, conditions: C(once: true, polling: true), scan: false, tick: true, timeout: 100_000_000),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        var s = ReaderSchedule(now: 0, rescanInterval: 10 * Self.second)
        #expect(s.takeScan(now: c.at, c.conditions) == c.scan)
        #expect(s.takeTick(now: c.at, c.conditions) == c.tick)
        #expect(s.timeout(now: c.at, c.conditions) == c.timeout)
    }

    @Test func ticksRepeatOnlyWhenDue() {
        var s = ReaderSchedule(now: 0, rescanInterval: 10 * Self.second)
        let polling = C(polling: true)
        var ticks: [Int64] = []
        var t: Int64 = 0
        while t <= 3 * Self.second {
            if s.takeTick(now: t, polling) { ticks.append(t) }
            t += 250_000_000
        }
        #expect(ticks == [1, 2, 3].map { $0 * Self.second })
    }
}

/// Journal cursors follow the ack watermark.
struct CursorTrailTests {
    static func mark(_ end: Int64) -> CursorTrail.Mark { .init(end: end, cursor: "c\(end)", realtime: end * 10) }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var ends: [Int64]
        var watermarks: [Int64]
        var expected: String?
        var pending: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "nothing done", ends: [10, 20, 30], watermarks: [], expected: nil, pending: 3),
        .init(name: "first entry done", ends: [10, 20, 30], watermarks: [10], expected: "c10", pending: 2),
        .init(name: "inside an entry: not done", ends: [10, 20, 30], watermarks: [15], expected: "c10", pending: 2),
        .init(name: "all done at once", ends: [10, 20, 30], watermarks: [30], expected: "c30", pending: 0),
        .init(name: "stepwise", ends: [10, 20, 30], watermarks: [10, 25], expected: "c20", pending: 1),
        .init(name: "watermark never goes back", ends: [10, 20, 30], watermarks: [30, 10], expected: "c30", pending: 0),
    ]

    @Test(arguments: cases)
    func follows(_ c: Case) {
        var t = CursorTrail()
        t.append(c.ends.map(Self.mark))
        for w in c.watermarks { t.advance(to: w) }
        #expect(t.checkpoint?.cursor == c.expected)
        #expect(t.pendingCount == c.pending)
    }

    @Test func undoneMarksAreDropped() {
        var t = CursorTrail(checkpoint: Self.mark(5))
        t.append([10, 20].map(Self.mark))
        t.dropLast(1)
        t.advance(to: 100)
        #expect(t.checkpoint?.cursor == "c10")
    }

    @Test func longRunsCompact() {
        var t = CursorTrail()
        for i in 1...5000 { t.append([Self.mark(Int64(i))]); t.advance(to: Int64(i)) }
        #expect(t.pendingCount == 0)
        #expect(t.checkpoint?.cursor == "c5000")
    }
}

/// What a tail hash read unlocked leads to once the table's lock is taken again.
struct TailRefreshTests {
    typealias O = TailRefresh.Outcome

    @Test(arguments: [
        // read, offset, tail held, watermark now, checkpointed, retired → outcome
        (true, 100, nil, 100, true, false, O(adopt: true)),
        (true, 100, 60, 100, true, false, O(adopt: true)),
        (true, 100, 60, 140, true, false, O(adopt: true, again: true)),            // acked meanwhile: still a proven point; read again
        (true, 100, 120, 140, true, false, O(again: true)),                         // a newer tail came meanwhile (detach)
        (true, 100, 100, 100, true, false, O()),
        (false, 100, 60, 100, true, false, O()),                                    // shrank: no proof, keep the last
        (false, 100, 60, 140, true, false, O(again: true)),
        (true, 100, 60, 100, false, false, O()),                                    // superseded meanwhile: not written
        (true, 100, 60, 100, true, true, O(adopt: true, release: true)),           // retired: its final hash, then closed
        (false, 100, 60, 100, true, true, O(release: true)),                        // even without a proof
    ] as [(Bool, Int64, Int64?, Int64, Bool, Bool, O)])
    func settles(read: Bool, offset: Int64, tail: Int64?, watermark: Int64, checkpointed: Bool, retired: Bool, expected: O) {
        #expect(TailRefresh.settle(read: read, offset: offset, tail: tail, watermark: watermark, checkpointed: checkpointed, retired: retired) == expected)
    }
}

/// Which entries a checkpoint holds.
struct CheckpointSelectionTests {
    static func entry(_ path: String, inode: UInt64, updated: Int64 = 0) -> CheckpointEntry {
        CheckpointEntry(input: "a", path: path, identity: FileIdentity(device: 1, inode: inode), fingerprint: Fingerprint(length: 1, hash: 1),
                        offset: 5, tailLength: 1, tailHash: 2, key: 3, updated: updated)
    }

    @Test func selects() {
        let day: Int64 = 86_400_000_000_000
        let rows: [CheckpointSelection.Row] = [
            .init(entry: Self.entry("/b", inode: 2), checkpointed: true),
            .init(entry: nil, checkpointed: true),                        // no proven tail: nothing
            .init(entry: Self.entry("/pipe", inode: 9), checkpointed: false), // superseded: nothing
            .init(entry: Self.entry("/a", inode: 1), checkpointed: true),
        ]
        let unclaimed = [Self.entry("/old", inode: 4, updated: 0), Self.entry("/recent", inode: 5, updated: 6 * day)]
        let out = CheckpointSelection.entries(rows: rows, unclaimed: unclaimed, now: 8 * day, forgetAfter: 7 * day)
        #expect(out.map(\.path) == ["/a", "/b", "/recent"])
    }

    /// Done ranges an entry keeps, given its tail hash's offset, the watermark and what is done
    /// past the watermark (every range 10 bytes long, separated by 10 not done).
    @Test(arguments: [
        (tail: 100, watermark: 100, past: 0, expected: [Range<Int64>]()),
        (tail: 100, watermark: 100, past: 2, expected: [110..<120, 130..<140]),
        (tail: 40, watermark: 100, past: 0, expected: [40..<100]),                   // no descriptor to re-hash: skip on restart
        (tail: 40, watermark: 100, past: 2, expected: [40..<100, 110..<120, 130..<140]),
        (tail: 0, watermark: 100, past: 20, expected: [0..<100] + (0..<15).map { 110 + Int64($0) * 20..<120 + Int64($0) * 20 }),
        (tail: 100, watermark: 100, past: 20, expected: (0..<16).map { 110 + Int64($0) * 20..<120 + Int64($0) * 20 }),
    ] as [(tail: Int64, watermark: Int64, past: Int, expected: [Range<Int64>])])
    func doneRanges(tail: Int64, watermark: Int64, past: Int, expected: [Range<Int64>]) {
        var t = AckTracker(base: 0)
        t.markDone(start: 0, end: watermark)
        for i in 0..<past { t.markDone(start: watermark + 10 + Int64(i) * 20, end: watermark + 20 + Int64(i) * 20) }
        #expect(t.checkpoint == watermark)
        #expect(CheckpointSelection.done(tail: tail, watermark: watermark, tracker: t) == expected)
    }

    @Test func cursorsRoundTripThroughTheFile() throws {
        let cursors = [JournalCheckpoint(input: "j", cursor: "s=abc;i=1", realtime: 1_700_000_000_000_000, updated: 42)]
        let bytes = CheckpointFile.encode([Self.entry("/a", inode: 1)], cursors: cursors)
        let back = try CheckpointFile.decodeAll(bytes)
        #expect(back.cursors == cursors)
        #expect(back.entries.count == 1)
        // Without journal inputs the file has no "journal" key at all.
        #expect(!String(decoding: CheckpointFile.encode([Self.entry("/a", inode: 1)]), as: UTF8.self).contains("journal"))
    }
}

/// journalctl command lines: journalctl ORs values of one field, ANDs fields, and `+` ORs groups.
struct JournalQueryTests {
    typealias Spec = TailConfiguration.JournalSpec

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: Spec
        var matches: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "nothing: whole journal", spec: Spec(), matches: []),
        .init(name: "units ORed", spec: Spec(units: ["a.service", "b.service"]), matches: ["_SYSTEMD_UNIT=a.service", "_SYSTEMD_UNIT=b.service"]),
        .init(name: "identifiers", spec: Spec(identifiers: ["x"]), matches: ["SYSLOG_IDENTIFIER=x"]),
        .init(name: "units or identifiers: two groups", spec: Spec(units: ["a"], identifiers: ["x"]),
              matches: ["_SYSTEMD_UNIT=a", "+", "SYSLOG_IDENTIFIER=x"]),
        .init(name: "matches ANDed into each group", spec: Spec(units: ["a"], identifiers: ["x"], matches: [("PRIORITY", ["5", "6"])]),
              matches: ["_SYSTEMD_UNIT=a", "PRIORITY=5", "PRIORITY=6", "+", "SYSLOG_IDENTIFIER=x", "PRIORITY=5", "PRIORITY=6"]),
        .init(name: "matches alone", spec: Spec(matches: [("PRIORITY", ["3"]), ("_HOSTNAME", ["h"])]), matches: ["PRIORITY=3", "_HOSTNAME=h"]),
    ]

    @Test(arguments: cases)
    func matches(_ c: Case) {
        #expect(JournalQuery.matches(c.spec) == c.matches)
    }

    @Test func positions() {
        let spec = Spec(directory: "/j")
        let cursor = JournalQuery.arguments(spec, position: .cursor("s=1"), follow: true)
        #expect(cursor.contains("--cursor=s=1") && cursor.contains("--no-tail") && cursor.contains("--follow"))
        #expect(!cursor.contains { $0.hasPrefix("--after-cursor") || $0.hasPrefix("--boot") })
        #expect(JournalQuery.arguments(spec, position: .beginning, follow: false).contains("--lines=all"))
        #expect(!JournalQuery.arguments(spec, position: .newest, follow: true).contains("--follow"))
        #expect(cursor.contains("--directory=/j"))
    }
}

/// What to do when journalctl ends.
struct JournalDecisionsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var once: Bool
        var status: Int32?
        var entries: Int
        var usedCursor: Bool
        var stderr: String
        var failures: Int
        var expected: JournalDecisions.AfterExit
        var testDescription: String { name }
    }

    static let s: Int64 = 1_000_000_000
    static let cases: [Case] = [
        .init(name: "once, clean exit", once: true, status: 0, entries: 5, usedCursor: false, stderr: "", failures: 1, expected: .done),
        .init(name: "bad cursor", once: false, status: 1, entries: 0, usedCursor: true, stderr: "Failed to seek to cursor: Invalid argument", failures: 1, expected: .dropCursor),
        .init(name: "cursor word but entries were read", once: false, status: 1, entries: 3, usedCursor: true, stderr: "cursor", failures: 1, expected: .restart(after: s)),
        .init(name: "first failure: 1 s", once: false, status: 1, entries: 0, usedCursor: false, stderr: "No journal files were found.", failures: 1, expected: .restart(after: s)),
        .init(name: "third failure: 4 s", once: false, status: nil, entries: 0, usedCursor: false, stderr: "", failures: 3, expected: .restart(after: 4 * s)),
        .init(name: "capped at 60 s", once: false, status: 1, entries: 0, usedCursor: false, stderr: "", failures: 30, expected: .restart(after: 60 * s)),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        #expect(JournalDecisions.afterExit(once: c.once, status: c.status, entriesRead: c.entries, usedCursor: c.usedCursor,
                                           standardError: c.stderr, failures: c.failures, minDelay: Self.s, maxDelay: 60 * Self.s) == c.expected)
    }
}

/// journalctl's JSON entries to mapper lines.
struct JournalEntryTests {
    static func line(_ json: String) -> String? {
        JournalEntry.decode(ArraySlice(json.utf8)).map { String(decoding: $0.line, as: UTF8.self) }
    }

    @Test(arguments: [
        (#"{"__CURSOR":"c","MESSAGE":"{\"a\":1}","_SYSTEMD_UNIT":"u"}"#, #"{"a":1,"journal":{"__CURSOR":"c","_SYSTEMD_UNIT":"u"}}"#),
        (#"{"__CURSOR":"c","MESSAGE":"{}"}"#, #"{"journal":{"__CURSOR":"c"}}"#),
        (#"{"__CURSOR":"c","MESSAGE":[123,34,98,34,58,50,125]}"#, #"{"b":2,"journal":{"__CURSOR":"c"}}"#),
        (#"{"__CURSOR":"c","MESSAGE":["{\"x\":1}","{\"y\":2}"]}"#, #"{"x":1,"journal":{"__CURSOR":"c"}}"#),
        (#"{"__CURSOR":"c","MESSAGE":"plain text"}"#, "plain text"),
        (#"{"__CURSOR":"c","MESSAGE":null}"#, ""),
        (#"{"__CURSOR":"c","MESSAGE":"{\"a\":1}\n"}"#, #"{"a":1,"journal":{"__CURSOR":"c"}}"#),
    ])
    func splices(_ input: String, _ expected: String) {
        #expect(Self.line(input) == expected)
    }

    @Test func notAnEntry() {
        #expect(Self.line("not json") == nil)
        #expect(Self.line(#"{"MESSAGE":"x"}"#) == nil, "no cursor")
    }
}

/// A pipe input's path at start.
@Test(arguments: [
    (nil as UInt32?, FIFOSetup.Decision.create),
    (0o010644, .use),
    (0o100644, .refuse(found: "a regular file")),
    (0o040755, .refuse(found: "a directory")),
    (0o140755, .refuse(found: "a socket")),
    (0o020666, .refuse(found: "a character device")),
])
func fifoSetup(mode: UInt32?, expected: FIFOSetup.Decision) {
    let status = mode.map { FileStatus(identity: FileIdentity(device: 1, inode: 1), size: 0, mode: $0, linkCount: 1, modified: 0) }
    #expect(FIFOSetup.decide(status) == expected)
}

/// The source table on its own: pushes, out-of-order acknowledgements, the journal cursor that
/// follows the watermark, retirement.
struct SourceTableTests {
    static func table() -> SourceTable { SourceTable(entries: [], cursors: [], forgetAfter: 1_000_000_000, wakeReader: {}) }
    static let info = SourceInfo(input: "j", path: "journal:system", identity: nil, fingerprint: nil, key: 7, isPipe: false)
    static func marks(_ ends: [Int64]) -> [CursorTrail.Mark] { ends.map { .init(end: $0, cursor: "c\($0)", realtime: $0) } }

    @Test func journalCursorFollowsOutOfOrderAcks() {
        let t = Self.table()
        let id = SourceID(1)
        t.add(id, info: Self.info, base: 0, descriptor: nil, checkpointed: false, cursors: CursorTrail())
        _ = t.recordPush(id, start: 0, end: 30, excess: [], cursors: Self.marks([10, 20, 30]))
        #expect(t.acknowledge(id, start: 10, end: 20) == 10)
        #expect(t.snapshot(ifChangedSince: nil)?.cursors.isEmpty == true, "a gap before: nothing done yet")
        #expect(t.acknowledge(id, start: 0, end: 10) == 10)
        #expect(t.snapshot(ifChangedSince: nil)?.cursors.map(\.cursor) == ["c20"])
        #expect(t.acknowledge(id, start: 0, end: 10) == 0, "duplicates release nothing")
        #expect(t.journalProgress.first?.latest?.cursor == "c30")
        #expect(t.acknowledge(id, start: 20, end: 30) == 10)
        #expect(t.snapshot(ifChangedSince: nil)?.cursors.map(\.cursor) == ["c30"])
    }

    @Test func unchangedTableGivesNoSnapshot() {
        let t = Self.table()
        let first = t.snapshot(ifChangedSince: nil)
        #expect(first != nil)
        #expect(t.snapshot(ifChangedSince: first!.token) == nil)
        t.add(SourceID(2), info: Self.info, base: 0, descriptor: nil, checkpointed: false)
        #expect(t.snapshot(ifChangedSince: first!.token) != nil)
    }

    @Test func finishedSourceRetiresOnceAcknowledged() {
        let t = Self.table()
        let id = SourceID(3)
        t.add(id, info: Self.info, base: 0, descriptor: nil, checkpointed: false)
        _ = t.recordPush(id, start: 0, end: 5, excess: [])
        t.finish(id, forget: true)
        #expect(t.count == 1, "waits for its acknowledgement")
        _ = t.acknowledge(id, start: 0, end: 5)
        #expect(t.count == 0)
    }

    @Test func failedPushIsUndoneAndStops() {
        let t = Self.table()
        let id = SourceID(4)
        t.add(id, info: Self.info, base: 0, descriptor: nil, checkpointed: false, cursors: CursorTrail())
        let previous = t.recordPush(id, start: 0, end: 10, excess: [], cursors: Self.marks([10]))
        t.undoPush(id, previousEnd: previous, excess: [], cursorCount: 1)
        #expect(t.isStopping)
        #expect(t.fullyAcknowledged([id]).contains(id))
        #expect(t.journalProgress.first?.latest == nil)
    }
}
