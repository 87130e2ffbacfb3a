import Foundation
import Testing

/// Operating the daemon: `replay` after a fix, a named pipe as input, and the systemd
/// notification protocol.
@Suite(.serialized) struct OperationsTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    /// Lines rejected by a rule and events rejected by the API both reach the dead letter;
    /// after the rule and the API are fixed, `replay` sends them, and nothing else.
    @Test func replaySendsDeadLetteredLinesAfterTheFix() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setPoison { ($0.object["properties"] as? [String: Any])?["poison"] as? Bool == true }
        let log = dir.appendingPathComponent("app.log")
        // 0..<100 good; 100..<105 poisoned (API says 400); 105..<110 have their user id under "uid".
        var text = Harness.lines(0..<100)
        text += Harness.lines(100..<105) { _ in #","poison":true"# }
        text += Harness.lines(105..<110).replacingOccurrences(of: #""user":{"id""#, with: #""user":{"uid""#)
        try Harness.append(text, to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let r = try Harness.run(["run", "--once", "--config", config.path], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(api.acceptedCount == 100)
        let deadLetter = dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson")
        #expect((try String(contentsOf: deadLetter, encoding: .utf8)).split(separator: "\n").count == 10)

        // Dry run: prints what would go, sends nothing.
        let dry = try Harness.run(["replay", "--dry-run", "--config", config.path, deadLetter.path], environment: env)
        #expect(dry.stdout.contains("5 rejected again"), "\(dry.stdout)")
        #expect(api.acceptedCount == 100)

        // Fix the rule (fall back to "uid") and the API (no more poison), then replay.
        var fixed = try String(contentsOf: config, encoding: .utf8)
        fixed = fixed.replacingOccurrences(of: #"user_id = "{user.id}""#, with: #"user_id = "{user.id|user.uid}""#)
        try fixed.write(to: config, atomically: true, encoding: .utf8)
        api.setPoison(nil)
        api.resetRecords()
        let replay = try Harness.run(["replay", "--config", config.path, deadLetter.path], environment: env)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("10 events sent"), "\(replay.stderr)")
        #expect(Set(api.acceptedSeqs()) == Set(100..<110))
        #expect(api.violations.isEmpty)
    }

    /// A named pipe: lines written by several writers in turn arrive; the reader does not spin
    /// or stop when the last writer closes.
    @Test func namedPipeInput() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let fifo = dir.appendingPathComponent("events.pipe")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let config = dir.appendingPathComponent("t.toml")
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [], url: api.url)
        text = text.replacingOccurrences(of: "type = \"file\"\npaths = []", with: "type = \"pipe\"\npath = \"\(fifo.path)\"")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        for writer in 0..<3 {
            let h = try FileHandle(forWritingTo: fifo)
            try h.write(contentsOf: Data(Harness.lines((writer * 1_000)..<((writer + 1) * 1_000)).utf8))
            try h.close()
            #expect(api.waitForAccepted((writer + 1) * 1_000, timeout: 60), "\(api.summary)\n\(daemon.log)")
        }
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<3_000).isEmpty)
    }

    /// `Type=notify`: READY=1 once the inputs are open, STATUS= lines, STOPPING=1 at SIGTERM,
    /// RELOADING=1 at SIGHUP — over $NOTIFY_SOCKET, without libsystemd.
    @Test func systemdNotifications() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let notify = NotifySocket(directory: dir)

        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<10), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: dir.appendingPathComponent("state"), log: log)
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir,
                                        environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"])
        #expect(notify.wait(seconds: 30) { m in m.contains("READY=1") && m.contains { $0.hasPrefix("STATUS=") } && m.contains("WATCHDOG=1") }, "\(notify.messages)")
        daemon.signal(SIGHUP)
        #expect(notify.wait(seconds: 30) { $0.contains { $0.hasPrefix("RELOADING=1") } }, "\(notify.messages)")
        #expect(daemon.stop() == 0)
        notify.receive()
        #expect(notify.messages.contains("STOPPING=1"), "\(notify.messages)")
    }

    /// SIGTERM while a request is in flight: the daemon waits for the answer (within
    /// drain_timeout), writes the checkpoint after it, and a restart sends nothing twice.
    @Test func sigtermDrainsInFlightRequestsThenCheckpoints() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setLatency(1.0)
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<400), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: api.url,
                               output: "batch_max_events = 100\nmax_in_flight = 2\ndrain_timeout = \"30s\"")
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.wait(timeout: 30) { $0.requestCount >= 1 }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(Harness.waitUntil(seconds: 60) { !daemon.isRunning })
        #expect(daemon.stop() == 0)
        let delivered = Set(api.acceptedSeqs())
        #expect(!delivered.isEmpty, "the in-flight batch was answered and counted")
        api.setLatency(0)
        let again = try Harness.run(["run", "--once", "--config", config.path], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(api.missingSeqs(0..<400).isEmpty, "\(api.summary)")
        #expect(api.duplicateSeqs().isEmpty, "what was delivered before SIGTERM was checkpointed")
    }
}
