import Foundation
import Pipeline
import Posix
import Runtime
import Tail
import Testing

/// Every line exactly once: nothing lost, nothing invented, nothing duplicated.
func expectExactly(_ h: Harness, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    let got = h.texts
    #expect(got.count == expected.count, "delivered \(got.count), expected \(expected.count)", sourceLocation: sourceLocation)
    let missing = Set(expected).subtracting(got).sorted().prefix(5)
    let extra = Set(got).subtracting(expected).sorted().prefix(5)
    #expect(missing.isEmpty && extra.isEmpty, "missing \(Array(missing)), extra \(Array(extra))", sourceLocation: sourceLocation)
    var counts: [String: Int] = [:]
    for t in got { counts[t, default: 0] += 1 }
    let dup = counts.filter { $0.value > 1 }.keys.sorted().prefix(3)
    #expect(dup.isEmpty, "duplicated: \(Array(dup))", sourceLocation: sourceLocation)
}

@Suite(.serialized) struct TailerTests {
    @Test(arguments: [false, true])
    func appendAndPartialLineCompletedLater(disableInotify: Bool) throws {
        let h = Harness(tag: "partial\(disableInotify)")
        h.write("a.log", "first\nsec")
        try h.start(h.configuration(disableInotify: disableInotify))
        #expect(eventually { h.texts == ["first"] })
        h.append("a.log", "ond\r\nthird\n")
        #expect(eventually { h.texts.count == 3 })
        #expect(h.texts == ["first", "second", "third"])
        let d = h.delivered
        #expect(d.map(\.start) == [0, 6, 14] && d.map(\.end) == [6, 14, 20])
        // The checkpoint reaches the end once everything is acknowledged.
        #expect(eventually { h.tailer.checkpointEntries().first?.offset == 20 })
        h.stop()
        let saved = try CheckpointFile.read(stateDirectory: h.state)
        #expect(saved.count == 1 && saved[0].offset == 20 && saved[0].path == h.path("a.log"))
    }

    @Test func newFilePickedUpAndExcluded() throws {
        let h = Harness()
        try h.start(h.configuration(exclude: ["skip-*.log", h.logs + "/old/*"]))
        h.write("b.log", joined(lines("b", 0..<3)))
        h.write("skip-me.log", "nope\n")
        #expect(eventually { h.texts.count == 3 })
        h.write("c.log", joined(lines("c", 0..<2)))
        #expect(eventually { h.texts.count == 5 })
        h.stop()
        expectExactly(h, lines("b", 0..<3) + lines("c", 0..<2))
    }

    @Test func renameRotationLosesNothing() throws {
        let h = Harness()
        try h.start(h.configuration(paths: [h.logs + "/app.log"]))
        var expected: [String] = []
        for round in 0..<3 {
            // The application opens app.log and writes…
            h.write("app.log", "")
            let app = FileHandle(forWritingAtPath: h.path("app.log"))!
            let batch = lines("r\(round)", 0..<500)
            expected += batch
            app.write(Data(joined(Array(batch[..<250])).utf8))
            let seen = expected.count - 250
            #expect(eventually { h.texts.count >= seen })
            // …logrotate renames it (out of the glob); the application still writes a little to
            // the old file before it reopens the path.
            try FileManager.default.moveItem(atPath: h.path("app.log"), toPath: h.path("app.log.\(round + 1)"))
            app.write(Data(joined(Array(batch[250...])).utf8))
            try app.close()
        }
        h.write("app.log", joined(lines("new", 0..<10)))
        expected += lines("new", 0..<10)
        #expect(eventually { h.texts.count >= expected.count })
        // Rotated files are let go after they were read to their end.
        #expect(eventually { h.tailer.sourceCount == 1 })
        h.stop()
        expectExactly(h, expected)
        // The current file, and the three rotated ones at their ends under the name they were
        // read at (kept, so that a symlink to one of them is not read again; see SameFileTests).
        let entries = try CheckpointFile.read(stateDirectory: h.state)
        #expect(entries.map(\.path) == Array(repeating: h.path("app.log"), count: 4))
        #expect(Set(entries.map(\.identity)).count == 4)
    }

