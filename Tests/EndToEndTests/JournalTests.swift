import Foundation
import Testing

/// A journal directory written by `systemd-journal-remote` from journal export format: real
/// journal files, appended to while tracktail follows them.
struct JournalWriter {
    static let tool = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { tool != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/journalctl") || tool != nil && FileManager.default.isExecutableFile(atPath: "/bin/journalctl") }

    let directory: URL
    var file = "x.journal"
    private static let boot = "0123456789abcdef0123456789abcdef"

    /// Appends one entry per line of `messages` (the lines of `Harness.lines`), with `unit`.
    func append(_ range: Range<Int>, unit: String = "legacy-app.service", extra: [String: String] = [:]) throws {
        var text = ""
        text.reserveCapacity(range.count * 400)
        for (i, line) in Harness.lines(range).split(separator: "\n").enumerated() {
            let n = range.lowerBound + i
            text += "__REALTIME_TIMESTAMP=\(1_700_000_000_000_000 + n * 1000)\n__MONOTONIC_TIMESTAMP=\(n + 1)\n_BOOT_ID=\(Self.boot)\n"
            text += "_SYSTEMD_UNIT=\(unit)\nSYSLOG_IDENTIFIER=legacy-app\n_HOSTNAME=host-\(n % 3)\nPRIORITY=6\n"
            for (k, v) in extra { text += "\(k)=\(v)\n" }
            text += "MESSAGE=\(line)\n\n"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.tool!)
        p.arguments = ["--output=" + directory.appendingPathComponent(file).path, "-"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        input.fileHandleForWriting.write(text.data(using: .utf8)!)
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}

/// The journal input through the real binary and real journal files.
/// They need `journalctl` and `systemd-journal-remote` (Debian package of that name; `.ci/run`
/// installs it) and fail, saying so, without them.
@Suite(.serialized)
struct JournalTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    func config(_ dir: URL, journal: URL, api: FakeTrackAPI, input: String = #"units = ["legacy-app.service"]"#, output: String = "",
                startAt: String = "beginning") -> URL {
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [], url: api.url, output: output,
                                      rule: #"properties = { unit = "{journal._SYSTEMD_UNIT}", host = "{journal._HOSTNAME}" }"#)
        let start = text.range(of: "[[input]]")!.lowerBound
        let end = text.range(of: "[[rule]]")!.lowerBound
        text.replaceSubrange(start..<end, with: """
            [[input]]
            name = "legacy"
            type = "journal"
            \(input)
            start_at = "\(startAt)"
            directory = "\(journal.path)"

            """)
        let url = dir.appendingPathComponent("t.toml")
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func setUp(_ name: String = #function) throws -> (URL, URL, JournalWriter) {
        try #require(JournalWriter.available, "needs journalctl and systemd-journal-remote (apt-get install systemd-journal-remote; .ci/run does)")
        let dir = Harness.temporaryDirectory(name)
        let journal = dir.appendingPathComponent("journal")
        try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: true)
        return (dir, journal, JournalWriter(directory: journal))
    }

    /// Entries of the unit arrive with journal fields in the payload; entries of another unit
    /// never; new entries appended while running arrive; a restart resumes after the cursor.
    @Test func unitFilterFieldsAndCursorResume() throws {
        let (dir, journal, writer) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        try writer.append(0..<100)
        try writer.append(10_000..<10_050, unit: "other.service")
        let cfg = config(dir, journal: journal, api: api)
        var daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(100, timeout: 60), "\(api.summary)\n\(daemon.log)")
        try writer.append(100..<150)
        try writer.append(10_050..<10_060, unit: "other.service")
        #expect(api.waitForAccepted(150, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        let first = api.acceptedEvents.first { $0.int("properties.seq") == 7 }
        #expect(first?.string("properties.unit") == "legacy-app.service")
        #expect(first?.string("properties.host") == "host-1")

        // The checkpoint holds the cursor; status shows it.
        let status = try Harness.run(["status", "--config", cfg.path])
        #expect(status.stdout.contains("cursor"), "\(status.stdout)")
        try writer.append(150..<200)
        daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(200, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<200).isEmpty)
        #expect(api.duplicateSeqs().isEmpty, "resumed after the cursor, not at it")
        #expect(!api.acceptedSeqs().contains { $0 >= 10_000 }, "entries of other units never arrive")
    }

