import Foundation
import Testing

/// The daemon end to end: the real binary tails real files and ships to the loopback fake API
/// (`FakeTrackAPI`), with real signals. Each test checks what arrived: every line's
/// event exactly once or more (never lost), and no event that was not written (never invented).
@Suite(.serialized) struct RunTests {
    let token = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    @Test func runOnceWithStdoutPrintsPayloadsAndDeadLettersBadLines() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let sample = Harness.packageRoot.appendingPathComponent("Config/samples/app.ndjson").path
        var text = try String(contentsOf: Harness.packageRoot.appendingPathComponent("Config/example.toml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "\"../.build/example-state\"", with: "\"\(dir.path)/state\"")
        text = text.replacingOccurrences(of: "\"samples/app.ndjson\"", with: "\"\(sample)\"")
        let config = dir.appendingPathComponent("example.toml")
        try text.write(to: config, atomically: true, encoding: .utf8)

        let r = try Harness.run(["run", "--once", "--config", config.path])
        #expect(r.status == 0, "\(r.stderr)")
        let events = try r.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(events.map { $0["event_name"] as? String } == ["feature_used", "invite_sent", "subscription_upgraded", "user_waitlisted"])
        for e in events { try Contract.check(e) }
        let dead = try String(contentsOf: dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson"), encoding: .utf8)
        #expect(dead.split(separator: "\n").count == 2)
        #expect(dead.contains("two-digit year"))

        // A second run starts from the checkpoint: nothing is printed again.
        let again = try Harness.run(["run", "--once", "--config", config.path])
        #expect(again.status == 0)
        #expect(again.stdout.isEmpty)

        let status = try Harness.run(["status", "--json", "--config", config.path])
        #expect(status.status == 0)
        let s = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        let files = try #require(s["files"] as? [[String: Any]])
        #expect(files.count == 1)
        #expect(files.first?["lag_bytes"] as? Int == 0)
        #expect(s["dead_letter_records"] as? Int == 2)
    }

    @Test func shipsABacklogAndFollowsAppends() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<20_000), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        #expect(Harness.waitUntil(seconds: 120) { api.uniqueCount >= 20_000 }, "\(daemon.log)")
        try Harness.append(Harness.lines(20_000..<25_000), to: log)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 25_000 }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.uniqueCount == 25_000)
        #expect(api.acceptedCount == 25_000, "no duplicates without a crash")
        #expect(api.noSeqCount == 0, "nothing invented")
        #expect(api.violations.isEmpty, "\(api.summary)")
        #expect(!daemon.log.contains("test-token"), "the token never reaches the log")

        // The checkpoint is at the end of the file.
        let status = try Harness.run(["status", "--json", "--config", config.path])
        let s = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        #expect((s["files"] as? [[String: Any]])?.first?["lag_bytes"] as? Int == 0)
    }

    @Test func renameRotationAndCopytruncateLoseNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let log = logs.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<3_000), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [logs.path + "/app.log"], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 3_000 }, "\(daemon.log)")

        // Rename rotation: lines appended to the old file just before the rename still arrive.
        try Harness.append(Harness.lines(3_000..<4_000), to: log)
        try FileManager.default.moveItem(at: log, to: logs.appendingPathComponent("app.log.1"))
        try Harness.append(Harness.lines(4_000..<6_000), to: log)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 6_000 }, "\(daemon.log)")

        // copytruncate: copy, truncate in place, keep writing.
        try FileManager.default.copyItem(at: log, to: logs.appendingPathComponent("app.log.2"))
        let h = try FileHandle(forWritingTo: log)
        try h.truncate(atOffset: 0)
        try h.close()
        Thread.sleep(forTimeInterval: 0.3)
        try Harness.append(Harness.lines(6_000..<7_000), to: log)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 7_000 }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.uniqueCount == 7_000)
        #expect(api.noSeqCount == 0)
    }

    /// kill -9 at random moments during a 100k-line run: after the last restart every line has
    /// arrived (duplicates allowed: at-least-once).
    @Test func killNineLoopLosesNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        let total = 100_000
        try Harness.append(Harness.lines(0..<40_000), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        var rng = SystemRandomNumberGenerator()
        var written = 40_000
        for round in 0..<5 {
            // New lines first, so that every round has something left to ship.
            let more = min(total, written + 12_000)
            try Harness.append(Harness.lines(written..<more), to: log)
            written = more
            let before = api.uniqueCount
            let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
            // Kill once some progress was made in this round, after a random extra moment.
            Harness.waitUntil(seconds: 60) { api.uniqueCount > before }
            Thread.sleep(forTimeInterval: Double.random(in: 0.0...0.3, using: &rng))
            daemon.kill9()
            #expect(!daemon.isRunning, "round \(round)")
        }
        if written < total { try Harness.append(Harness.lines(written..<total), to: log) }
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        #expect(Harness.waitUntil(seconds: 180) { api.uniqueCount >= total }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.uniqueCount == total, "no line lost across 5 kill -9")
        #expect(api.noSeqCount == 0, "nothing invented")
    }

    @Test func rejectedEventsAreIsolatedAndDeadLettered() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        api.setPoison { ($0["properties.poison"] as? NSNumber)?.boolValue == true }
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        let poisoned: Set<Int> = [17, 1_234, 2_999]
        try Harness.append(Harness.lines(0..<3_000) { poisoned.contains($0) ? #","poison":true"# : "" }, to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        let deadLetter = dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson")
        #expect(Harness.waitUntil(seconds: 60) {
            api.uniqueCount >= 3_000 - poisoned.count
                && ((try? String(contentsOf: deadLetter, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= poisoned.count
        }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.uniqueCount == 3_000 - poisoned.count)
        let records = try String(contentsOf: deadLetter, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.count == poisoned.count)
        #expect(records.allSatisfy { $0["status"] as? Int == 400 })
        let seqs = Set(records.compactMap { (($0["event"] as? [String: Any])?["properties"] as? [String: Any])?["seq"] as? Int })
        #expect(seqs == poisoned)
        // Isolation costs about 2·log2(batch) requests per poison event, not one per event.
        #expect(api.requestCount < 3_000 / 10)
    }

    /// 401: nothing is dropped or dead-lettered; after the token file is fixed, SIGHUP sends all.
    @Test func unauthorizedHoldsEverythingUntilReload() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<2_000), to: log)
        let tokenFile = dir.appendingPathComponent("token")
        try "wrong-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("t.toml")
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: api.url, output: "hold_retry = \"1h\"")
        text = text.replacingOccurrences(of: "token_env = \"TRACKTAIL_TEST_TOKEN\"", with: "token_file = \"\(tokenFile.path)\"")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir)
        #expect(Harness.waitUntil(seconds: 30) { api.statusCounts[401, default: 0] >= 1 && daemon.log.contains("401") }, "\(daemon.log)")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(api.uniqueCount == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson").path))
        try "test-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 2_000 }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(!daemon.log.contains("wrong-token") && !daemon.log.contains("test-token"))
    }

    @Test func aSecondInstanceIsRefused() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<10), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        #expect(Harness.waitUntil(seconds: 30) { api.uniqueCount >= 10 })
        let second = try Harness.run(["run", "--config", config.path], environment: token, timeout: 30)
        #expect(second.status == 75)
        #expect(second.stderr.contains(dir.appendingPathComponent("state").path))
        #expect(daemon.stop() == 0)
    }
}