    /// logrotate without copytruncate and a glob that matches the rotated names too: the file
    /// keeps its source while it moves from name to name.
    @Test func renameInsideTheGlobsKeepsTheSource() throws {
        let h = Harness()
        try h.start(h.configuration(paths: [h.logs + "/app.log*"]))
        h.write("app.log", joined(lines("a", 0..<10)))
        #expect(eventually { h.texts.count == 10 })
        try FileManager.default.moveItem(atPath: h.path("app.log"), toPath: h.path("app.log.1"))
        h.append("app.log.1", joined(lines("a", 10..<15)))
        h.write("app.log", joined(lines("b", 0..<3)))
        #expect(eventually { h.texts.count == 18 })
        #expect(eventually { h.tailer.sourceInfo(h.delivered[0].source)?.path == h.path("app.log.1") })
        #expect(h.settled(["app.log.1", "app.log"]))
        h.stop()
        expectExactly(h, lines("a", 0..<15) + lines("b", 0..<3))
        #expect(Set(h.delivered.filter { $0.text.hasPrefix("a ") }.map(\.source)).count == 1)
        #expect(try CheckpointFile.read(stateDirectory: h.state).count == 2)
    }

    /// An application writing without pause while logrotate renames its file five times (and the
    /// application reopens the path a moment later): every line arrives exactly once.
    @Test func renameRotationUnderContinuousWrites() throws {
        let h = Harness()
        try h.start(h.configuration(paths: [h.logs + "/app.log"]))
        let all = lines("c", 0..<12_000)
        let writer = Foundation.Thread {
            h.write("app.log", "")
            var out = FileHandle(forWritingAtPath: h.path("app.log"))!
            var segmentStart = 0
            var i = 0
            while i < all.count {
                out.write(Data((all[i] + "\n").utf8))
                i += 1
                if i % 2000 == 0 && i < all.count {
                    // Rotation happens after the tailer has seen the file (seconds apart in life).
                    let first = all[segmentStart]
                    _ = eventually { h.texts.contains(first) }
                    try? FileManager.default.moveItem(atPath: h.path("app.log"), toPath: h.path("app.log.\(i / 2000)"))
                    // The application writes 20 more lines to the old file before it reopens.
                    for _ in 0..<20 where i < all.count {
                        out.write(Data((all[i] + "\n").utf8))
                        i += 1
                    }
                    try? out.close()
                    h.write("app.log", "")
                    out = FileHandle(forWritingAtPath: h.path("app.log"))!
                    segmentStart = i
                }
            }
            try? out.close()
        }
        writer.start()
        #expect(eventually(30) { h.texts.count >= all.count })
        #expect(eventually { h.tailer.sourceCount == 1 })
        h.stop()
        expectExactly(h, all)
    }

    /// After handing on what there was, and before waiting for more, the reader sends a
    /// `caughtUp` marker (the batcher lets an open batch leave on it); never one with nothing
    /// new before it.
    @Test func theReaderSaysWhenItHasCaughtUp() throws {
        let h = Harness()
        h.write("a.log", joined(lines("a", 0..<100)))
        try h.start(h.configuration())
        #expect(eventually { h.caughtUpAt.last == 100 })
        h.append("a.log", joined(lines("b", 0..<50)))
        #expect(eventually { h.caughtUpAt.last == 150 })
        h.stop()
        let marks = h.caughtUpAt
        #expect(marks == marks.sorted() && Set(marks).count == marks.count, "\(marks)")
        #expect(h.texts.count == 150)
    }

    @Test func copytruncateStartsAgain() throws {
        let h = Harness()
        try h.start(h.configuration())
        h.write("c.log", joined(lines("before", 0..<100)))
        #expect(eventually { h.texts.count == 100 })
        // copytruncate: copy elsewhere (not matched), truncate in place, application continues.
        try FileManager.default.copyItem(atPath: h.path("c.log"), toPath: h.path("c.log.1"))
        let fh = FileHandle(forWritingAtPath: h.path("c.log"))!
        fh.truncateFile(atOffset: 0)
        try fh.close()
        h.append("c.log", joined(lines("after", 0..<20)))
        #expect(eventually { h.texts.count >= 120 })
        #expect(h.settled(["c.log"]))
        h.stop()
        expectExactly(h, lines("before", 0..<100) + lines("after", 0..<20))
        // The restarted file's lines start at offset 0 again, under a new source id.
        let after = h.delivered.filter { $0.text.hasPrefix("after") }
        #expect(after.first?.start == 0)
        #expect(Set(after.map(\.source)).isDisjoint(with: Set(h.delivered.filter { $0.text.hasPrefix("before") }.map(\.source))))
    }

