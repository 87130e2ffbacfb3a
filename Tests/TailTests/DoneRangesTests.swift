import Foundation
import Pipeline
import Posix
import Tail
import Testing

/// Issue 11 item 4: acknowledged ranges past the watermark survive a restart (checkpoint
/// version 2), so a restart re-sends only what was in flight.

struct ResumeCase: CustomTestStringConvertible, Sendable {
    var name: String
    var base: Int64
    var done: [Range<Int64>]
    var checkpoint: Int64
    var ranges: [Range<Int64>]
    var testDescription: String { name }
}

@Test(arguments: [
    ResumeCase(name: "nothing saved", base: 10, done: [], checkpoint: 10, ranges: []),
    ResumeCase(name: "one range past a gap", base: 10, done: [20..<30], checkpoint: 10, ranges: [20..<30]),
    ResumeCase(name: "unsorted, overlapping", base: 0, done: [50..<60, 10..<20, 15..<25], checkpoint: 0, ranges: [10..<25, 50..<60]),
    ResumeCase(name: "touching the base advances it", base: 10, done: [10..<20, 30..<40], checkpoint: 20, ranges: [30..<40]),
    ResumeCase(name: "before the base ignored", base: 100, done: [0..<50, 120..<130], checkpoint: 100, ranges: [120..<130]),
    ResumeCase(name: "empty range ignored", base: 0, done: [5..<5], checkpoint: 0, ranges: []),
])
func ackTrackerResumesWithDoneRanges(_ c: ResumeCase) {
    let t = AckTracker(base: c.base, done: c.done)
    #expect(t.checkpoint == c.checkpoint)
    #expect(t.doneRanges == c.ranges)
}

/// A resumed tracker counts only new bytes: acknowledging a saved range again releases nothing.
@Test func resumedTrackerDoesNotCountSavedRangesTwice() {
    var t = AckTracker(base: 0, done: [10..<20])
    #expect(t.markDone(start: 10, end: 20) == 0)
    #expect(t.markDone(start: 0, end: 10) == 10)
    #expect(t.checkpoint == 20)
    #expect(t.doneRanges.isEmpty)
}

struct LimitCase: CustomTestStringConvertible, Sendable {
    var name: String
    var marks: [Range<Int64>]
    var limit: Int
    var saved: [Range<Int64>]
    var testDescription: String { name }
}

@Test(arguments: [
    LimitCase(name: "under the limit: all", marks: [10..<20, 30..<40], limit: 4, saved: [10..<20, 30..<40]),
    LimitCase(name: "over: the largest, in order", marks: [10..<12, 20..<40, 50..<51, 60..<70], limit: 2, saved: [20..<40, 60..<70]),
    LimitCase(name: "ties: the first", marks: [10..<20, 30..<40, 50..<60], limit: 2, saved: [10..<20, 30..<40]),
    LimitCase(name: "limit 0: none", marks: [10..<20], limit: 0, saved: []),
    LimitCase(name: "nothing pending", marks: [0..<10], limit: 4, saved: []),
])
func ackTrackerDoneRangesAreCapped(_ c: LimitCase) {
    var t = AckTracker(base: 0)
    for r in c.marks { t.markDone(start: r.lowerBound, end: r.upperBound) }
    #expect(t.doneRanges(limit: c.limit) == c.saved)
}

func doneEntry(offset: Int64 = 10, done: [Range<Int64>]) -> CheckpointEntry {
    CheckpointEntry(input: "app", path: "/var/log/app.log", identity: FileIdentity(device: 1, inode: 2),
                    fingerprint: Fingerprint(length: 4, hash: 5), offset: offset, tailLength: 6, tailHash: 7, key: 8,
                    updated: 9, done: done)
}

@Test func checkpointWithDoneRangesRoundTripsAsVersion2() throws {
    let entries = [doneEntry(done: [20..<30, 40..<1_000_000_000_000]), doneEntry(offset: 3, done: [])]
    let bytes = CheckpointFile.encode(entries)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.hasPrefix("{\"version\":2,"))
    #expect(text.contains("\"done\":[[20,30],[40,1000000000000]]"))
    #expect(try CheckpointFile.decode(bytes) == entries)
}

