import Foundation
import Pipeline
import Posix
import Runtime
@testable import Tail
import Testing

/// Where a chunk is cut when appended to a segment (limit 10, hard limit 20).
struct CutCase: CustomStringConvertible, Sendable {
    var size: Int64
    var chunk: String
    var expected: Int?
    var description: String { "\(size)+\(chunk.debugDescription)" }
}

@Suite struct PipeSpoolDecisionTests {
    @Test(arguments: [
        CutCase(size: 0, chunk: "abc\n", expected: nil),            // under the limit: keep
        CutCase(size: 5, chunk: "abcd", expected: nil),             // reaches 9: keep
        CutCase(size: 6, chunk: "a\nb\ncd", expected: 4),           // the newline that is the 10th byte
        CutCase(size: 6, chunk: "ab\ncdef\ng", expected: 8),        // the first newline past the 10th byte
        CutCase(size: 6, chunk: "ab\ncd", expected: nil),           // reaches 11 without a newline after: wait for one
        CutCase(size: 0, chunk: "aaaaaaaaa\nbbbbbbbbb\n", expected: 10), // one chunk, several segments (the rest is cut again)
        CutCase(size: 8, chunk: "ab\n", expected: 3),               // ends at a newline: whole chunk, then seal
        CutCase(size: 8, chunk: "abc", expected: nil),              // no newline, under the hard limit: keep
        CutCase(size: 18, chunk: "abc", expected: 2),               // no newline: cut at the hard limit anyway
        CutCase(size: 25, chunk: "abc", expected: 1),               // already past it (after a restart): at once
        CutCase(size: 12, chunk: "\nabc", expected: 1),             // over the limit already: first chance
        CutCase(size: 12, chunk: "", expected: nil),
    ])
    func cut(_ c: CutCase) {
        let got = Array(c.chunk.utf8).withUnsafeBytes { PipeSpool.cut(size: c.size, chunk: $0, limit: 10, hardLimit: 20) }
        #expect(got == c.expected)
    }

    @Test func segmentNamesSortInWriteOrder() {
        #expect(PipeSpool.name(7) == "00000000000000000007.ndjson")
        #expect(PipeSpool.sequence(of: PipeSpool.name(123_456)) == 123_456)
        #expect(PipeSpool.sequence(of: "7.ndjson") == nil)
        #expect(PipeSpool.sequence(of: "0000000000000000000x.ndjson") == nil)
        #expect(PipeSpool.sequence(of: "00000000000000000007.ndjson.tmp") == nil)
        #expect(PipeSpool.name(9) < PipeSpool.name(10))
    }

    @Test func spoolDirectoryNames() {
        let c = TailConfiguration(inputs: [], stateDirectory: "/s", spoolSegmentBytes: 100, spoolMaxBytes: 50)
        #expect(c.spoolDirectory(input: "app", index: 0) == "/s/spool/app")
        #expect(c.spoolDirectory(input: "a/b", index: 1) == "/s/spool/a_b.1")
        #expect(c.spoolDirectory(input: "..", index: 0) == "/s/spool/_..")
        #expect(c.effectiveSpoolSegmentBytes == 25)
    }

    /// The spool rotates at newlines, keeps going after a restart in its last segment, and
    /// deletes only sealed segments.
    @Test func spoolFilesRotateAndResume() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try PipeSpool(directory: dir + "/sp", segmentBytes: 10, hardExtraBytes: 100)
        func append(_ s: String) throws { try Array(s.utf8).withUnsafeBytes { try spool.append($0) } }
        try append("aaaa\nbbbb\ncc")
        #expect(spool.segments.map(\.size) == [10, 2])
        try append("cc\ndddddd\nee")
        #expect(spool.segments.map(\.size) == [10, 12, 2])
        #expect(spool.total == 24)
        spool.close()
        let again = try PipeSpool(directory: dir + "/sp", segmentBytes: 10, hardExtraBytes: 100)
        #expect(again.segments.map(\.sequence) == [1, 2, 3])
        try Array("e\n".utf8).withUnsafeBytes { try again.append($0) }
        #expect(String(decoding: FileManager.default.contents(atPath: again.current.path)!, as: UTF8.self) == "eee\n")
        try again.remove(again.segments[0].path)
        try again.remove(again.current.path) // the current segment is never deleted
        #expect(again.segments.map(\.sequence) == [2, 3])
        #expect(again.total == 16)
        again.close()
    }
}

/// Pipes through the spool with a real `Tailer` and real FIFOs.
@Suite(.serialized) struct PipeSpoolTailerTests {
    func pipeConfig(_ h: Harness, _ fifo: String, segment: Int64 = 16 << 20, max: Int64 = 256 << 20, readChunk: Int = 64 * 1024) -> TailConfiguration {
        var c = h.configuration(paths: [fifo], kind: .pipe, readChunk: readChunk)
        c.spoolSegmentBytes = segment
        c.spoolMaxBytes = max
        return c
    }