    /// Truncated in place and rewritten past our offset before we looked, with the same first
    /// 256 bytes (lines that start alike): the bytes before our offset changed, so it is noticed.
    @Test func copytruncateRewrittenPastOffsetIsNoticed() throws {
        let h = Harness()
        let prefix = String(repeating: "p", count: 300)
        let old = (0..<5).map { "\(prefix) old \($0)" }
        h.write("c.log", joined(old))
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 5 })
        let fresh = (0..<8).map { "\(prefix) fresh and longer \($0)" }
        let fh = FileHandle(forWritingAtPath: h.path("c.log"))!
        fh.truncateFile(atOffset: 0)
        fh.write(Data(joined(fresh).utf8))
        try fh.close()
        #expect(eventually { h.texts.count >= 13 })
        #expect(h.settled(["c.log"]))
        h.stop()
        expectExactly(h, old + fresh)
    }

    @Test func deleteWhileReading() throws {
        let h = Harness(budgetBytes: 8 * 1024)
        let all = lines("d", 0..<2000)
        h.write("d.log", joined(all))
        h.holdAcks = true
        try h.start(h.configuration(batchBytes: 2048, readChunk: 4096))
        #expect(eventually { !h.texts.isEmpty })
        try FileManager.default.removeItem(atPath: h.path("d.log"))
        h.holdAcks = false
        h.releaseHeld()
        #expect(eventually { h.texts.count == all.count })
        // Read to its end, then closed.
        #expect(eventually { h.tailer.sourceCount == 0 })
        h.stop()
        expectExactly(h, all)
        #expect(try CheckpointFile.read(stateDirectory: h.state).isEmpty)
    }

    /// A deleted file is never held open forever, not even while the budget is spent (an
    /// outage): after the grace time it is closed, its unread rest given up (and logged).
    @Test func deletedFileLetGoDuringBackpressure() throws {
        let h = Harness(budgetBytes: 2048)
        h.write("gone.log", joined(lines("g", 0..<2000)))
        h.holdAcks = true
        var config = h.configuration(batchBytes: 512, readChunk: 512)
        config.deletedGrace = 500_000_000
        try h.start(config)
        #expect(eventually { !h.texts.isEmpty })
        try FileManager.default.removeItem(atPath: h.path("gone.log"))
        func holdsDeleted() -> Bool {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0))?.contains("gone.log") == true }
        }
        #expect(eventually { !holdsDeleted() })
        #expect(h.texts.count < 2000)
        h.holdAcks = false
        h.releaseHeld()
        #expect(eventually { h.tailer.sourceCount == 0 })
        h.stop()
        #expect(h.budget.inUse == 0)
        #expect(try CheckpointFile.read(stateDirectory: h.state).isEmpty)
    }

    @Test func inodeReuseAndReplacement() throws {
        let h = Harness()
        try h.start(h.configuration())
        h.write("x.log", joined(lines("first", 0..<10)))
        #expect(eventually { h.texts.count == 10 })
        // Delete and create again (the file system may well hand out the same inode).
        try FileManager.default.removeItem(atPath: h.path("x.log"))
        h.write("x.log", joined(lines("second", 0..<7)))
        #expect(eventually { h.texts.count == 17 })
        #expect(h.settled(["x.log"]))
        h.stop()
        expectExactly(h, lines("first", 0..<10) + lines("second", 0..<7))
    }

    /// A copy with the same first bytes under the old name is a new file (new inode): read from 0.
    /// Duplicates are the documented price (see `FileDecisions`); nothing is lost.
    @Test func fileReplacedByCopyIsReadAgain() throws {
        let h = Harness()
        try h.start(h.configuration())
        h.write("y.log", joined(lines("y", 0..<5)))
        #expect(eventually { h.texts.count == 5 })
        try FileManager.default.copyItem(atPath: h.path("y.log"), toPath: h.root + "/copy")
        let fh = FileHandle(forWritingAtPath: h.root + "/copy")!
        fh.seekToEndOfFile()
        fh.write(Data(joined(lines("y", 5..<6)).utf8))
        try fh.close()
        _ = rename(h.root + "/copy", h.path("y.log"))
        #expect(eventually { h.texts.count == 11 })
        #expect(h.settled(["y.log"]))
        h.stop()
        #expect(h.texts.count == 11)
        #expect(Set(h.texts) == Set(lines("y", 0..<6)))
    }

    @Test func crlfAndBOM() throws {
        let h = Harness()
        h.write("w.log", [0xEF, 0xBB, 0xBF] + Array("{\"a\":1}\r\n{\"b\":2}\r\nlast\n".utf8))
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 3 })
        h.stop()
        #expect(h.texts == ["{\"a\":1}", "{\"b\":2}", "last"])
        #expect(h.delivered.first?.start == 0 && h.delivered.first?.end == 12)
    }

    @Test func hugeLineIsCutToItsHead() throws {
        let h = Harness()
        var bytes = Array("small1\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: 20 << 20)
        bytes += Array("\nsmall2\n".utf8)
        h.write("big.log", bytes)
        try h.start(h.configuration())
        #expect(eventually(30) { h.texts.count == 3 })
        h.stop()
        let d = h.delivered
        #expect(d.map(\.truncated) == [false, true, false])
        #expect(d[1].textBytes == 1024)
        #expect(d[1].start == 7 && d[1].end == 7 + (20 << 20) + 1)
        #expect(d[2].text == "small2")
        // The whole line was acknowledged: the checkpoint is at the end, and the budget is free.
        #expect(try CheckpointFile.read(stateDirectory: h.state).first?.offset == Int64(bytes.count))
        #expect(h.budget.inUse == 0)
    }

    @Test func binaryGarbageComesOutAsLines() throws {
        let h = Harness()
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<50_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for i in bytes.indices where bytes[i] == 0x0D { bytes[i] = 0 }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes[0] = 0 }
        bytes.append(0x0A)
        h.write("bin.log", bytes)
        try h.start(h.configuration())
        let newlines = bytes.filter { $0 == 0x0A }.count
        #expect(eventually { h.delivered.count == newlines })
        h.stop()
        // Ranges tile the file exactly.
        let d = h.delivered.sorted { $0.start < $1.start }
        #expect(d.first?.start == 0 && d.last?.end == Int64(bytes.count))
        #expect(zip(d, d.dropFirst()).allSatisfy { $0.end == $1.start })
    }

    @Test func thousandFilesInOneDirectory() throws {
        let h = Harness()
        var expected: [String] = []
        for i in 0..<1000 {
            let ls = lines("f\(i)", 0..<3)
            expected += ls
            h.write("f\(i).log", joined(ls))
        }
        try h.start(h.configuration(maxOpenFiles: 64))
        #expect(eventually(60) { h.texts.count >= expected.count })
        h.stop()
        expectExactly(h, expected)
        #expect(try CheckpointFile.read(stateDirectory: h.state).count == 1000)
    }

    @Test func startAtEnd() throws {
        let h = Harness()
        // The last line is being written as we start: it is delivered whole once finished.
        h.write("e.log", joined(lines("old", 0..<5)) + "half of a ")
        try h.start(h.configuration(startAt: .end))
        #expect(eventually { h.tailer.checkpointEntries().count == 1 })
        h.append("e.log", "line\n" + joined(lines("new", 0..<2)))
        // A file created after the start is read from its beginning.
        h.write("later.log", joined(lines("later", 0..<2)))
        #expect(eventually { h.texts.count == 5 })
        #expect(h.settled(["e.log", "later.log"]))
        h.stop()
        expectExactly(h, ["half of a line"] + lines("new", 0..<2) + lines("later", 0..<2))
    }

    @Test func resumeAfterRestartRereadsOnlyUnacknowledged() throws {
        let h = Harness()
        let all = lines("r", 0..<100)
        h.write("r.log", joined(all))
        h.holdAcks = true
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 100 })
        // Acknowledge 0..<60 plus a few beyond a gap (70..<80): the checkpoint stops at 60.
        let ends = h.delivered
        h.releaseHeld { _, start, _ in
            let i = ends.firstIndex { $0.start == start }!
            return i < 60 || (70..<80).contains(i)
        }
        let end59 = ends[59].end
        #expect(eventually { h.tailer.checkpointEntries().first?.offset == end59 })
        h.stop()
        #expect(try CheckpointFile.read(stateDirectory: h.state).first?.offset == end59)

        h.clearDelivered()
        h.holdAcks = false
        try h.start(h.configuration())
        // 70..<80 was acknowledged past the gap: saved as a done range, not read again.
        #expect(eventually { h.texts.count == 30 })
        #expect(h.settled(["r.log"]))
        h.stop()
        expectExactly(h, Array(all[60..<70] + all[80...]))
    }

    /// Rotated while we were stopped, out of the globs: the rest of the old file is still read.
    @Test func rotatedWhileStoppedIsFinished() throws {
        let h = Harness()
        let old = lines("old", 0..<40)
        h.write("app.log", joined(old))
        h.holdAcks = true
        try h.start(h.configuration(paths: [h.logs + "/app.log"]))
        #expect(eventually { h.texts.count == 40 })
        let d = h.delivered
        h.releaseHeld { _, start, _ in d.firstIndex { $0.start == start }! < 25 }
        h.stop()
        try FileManager.default.moveItem(atPath: h.path("app.log"), toPath: h.path("app.log.1"))
        h.write("app.log", joined(lines("new", 0..<5)))

        h.clearDelivered()
        h.holdAcks = false
        try h.start(h.configuration(paths: [h.logs + "/app.log"]))
        #expect(eventually { h.texts.count == 20 })
        #expect(eventually { h.tailer.sourceCount == 1 })
        h.stop()
        expectExactly(h, Array(old[25...]) + lines("new", 0..<5))
    }

    /// Truncated and rewritten while we were stopped (same inode): the checkpoint no longer
    /// matches, so the file is read from its start, not from a wrong offset.
    @Test func rewrittenWhileStoppedStartsOver() throws {
        let h = Harness()
        h.write("w.log", joined(lines("first", 0..<10)))
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 10 })
        #expect(eventually { h.tailer.checkpointEntries().first?.offset == h.size("w.log") })
        h.stop()
        let fh = FileHandle(forWritingAtPath: h.path("w.log"))!
        fh.truncateFile(atOffset: 0)
        fh.write(Data(joined(lines("second-longer-content", 0..<10)).utf8))
        try fh.close()
        h.clearDelivered()
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 10 })
        #expect(h.settled(["w.log"]))
        h.stop()
        expectExactly(h, lines("second-longer-content", 0..<10))
    }

    @Test func corruptCheckpointFallsBackToPrevious() throws {
        let h = Harness()
        let all = lines("k", 0..<50)
        h.write("k.log", joined(all))
        h.holdAcks = true
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 50 })
        let d = h.delivered
        h.releaseHeld { _, start, _ in d.firstIndex { $0.start == start }! < 20 }
        h.stop()
        // The good copy becomes `.prev`; the current file is garbage.
        let main = CheckpointFile.path(stateDirectory: h.state)
        // An earlier write (after the first acknowledgements) may have left a `.prev` already.
        try? FileManager.default.removeItem(atPath: CheckpointFile.previousPath(stateDirectory: h.state))
        try FileManager.default.moveItem(atPath: main, toPath: CheckpointFile.previousPath(stateDirectory: h.state))
        try Data("{\"version\":1,\"entries\":[{\"inp".utf8).write(to: URL(fileURLWithPath: main))

        h.clearDelivered()
        h.holdAcks = false
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 30 })
        #expect(h.settled(["k.log"]))
        h.stop()
        expectExactly(h, Array(all[20...]))
        #expect(FileManager.default.fileExists(atPath: main + ".corrupt"))
    }

    @Test func unreadableCheckpointRefusesToStart() throws {
        let h = Harness()
        try FileManager.default.createDirectory(atPath: h.state, withIntermediateDirectories: true)
        try Data("nonsense".utf8).write(to: URL(fileURLWithPath: CheckpointFile.path(stateDirectory: h.state)))
        #expect(throws: CheckpointFileError.self) { try h.start(h.configuration()) }
    }

    @Test func budgetBackpressure() throws {
        let limit = 4096
        let h = Harness(budgetBytes: limit)
        let all = lines("p", 0..<1000)
        h.write("p.log", joined(all))
        h.holdAcks = true
        try h.start(h.configuration(batchBytes: 1024, readChunk: 1024))
        #expect(eventually { !h.texts.isEmpty })
        // The reader is blocked on the budget once it cannot take another batch.
        #expect(eventually { h.budget.inUse > limit - 1024 - 64 })
        // The reader waits: what was delivered and not acknowledged stays within the budget
        // plus one batch.
        let held = h.delivered.reduce(0) { $0 + Int($1.end - $1.start) }
        #expect(held <= limit + 1024 + 64)
        #expect(h.texts.count < all.count)
        // Acknowledging lets it continue, to the end.
        h.holdAcks = false
        h.releaseHeld()
        #expect(eventually { h.texts.count == all.count })
        h.stop()
        expectExactly(h, all)
        #expect(h.budget.inUse == 0)
    }

    /// Shutdown while the reader waits for the budget: `stop()` returns, nothing is checkpointed
    /// beyond what was acknowledged.
    @Test func stopWhileWaitingForBudget() throws {
        let h = Harness(budgetBytes: 2048)
        h.write("s.log", joined(lines("s", 0..<500)))
        h.holdAcks = true
        try h.start(h.configuration(batchBytes: 512, readChunk: 512))
        #expect(eventually { !h.texts.isEmpty })
        #expect(eventually { h.budget.inUse > 2048 - 512 - 64 })
        h.stop()
        #expect(h.texts.count < 500)
        #expect(try CheckpointFile.read(stateDirectory: h.state).first?.offset == 0)
    }

    /// Shutdown while nobody pops the output queue (a wedged downstream): `stop()` closes the
    /// queue, which frees the reader.
    @Test func stopWithWedgedDownstream() throws {
        let h = Harness()
        h.write("w.log", joined(lines("w", 0..<5000)))
        let queue = BlockingQueue<LineBatch>(capacity: 1)
        let config = h.configuration(batchBytes: 256, readChunk: 256)
        let tailer = try Tailer(configuration: config, budget: h.budget, output: queue, logger: Logger(label: "wedged"))
        tailer.start()
        #expect(eventually { !queue.isEmpty })
        tailer.stop()
        tailer.close()
        #expect(queue.isClosed)
    }

    @Test func secondInstanceIsRefused() throws {
        let h = Harness()
        try h.start(h.configuration())
        do {
            _ = try Tailer(configuration: h.configuration(), budget: ByteBudget(limit: 1000), output: BlockingQueue(capacity: 1),
                           logger: Logger(label: "second"))
            Issue.record("second tailer started on the same state directory")
        } catch let e as StateDirectoryLock.Busy {
            #expect(e.description.contains(h.state))
        }
        h.stop()
    }

    @Test func onceModeReadsToEndAndFinishes() throws {
        let h = Harness()
        h.write("o1.log", joined(lines("o1", 0..<10)))
        h.write("o2.log", joined(lines("o2", 0..<5)) + "no newline at the end")
        try h.start(h.configuration(once: true))
        #expect(h.tailer.waitUntilAllAcknowledged(deadline: SystemClock.monotonicNanoseconds() + 15_000_000_000))
        h.stop()
        expectExactly(h, lines("o1", 0..<10) + lines("o2", 0..<5) + ["no newline at the end"])
        let saved = try CheckpointFile.read(stateDirectory: h.state)
        #expect(Set(saved.map(\.offset)) == Set([h.size("o1.log"), h.size("o2.log")]))
    }

    @Test func onceModeWithFewerDescriptorsThanFiles() throws {
        let h = Harness()
        var expected: [String] = []
        for i in 0..<100 {
            expected += lines("m\(i)", 0..<4)
            h.write("m\(i).log", joined(lines("m\(i)", 0..<4)))
        }
        try h.start(h.configuration(once: true, maxOpenFiles: 8))
        #expect(h.tailer.waitUntilAllAcknowledged(deadline: SystemClock.monotonicNanoseconds() + 30_000_000_000))
        h.stop()
        expectExactly(h, expected)
    }

    @Test func pipeInput() throws {
        let h = Harness()
        let fifo = h.path("in.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        try h.start(h.configuration(paths: [fifo], kind: .pipe))
        for round in 0..<3 {
            let w = FileHandle(forWritingAtPath: fifo)!
            w.write(Data(joined(lines("pipe\(round)", 0..<100)).utf8))
            try w.close()
        }
        #expect(eventually { h.texts.count == 300 })
        #expect(h.tailer.sourceInfo(h.delivered[0].source)?.isPipe == true)
        h.stop()
        expectExactly(h, (0..<3).flatMap { lines("pipe\($0)", 0..<100) })
        #expect(h.delivered.last?.end == Int64(h.delivered.reduce(0) { $0 + Int($1.end - $1.start) }))
        // Spooled: the segment is checkpointed at the end of what was read.
        let saved = try CheckpointFile.read(stateDirectory: h.state)
        #expect(saved.contains { $0.path.hasPrefix(h.state + "/spool/app/") && $0.offset == h.delivered.last?.end })
    }

    @Test func onceModePipeEndsWhenWritersClose() throws {
        let h = Harness()
        let fifo = h.path("once.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        try h.start(h.configuration(paths: [fifo], kind: .pipe, once: true))
        let w = FileHandle(forWritingAtPath: fifo)!
        w.write(Data((joined(lines("q", 0..<50)) + "tail without newline").utf8))
        try w.close()
        #expect(h.tailer.waitUntilAllAcknowledged(deadline: SystemClock.monotonicNanoseconds() + 15_000_000_000))
        h.stop()
        expectExactly(h, lines("q", 0..<50) + ["tail without newline"])
    }

    /// Without inotify, the periodic rescan finds new files and a one-second check reads growth.
    @Test func rescanFallbackWithoutInotify() throws {
        let h = Harness()
        var config = h.configuration(disableInotify: true)
        config.rescanInterval = 300_000_000
        try h.start(config)
        h.write("n.log", joined(lines("n", 0..<3)))
        #expect(eventually { h.texts.count == 3 })
        h.append("n.log", joined(lines("n", 3..<5)))
        #expect(eventually { h.texts.count == 5 })
        h.stop()
        expectExactly(h, lines("n", 0..<5))
    }

    @Test func sourceInfoAndKeyStableAcrossRestart() throws {
        let h = Harness()
        h.write("s.log", "one\n")
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 1 })
        let info = h.tailer.sourceInfo(h.delivered[0].source)
        #expect(info?.path == h.path("s.log"))
        #expect(info?.fingerprint?.length == 4)
        h.stop()
        h.clearDelivered()
        try h.start(h.configuration())
        h.append("s.log", "two\n")
        #expect(eventually { h.texts.count == 1 })
        #expect(h.texts == ["two"])
        let again = h.tailer.sourceInfo(h.delivered[0].source)
        #expect(again?.key == info?.key)
        // The short fingerprint grew with the file.
        #expect(again?.fingerprint?.length == 8)
        h.stop()
    }

    /// Deterministic event ids survive a lost state directory: the key depends on the file only.
    /// A truncated file starting with the same first line gets another key.
    @Test func keyIsDeterministicAndChangesOnTruncation() throws {
        let h = Harness()
        h.write("k.log", "header line\nfirst\n")
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 2 })
        let key = h.tailer.sourceInfo(h.delivered[0].source)?.key
        #expect(key != nil && key != 0)
        h.stop()
        try FileManager.default.removeItem(atPath: h.state)
        h.clearDelivered()
        try h.start(h.configuration())
        #expect(eventually { h.texts.count == 2 })
        #expect(h.tailer.sourceInfo(h.delivered[0].source)?.key == key)
        // copytruncate, then the same header line again.
        let fh = FileHandle(forWritingAtPath: h.path("k.log"))!
        fh.truncateFile(atOffset: 0)
        try fh.close()
        h.append("k.log", "header line\n")
        #expect(eventually { h.texts.count == 3 })
        let newKey = h.tailer.sourceInfo(h.delivered[2].source)?.key
        #expect(newKey != nil && newKey != key)
        h.stop()
    }

    /// Idle CPU with 100 watched files (a measurement, printed; opt in with TAIL_IDLE_CPU=seconds).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TAIL_IDLE_CPU"] != nil))
    func idleCPU() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["TAIL_IDLE_CPU"] ?? "20") ?? 20
        let h = Harness()
        for i in 0..<100 { h.write("i\(i).log", "x\n") }
        var config = h.configuration()
        config.checkpointInterval = 1_000_000_000
        try h.start(config)
        #expect(eventually { h.texts.count == 100 })
        usleep(1_500_000)
        let cpu0 = SystemClock.processCPUNanoseconds()
        let wall0 = SystemClock.monotonicNanoseconds()
        usleep(UInt32(seconds * 1_000_000))
        let cpu = SystemClock.processCPUNanoseconds() - cpu0
        let wall = SystemClock.monotonicNanoseconds() - wall0
        print("idle CPU with 100 watched files: \(cpu / 1000) µs over \(wall / 1_000_000) ms = \(Double(cpu) / Double(wall) * 100)% of a core")
        h.stop()
    }
}
