import Foundation
import Synchronization
import Testing
@testable import Ship

/// The dead letter under faults (issue 11 item 2) and what its records hold (issue 10).
@Suite struct DeadLetterFaultTests {
    static func record(_ i: Int, source: String = "/var/log/app.log", rule: String? = "signups") -> DeadLetterRecord {
        DeadLetterRecord(time: 1_795_546_800_123_000_000, reason: "invalid JSON at byte 0: unexpected x", source: source,
                         start: Int64(i * 10), end: Int64(i * 10 + 10), line: "line \(i)", rule: rule)
    }

    static func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1 }

    @Test func ruleRoundTripsAndIsNullWhenNoRuleTookTheLine() throws {
        var bytes: [UInt8] = []
        Self.record(1).serialized(into: &bytes)
        Self.record(2, rule: nil).serialized(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""rule":"signups""#))
        #expect(text.contains(#""rule":null"#))
        #expect(try DeadLetterFile.parse(bytes) == [Self.record(1), Self.record(2, rule: nil)])
    }

    /// A write that fails part-way leaves the file as it was: no half record.
    @Test func aFailedWriteIsCutBack() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        let failNext = Atomic<Bool>(false)
        let dl = DeadLetter(directory: dir, fault: { n in failNext.load(ordering: .relaxed) ? n / 2 : nil })
        try dl.write([Self.record(1)])
        let path = dir + "/dead-letter.ndjson"
        let before = Self.size(path)
        failNext.store(true, ordering: .relaxed)
        #expect(throws: (any Error).self) { try dl.write([Self.record(2), Self.record(3)]) }
        #expect(Self.size(path) == before)
        failNext.store(false, ordering: .relaxed)
        try dl.write([Self.record(4)])
        #expect(try DeadLetterFile.read(path).map(\.start) == [10, 40])
    }

    /// `writeRetrying` tries again until the fault goes away; `problem` says why meanwhile.
    @Test func aFailingWriteIsRetriedAndProblemSaysWhy() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        let failures = Atomic<Int>(3)
        let problems = Mutex<[String]>([])
        let holder = Mutex<DeadLetter?>(nil)
        let dl = DeadLetter(directory: dir, retryInitial: 1_000_000, fault: { n in
            // The problem is visible while the next attempt runs.
            if let p = holder.withLock({ $0 })?.problem { problems.withLock { $0.append(p) } }
            return failures.subtract(1, ordering: .relaxed).newValue >= 0 ? n - 1 : nil
        })
        holder.withLock { $0 = dl }
        try dl.writeRetrying([Self.record(1), Self.record(2)])
        #expect(dl.problem == nil)
        #expect(problems.withLock { $0 }.count == 3)
        #expect(problems.withLock { $0 }.last?.hasPrefix("write \(dir)/dead-letter.ndjson: No space left on device; retrying in ") == true)
        #expect(try DeadLetterFile.read(dir + "/dead-letter.ndjson").map(\.start) == [10, 20])
        holder.withLock { $0 = nil }
    }

    /// `interrupt()` ends a retry loop: it throws, the caller leaves the lines unacknowledged.
    @Test func interruptEndsRetrying() throws {
        let attempts = Atomic<Int>(0)
        let holder = Mutex<DeadLetter?>(nil)
        let dl = DeadLetter(directory: temporaryDirectory() + "/dead-letter", retryInitial: 1_000_000, fault: { _ in
            if attempts.add(1, ordering: .relaxed).newValue == 3 { holder.withLock { $0 }?.interrupt() }
            return 0
        })
        holder.withLock { $0 = dl }
        #expect(throws: (any Error).self) { try dl.writeRetrying([Self.record(1)]) }
        let count = attempts.load(ordering: .relaxed)
        #expect(count == 3)
        holder.withLock { $0 = nil }
    }

    /// A torn final line (a crash mid-write, a failed truncate) is skipped by readers and cut
    /// off before the next record is appended.
    @Test func aTornTailIsSkippedAndRepaired() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var bytes: [UInt8] = []
        Self.record(1).serialized(into: &bytes)
        var torn: [UInt8] = []
        Self.record(2).serialized(into: &torn)
        bytes += torn.prefix(torn.count / 2)
        let path = dir + "/dead-letter.ndjson"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try DeadLetterFile.read(path) == [Self.record(1)])
        #expect(try DeadLetter.count(stateDirectory: (dir as NSString).deletingLastPathComponent) == 1)
        let dl = DeadLetter(directory: dir)
        try dl.write([Self.record(3)])
        #expect(try DeadLetterFile.read(path) == [Self.record(1), Self.record(3)])
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 2)
    }

    /// After a restart, a record already in the dead letter (same source, range and line) is not
    /// written again; a different line at the same offset is.
    @Test func recordsAlreadyWrittenAreNotWrittenTwiceAfterARestart() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        try DeadLetter(directory: dir).write([Self.record(1), Self.record(2)])
        let again = DeadLetter(directory: dir)
        var other = Self.record(2)
        other.line = "a different line at the same offset"
        var later = Self.record(1)
        later.time += 5_000_000_000
        later.reason = "no rule matched"
        let written = try again.write([later, Self.record(2), Self.record(3), other])
        #expect(written == [Self.record(3), other])
        #expect(try DeadLetterFile.read(dir + "/dead-letter.ndjson").count == 4)
        // Within one run too.
        #expect(try again.write([Self.record(3)]).isEmpty)
    }

    @Test(arguments: [
        // (body, secrets, header names, limit, expected)
        (#"{"error":"bad","headers":{"Authorization":"Bearer s3cr3t-token"}}"#, ["s3cr3t-token"], [String](), 4096,
         #"{"error":"bad","headers":{"Authorization":"Bearer [REDACTED]"}}"#),
        ("POST /api/track\r\nauthorization: Bearer abc.def\r\nX-Api-Key: k3y-value\r\n", [String](), ["X-API-Key"], 4096,
         "POST /api/track\r\nauthorization: Bearer [REDACTED]\r\nX-Api-Key: [REDACTED]\r\n"),
        (#"{"error":"invalid key s3cr3t-token for workspace"}"#, ["s3cr3t-token"], [String](), 4096,
         #"{"error":"invalid key [REDACTED] for workspace"}"#),
        (#"{"authorization" : "x y z", "ok": 1}"#, [String](), [String](), 4096, #"{"authorization" : "[REDACTED]", "ok": 1}"#),
        ("no secrets here", ["s3cr3t-token"], [String](), 4096, "no secrets here"),
        ("0123456789abcdef", [String](), [String](), 10, "0123456789… [cut: 16 bytes in all]"),
        ("ab€cd", [String](), [String](), 3, "ab… [cut: 7 bytes in all]"),
        // Redacted before it is cut: the cut never leaves the head of a secret.
        ("xx s3cr3t-token", ["s3cr3t-token"], [String](), 8, "xx [REDA… [cut: 13 bytes in all]"),
    ] as [(String, [String], [String], Int, String)])
    func responsesAreRedactedThenCut(body: String, secrets: [String], headers: [String], limit: Int, expected: String) {
        #expect(DeadLetterRedaction.response(Array(body.utf8), secrets: secrets, headerNames: headers, limit: limit) == expected)
    }

    typealias Step = (at: Int64, source: String, reason: String?)   // reason nil: a tick

    @Test func aFloodIsSummarisedOncePerWindow() {
        let s = 1_000_000_000 as Int64
        var summary = DeadLetterLogSummary(window: 10 * s)
        var messages: [DeadLetterLogSummary.Message] = []
        messages += summary.note(source: "/a", reason: "invalid JSON at byte 0: x", offset: 0, rule: nil, now: 0)
        for i in 1...506 {
            messages += summary.note(source: "/a", reason: i % 100 == 0 ? "no rule matched" : "invalid JSON at byte \(i): y",
                                     offset: Int64(i), rule: nil, now: Int64(i) * 10_000_000)
        }
        messages += summary.tick(now: 9 * s)
        #expect(messages.count == 1)
        messages += summary.tick(now: 10 * s)
        #expect(messages.count == 2)
        #expect(messages[1].text == "506 lines dead-lettered from /a in the last 10 s: invalid JSON (and 1 other reason)")
        // Nothing more in the next window: it closes quietly, and the next line is logged alone again.
        #expect(summary.tick(now: 20 * s).isEmpty)
        #expect(summary.note(source: "/a", reason: "no rule matched", offset: 9, rule: "r", now: 21 * s)
                == [.single(source: "/a", reason: "no rule matched", offset: 9, rule: "r")])
        // Sources are counted apart.
        #expect(summary.note(source: "/b", reason: "r", offset: 0, rule: nil, now: 21 * s).count == 1)
        // At shutdown every count is said, over the time its window was open.
        _ = summary.note(source: "/b", reason: "r", offset: 1, rule: nil, now: 22 * s)
        _ = summary.note(source: "/b", reason: "r", offset: 2, rule: nil, now: 23 * s)
        #expect(summary.tick(now: 23 * s + 1, final: true) == [.summary(source: "/b", lines: 2, seconds: 3, reason: "r")])
    }

    /// A real full disk: a 64 KiB tmpfs (needs root and mount(2); skipped with a note otherwise).
    @Test func aFullDiskIsRetriedUntilThereIsRoomAgain() throws {
        let mountPoint = temporaryDirectory()
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]
        mount.standardError = FileHandle.nullDevice
        try? mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            print("skipped aFullDiskIsRetriedUntilThereIsRoomAgain: cannot mount a tmpfs here (needs root)")
            return
        }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mountPoint]
            try? u.run()
            u.waitUntilExit()
        }
        let dir = mountPoint + "/dead-letter"
        let dl = DeadLetter(directory: dir, retryInitial: 5_000_000)
        try dl.write([Self.record(0)])
        // Fill the rest of the file system.
        let filler = mountPoint + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        while (try? h.write(contentsOf: Data(count: 4096))) != nil {}
        try? h.close()
        let big = (1...40).map { i in
            var r = Self.record(i)
            r.line = String(repeating: "x", count: 1000)
            return r
        }
        let done = Atomic<Bool>(false)
        let writer = Thread {
            try? dl.writeRetrying(big)
            done.store(true, ordering: .relaxed)
        }
        writer.start()
        #expect(waitUntil { dl.problem?.contains("No space left on device") == true })
        let finishedEarly = done.load(ordering: .relaxed)
        #expect(!finishedEarly)
        // Whole or nothing: only the first record is in the file, and nothing torn.
        #expect(try DeadLetterFile.read(dir + "/dead-letter.ndjson").map(\.start) == [0])
        try FileManager.default.removeItem(atPath: filler)
        let finished = waitUntil { done.load(ordering: .relaxed) }
        #expect(finished)
        #expect(dl.problem == nil)
        #expect(try DeadLetterFile.read(dir + "/dead-letter.ndjson").count == 41)
    }

    func waitUntil(seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    /// The operator deletes the file while the daemon runs: the next record starts a new file.
    @Test func aDeletedFileIsStartedAgain() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        let dl = DeadLetter(directory: dir)
        try dl.write([Self.record(1)])
        try FileManager.default.removeItem(atPath: dir + "/dead-letter.ndjson")
        try dl.write([Self.record(2)])
        #expect(try DeadLetterFile.read(dir + "/dead-letter.ndjson").map(\.start) == [20])
    }

    /// Records longer than the reader's 64 KiB chunks, then a torn one: the complete part ends
    /// exactly after the last whole record (a wrong count would cut good records off).
    @Test(arguments: [0, 1, 70_000, 200_000])
    func forEachRecordFindsTheCompletePartAcrossChunks(from offset: Int) throws {
        let dir = temporaryDirectory()
        var bytes: [UInt8] = []
        var records: [DeadLetterRecord] = []
        for i in 0..<6 {
            var r = Self.record(i)
            r.line = String(repeating: "x", count: 30_000 + i * 7_001)
            records.append(r)
            r.serialized(into: &bytes)
        }
        let whole = bytes.count
        bytes += Array(#"{"time":"2026-01-01T00:00:00.000Z","reason":"torn"#.utf8)
        let path = dir + "/dl.ndjson"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var seen: [DeadLetterRecord] = []
        let complete = try DeadLetterFile.forEachRecord(path, from: Int64(offset)) { seen.append($0) }
        #expect(complete == Int64(whole))
        // From 0 every record; from inside the file the records after the first newline past it.
        let starts = records.indices.map { i in records[..<i].reduce(0) { n, r in var b: [UInt8] = []; r.serialized(into: &b); return n + b.count } }
        #expect(seen == records.enumerated().filter { offset == 0 ? true : starts[$0.offset] > offset }.map(\.element))
    }
}