/// Without any done range the file is version 1, exactly as older builds wrote (and read) it.
@Test func checkpointWithoutDoneRangesStaysVersion1() throws {
    let text = String(decoding: CheckpointFile.encode([doneEntry(done: [])]), as: UTF8.self)
    #expect(text.hasPrefix("{\"version\":1,"))
    #expect(!text.contains("done"))
}

@Test(arguments: [
    ("[[20,30]]", nil),
    ("[]", nil),
    ("{}", "entries[0].done: not an array"),
    ("[[20]]", "entries[0].done[0]: not [start, end]"),
    ("[[20,30],[40,\"50\"]]", "entries[0].done[1]: not [start, end]"),
    ("[[30,20]]", "entries[0].done[0]: not [start, end]"),
    ("[[5,20]]", "entries[0].done[0]: not [start, end] with offset <= start"),
    ("[[20,30,40]]", "entries[0].done[0]"),
] as [(String, String?)])
func checkpointDoneRangesAreCheckedOnRead(json: String, error: String?) {
    let document = "{\"version\":2,\"entries\":[" + entryObject("offset", "10").dropLast() + ",\"done\":\(json)}]}"
    do {
        let entries = try CheckpointFile.decode(Array(document.utf8))
        #expect(error == nil, "decoded \(entries)")
    } catch let e as CheckpointFileError {
        #expect(error != nil && e.reason.contains(error!), "\(e.reason)")
    } catch {
        Issue.record("\(error)")
    }
}

@Test(arguments: [
    (10, [Range<Int64>](), 100, [Range<Int64>]()),
    (10, [20..<30, 40..<50], 100, [20..<30, 40..<50]),
    (10, [20..<30, 40..<50], 45, [20..<30]),
    (10, [20..<30], 30, [20..<30]),
] as [(Int64, [Range<Int64>], Int64, [Range<Int64>])])
func resumableDoneRangesFitTheFile(offset: Int64, done: [Range<Int64>], size: Int64, kept: [Range<Int64>]) {
    #expect(doneEntry(offset: offset, done: done).resumableDone(size: size) == kept)
}

@Suite(.serialized) struct DoneRangesTailerTests {
    /// Lines 0..<60 and 70..<80 acknowledged, then a stop: the restart reads 60..<70 and 80..<100
    /// only, a second restart with nothing acknowledged in between still skips 70..<80, and
    /// skipped lines are never charged to the budget.
    @Test func restartSkipsRangesDoneBeforeTheStop() throws {
        let h = Harness()
        let all = lines("d", 0..<100)
        h.write("d.log", joined(all))
        h.holdAcks = true
        try h.start(h.configuration(readChunk: 512))
        #expect(eventually { h.texts.count == 100 })
        let first = h.delivered
        h.releaseHeld { _, start, _ in
            let i = first.firstIndex { $0.start == start }!
            return i < 60 || (70..<80).contains(i)
        }
        #expect(eventually { h.tailer.checkpointEntries().first?.done == [first[70].start..<first[79].end] })
        h.stop()
        let saved = try CheckpointFile.read(stateDirectory: h.state)
        #expect(saved.first?.offset == first[59].end)
        #expect(saved.first?.done == [first[70].start..<first[79].end])

        // Nothing acknowledged this time: the done range must survive another stop.
        for round in 0..<2 {
            h.clearDelivered()
            h.holdAcks = round == 0
            try h.start(h.configuration(readChunk: 512))
            #expect(eventually { h.texts.count == 30 }, "round \(round)")
            if round == 1 { #expect(h.settled(["d.log"])) }
            h.stop()
            expectExactly(h, Array(all[60..<70] + all[80...]))
        }
        // Held, never acknowledged: the first run's 30 lines and round 0's same 30. Skipped lines
        // were never charged.
        let unacknowledged = Array(all[60..<70] + all[80...]).reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(h.budget.inUse == 2 * unacknowledged)
        #expect(try CheckpointFile.read(stateDirectory: h.state).first?.done == [])
    }
}