    /// kill -9 while entries are in flight: after a restart every entry arrives (at least once),
    /// and nothing arrives that was not written.
    @Test func killNineMidStream() throws {
        let (dir, journal, writer) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setLatency(0.05)
        let total = 5_000
        try writer.append(0..<total)
        let cfg = config(dir, journal: journal, api: api, output: "batch_max_events = 100")
        var daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(1_000, timeout: 60), "\(api.summary)\n\(daemon.log)")
        // Once a cursor is checkpointed, a restart must not read from the start again.
        let checkpoint = dir.appendingPathComponent("state/checkpoints.json")
        #expect(Harness.waitUntil(seconds: 30) { ((try? String(contentsOf: checkpoint, encoding: .utf8)) ?? "").contains("cursor") })
        daemon.kill9()
        let before = api.acceptedCount
        #expect(before < total, "killed mid-stream")
        api.setLatency(0)
        daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.wait(timeout: 120) { $0.missingSeqs(0..<total).isEmpty }, "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(Set(api.acceptedSeqs()).isSubset(of: Set(0..<total)), "nothing invented")
        // Duplicates only from what was in flight at the kill (a few batches), not a re-read from the start.
        #expect(api.duplicateSeqs().count < before, "\(api.duplicateSeqs().count) duplicates")
    }

    /// A checkpointed cursor the journal no longer has (its file vacuumed away): a warning, and
    /// the input reads from the oldest entry there is.
    @Test func vanishedCursorReadsFromTheOldestEntry() throws {
        let (dir, journal, writer) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        try writer.append(0..<50)
        let cfg = config(dir, journal: journal, api: api)
        var daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(50, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        // Vacuumed: the old file is gone, a new one (another sequence number id) holds new entries.
        try FileManager.default.removeItem(at: journal.appendingPathComponent("x.journal"))
        var next = writer
        next.file = "y.journal"
        try next.append(50..<80)
        daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(80, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<80).isEmpty)
        #expect(daemon.log.contains("no longer in the journal"), "\(daemon.log)")
    }

    /// A cursor that is not even well-formed (hand-edited checkpoint): journalctl refuses it;
    /// tracktail warns and reads from the oldest entry.
    @Test func malformedCursorReadsFromTheOldestEntry() throws {
        let (dir, journal, writer) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        try writer.append(0..<20)
        let state = dir.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try #"{"version":1,"entries":[],"journal":[{"input":"legacy","cursor":"garbage","realtime":0,"updated":0}]}"#
            .write(to: state.appendingPathComponent("checkpoints.json"), atomically: true, encoding: .utf8)
        let cfg = config(dir, journal: journal, api: api)
        let daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(20, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<20).isEmpty)
        #expect(daemon.log.contains("refused the checkpointed cursor"), "\(daemon.log)")
    }

    /// `start_at = "end"`: what is in the journal at the first start is skipped, but its newest
    /// cursor is checkpointed at once, so entries written while tracktail is down (even after a
    /// kill -9 before any new entry) are not lost.
    @Test func startAtEndCheckpointsTheNewestCursorAtOnce() throws {
        let (dir, journal, writer) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        try writer.append(0..<30)
        let cfg = config(dir, journal: journal, api: api, startAt: "end")
        var daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        let checkpoint = dir.appendingPathComponent("state/checkpoints.json")
        #expect(Harness.waitUntil(seconds: 30) { ((try? String(contentsOf: checkpoint, encoding: .utf8)) ?? "").contains("cursor") }, "\(daemon.log)")
        daemon.kill9()
        try writer.append(30..<40)
        daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(10, timeout: 60), "\(api.summary)\n\(daemon.log)")
        try writer.append(40..<45)
        #expect(api.waitForAccepted(15, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(30..<45).isEmpty)
        #expect(!api.acceptedSeqs().contains { $0 < 30 }, "what was there at the first start is skipped")
    }

    /// journalctl missing: a clear error that names it, and the daemon keeps running (retrying).
    @Test func missingJournalctlIsAClearError() throws {
        let (dir, journal, _) = try setUp()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let cfg = config(dir, journal: journal, api: api, input: "journalctl_path = \"/nonexistent/journalctl\"")
        let daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 30) { daemon.log.contains("cannot start journalctl") }, "\(daemon.log)")
        #expect(daemon.log.contains("/nonexistent/journalctl"))
        #expect(daemon.isRunning)
        #expect(daemon.stop() == 0)
    }
}