    func spoolDirectory(_ h: Harness) -> String { h.state + "/spool/app" }

    func segments(_ h: Harness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spoolDirectory(h))) ?? []).filter { $0.hasSuffix(".ndjson") }.sorted()
    }

    func spoolSize(_ h: Harness) -> Int64 {
        segments(h).reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: spoolDirectory(h) + "/" + name)[.size] as? NSNumber)??.int64Value ?? 0)
        }
    }

    func writeToFIFO(_ fifo: String, _ text: String) throws {
        let w = FileHandle(forWritingAtPath: fifo)!
        w.write(Data(text.utf8))
        try w.close()
    }

    @Test func linesArriveOnceAndSegmentIsCheckpointed() throws {
        let h = Harness()
        let fifo = h.path("in.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        try h.start(pipeConfig(h, fifo))
        for round in 0..<3 { try writeToFIFO(fifo, joined(lines("w\(round)", 0..<100))) }
        #expect(eventually { h.texts.count == 300 })
        let info = h.tailer.sourceInfo(h.delivered[0].source)
        #expect(info?.isPipe == true)
        #expect(info?.path.hasPrefix(spoolDirectory(h) + "/") == true)
        h.stop()
        expectExactly(h, (0..<3).flatMap { lines("w\($0)", 0..<100) })
        let saved = try CheckpointFile.read(stateDirectory: h.state)
        let segment = try #require(saved.first { $0.path.hasPrefix(spoolDirectory(h)) })
        #expect(segment.offset == spoolSize(h))
        #expect(segment.input == "app")
    }

    /// Lines read from the pipe but never acknowledged come again after a restart, from the
    /// spool; acknowledged ones do not.
    @Test func unacknowledgedLinesSurviveRestart() throws {
        let h = Harness()
        let fifo = h.path("crash.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let config = pipeConfig(h, fifo)
        try h.start(config)
        h.holdAcks = true
        try writeToFIFO(fifo, joined(lines("c", 0..<100)))
        #expect(eventually { h.texts.count == 100 })
        // Acknowledge the first half only; the rest is "in flight" when we go down.
        let half = h.delivered[49].end
        h.releaseHeld { _, _, end in end <= half }
        #expect(eventually { h.tailer.checkpointEntries().contains { $0.offset == half } })
        h.stop()
        h.holdAcks = false
        h.clearDelivered()
        try h.start(config)
        #expect(eventually { h.texts.count == 50 })
        try writeToFIFO(fifo, joined(lines("d", 0..<10)))
        #expect(eventually { h.texts.count == 60 })
        h.stop()
        expectExactly(h, lines("c", 50..<100) + lines("d", 0..<10))
    }

    /// A line cut by a restart (half of it spooled) is completed by the next run.
    @Test func partialLineCompletedAfterRestart() throws {
        let h = Harness()
        let fifo = h.path("partial.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let config = pipeConfig(h, fifo)
        try h.start(config)
        try writeToFIFO(fifo, "first\n{\"half\":")
        #expect(eventually { h.texts.count == 1 && spoolSize(h) == 14 })
        h.stop()
        try h.start(config)
        try writeToFIFO(fifo, "1}\nlast\n")
        #expect(eventually { h.texts.count == 3 })
        h.stop()
        expectExactly(h, ["first", "{\"half\":1}", "last"])
    }

    @Test func segmentsRotateAndAcknowledgedOnesAreDeleted() throws {
        let h = Harness()
        let fifo = h.path("rot.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        try h.start(pipeConfig(h, fifo, segment: 1024, max: 1 << 20))
        for round in 0..<4 { try writeToFIFO(fifo, joined(lines("r\(round)", 0..<100))) }
        #expect(eventually { h.texts.count == 400 })
        // ~12 KiB went through 1 KiB segments: all but the current one are deleted.
        #expect(eventually { segments(h).count == 1 })
        #expect(PipeSpool.sequence(of: segments(h)[0])! > 5)
        #expect(eventually { h.tailer.checkpointEntries().filter { $0.path.hasPrefix(spoolDirectory(h)) }.count == 1 })
        h.stop()
        expectExactly(h, (0..<4).flatMap { lines("r\($0)", 0..<100) })
        // Every line came whole out of one segment (a segment is cut after a newline).
        #expect(Set(h.delivered.map(\.path)).count > 5)
    }

    /// At the cap the pipe is not read: the writer blocks, nothing is dropped, and reading goes
    /// on once acknowledgements free sealed segments.
    @Test func capStopsReadingUntilAcknowledged() throws {
        signal(SIGPIPE, SIG_IGN)
        let h = Harness()
        let fifo = h.path("cap.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let cap: Int64 = 4096
        try h.start(pipeConfig(h, fifo, segment: 1024, max: cap, readChunk: 512))
        h.holdAcks = true
        // Far more than the kernel's pipe buffer (64 KiB) plus the spool's cap.
        let expected = lines("cap", 0..<10_000)
        let done = DispatchSemaphore(value: 0)
        let writerFinished = NSLock()
        nonisolated(unsafe) var finished = false
        let text = joined(expected)
        let writer = Foundation.Thread {
            let w = FileHandle(forWritingAtPath: fifo)!
            w.write(Data(text.utf8))
            try? w.close()
            writerFinished.withLock { finished = true }
            done.signal()
        }
        writer.start()
        #expect(eventually { spoolSize(h) >= cap })
        // The spool stays at its cap (one read of overshoot at most) and the writer is blocked.
        #expect(spoolSize(h) <= cap + 512)
        #expect(writerFinished.withLock { !finished })
        #expect(h.texts.count < expected.count)
        #expect(eventually(60) {
            h.releaseHeld()
            return h.texts.count == expected.count
        })
        h.releaseHeld()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(eventually { segments(h).count == 1 })
        h.stop()
        expectExactly(h, expected)
    }
}

extension PipeSpoolTailerTests {
    /// `once` reads a pipe directly, and also what a daemon left in the spool.
    @Test func onceModeReadsLeftoverSpool() throws {
        let h = Harness()
        let fifo = h.path("left.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        try h.start(pipeConfig(h, fifo))
        h.holdAcks = true
        try writeToFIFO(fifo, joined(lines("left", 0..<20)))
        #expect(eventually { h.texts.count == 20 })
        h.stop()
        h.holdAcks = false
        h.clearDelivered()
        try h.start(h.configuration(paths: [fifo], kind: .pipe, once: true))
        try writeToFIFO(fifo, joined(lines("now", 0..<5)))
        #expect(h.tailer.waitUntilAllAcknowledged(deadline: SystemClock.monotonicNanoseconds() + 15_000_000_000))
        h.stop()
        expectExactly(h, lines("left", 0..<20) + lines("now", 0..<5))
    }
}

extension PipeSpoolDecisionTests {
    /// Through `splice` from a real pipe: segments are cut after a newline past the size, and
    /// the spool holds exactly what was written.
    @Test func splicedSegmentsEndAtNewlines() throws {
        let dir = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try PipeSpool(directory: dir + "/sp", segmentBytes: 64, hardExtraBytes: 1 << 20)
        let pipe = try FileDescriptor.makePipe()
        defer { pipe.read.close(); pipe.write.close() }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { scratch.deallocate() }
        let text = joined(lines("s", 0..<100))
        try pipe.write.writeAll(text)
        var moved = 0
        while true {
            let n = try spool.pump(from: pipe.read, count: 4096, scratch: scratch)
            if n == 0 { break }
            moved += n
        }
        #expect(spool.splicing)
        #expect(moved == text.utf8.count)
        #expect(try spool.pump(from: pipe.read, count: 4096, scratch: scratch) == 0)
        spool.close()
        var all = ""
        for (i, segment) in spool.segments.enumerated() {
            let content = String(decoding: FileManager.default.contents(atPath: segment.path)!, as: UTF8.self)
            #expect(Int64(content.utf8.count) == segment.size)
            if i < spool.segments.count - 1 {
                #expect(content.hasSuffix("\n"))
                #expect(segment.size >= 64)
            }
            all += content
        }
        #expect(all == text)
        #expect(spool.segments.count > 10)
    }
}

extension PipeSpoolTailerTests {
    /// A line without a newline cannot hold the spool (and so the pipe) for good: segments are
    /// cut at their hard limit and each sealed one hands on its piece as a truncated line.
    @Test func endlessLineIsCutAtTheHardLimit() throws {
        let h = Harness()
        let fifo = h.path("long.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        var config = pipeConfig(h, fifo, segment: 1024, max: 4096)
        config.inputs[0].maxLineBytes = 256
        try h.start(config)
        try writeToFIFO(fifo, String(repeating: "x", count: 5000))
        #expect(eventually { h.delivered.count == 3 })
        #expect(eventually { segments(h).count == 1 })
        try writeToFIFO(fifo, "\nok\n")
        #expect(eventually { h.delivered.count == 5 })
        h.stop()
        let got = h.delivered
        #expect(got.last?.text == "ok")
        #expect(got.dropLast().allSatisfy { $0.truncated })
        #expect(got.reduce(0) { $0 + ($1.end - $1.start) } == 5004)
    }
}
