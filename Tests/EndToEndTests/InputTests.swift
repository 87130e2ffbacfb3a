import Foundation
import Testing

/// Inputs that misbehave, through the real binary: BOM, CRLF, partial lines, a 20 MB line,
/// binary garbage, many files, `start_at = "end"`, a file deleted while being read. Good lines
/// arrive, bad ones reach the dead letter with a reason, and nothing stops the file.
@Suite(.serialized) struct InputTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    private func deadLetters(_ dir: URL) -> [[String: Any]] {
        let url = dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func awkwardLinesAreDeadLetteredAndTheRestArrives() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        var data = Data([0xEF, 0xBB, 0xBF])                                   // BOM on the first line
        data.append(Harness.lines(0..<10).replacingOccurrences(of: "\n", with: "\r\n").data(using: .utf8)!)   // CRLF
        data.append(Data([0x00, 0xFF, 0xFE, 0x41, 0x0A]))                    // binary garbage
        data.append(Harness.lines(10..<20).data(using: .utf8)!)
        data.append(Data(("{\"big\":\"" + String(repeating: "y", count: 20 << 20) + "\"}\n").utf8))   // 20 MB line
        data.append(Harness.lines(20..<30).data(using: .utf8)!)
        let partial = Harness.lines(30..<31)
        data.append(partial.prefix(40).data(using: .utf8)!)                  // a line without its end yet
        try data.write(to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(30, timeout: 60), "\(api.summary)\n\(daemon.log)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(api.acceptedCount == 30, "the partial line waits for its newline")
        try Harness.append(String(partial.dropFirst(40)), to: log)
        #expect(api.waitForAccepted(31, timeout: 30), "\(api.summary)\n\(daemon.log)")
        #expect(Harness.waitUntil(seconds: 30) { deadLetters(dir).count >= 2 })
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<31).isEmpty)
        let dead = deadLetters(dir)
        #expect(dead.count == 2)
        #expect(dead.contains { ($0["reason"] as? String)?.contains("JSON") == true })
        #expect(dead.contains { ($0["reason"] as? String)?.contains("max_line_bytes") == true && (($0["line"] as? String)?.count ?? .max) <= 1024 })
        let status = try Harness.run(["status", "--json", "--config", config.path])
        let s = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        #expect((s["files"] as? [[String: Any]])?.first?["lag_bytes"] as? Int == 0, "\(status.stdout)")
    }

    @Test func aThousandFilesAndStartAtEnd() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let many = dir.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: many, withIntermediateDirectories: true)
        for f in 0..<1_000 {
            try Harness.lines((f * 2)..<(f * 2 + 2)).write(to: many.appendingPathComponent("f\(f).log"), atomically: false, encoding: .utf8)
        }
        let old = dir.appendingPathComponent("old.log")
        try Harness.append(Harness.lines(100_000..<100_050), to: old)
        let config = dir.appendingPathComponent("t.toml")
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [many.path + "/*.log"], url: api.url)
        text = text.replacingOccurrences(of: "[[rule]]", with: """
            [[input]]
            name = "tail-only"
            paths = ["\(old.path)"]
            start_at = "end"

            [[rule]]
            """)
        try text.write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(2_000, timeout: 120), "\(api.summary)\n\(daemon.log)")
        // start_at = "end": what was there before is skipped, what comes after arrives.
        try Harness.append(Harness.lines(100_050..<100_060), to: old)
        // A new file in the watched directory is picked up.
        try Harness.lines(5_000..<5_010).write(to: many.appendingPathComponent("new.log"), atomically: false, encoding: .utf8)
        #expect(Harness.waitUntil(seconds: 60) { Set(api.acceptedSeqs()).isSuperset(of: Set(100_050..<100_060).union(5_000..<5_010)) },
                "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        let seqs = Set(api.acceptedSeqs())
        #expect(api.missingSeqs(0..<2_000).isEmpty)
        #expect(seqs.isSuperset(of: 100_050..<100_060))
        #expect(seqs.isDisjoint(with: 100_000..<100_050))
        #expect(seqs.isSuperset(of: 5_000..<5_010))
    }

    @Test func aFileDeletedWhileBeingReadIsReadToItsEnd() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setLatency(0.05)
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<20_000), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: api.url,
                               output: "batch_max_events = 100\nmax_in_flight = 1")
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(100, timeout: 30))
        try FileManager.default.removeItem(at: log)
        api.setLatency(0)
        #expect(api.waitForAccepted(20_000, timeout: 120), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<20_000).isEmpty)
    }

    /// A file deleted and created again at the same path (often with the same inode number),
    /// and a file replaced by a copy of itself: the new content is read from its start, nothing
    /// is lost (a copy may be sent again: at-least-once).
    @Test func inodeReuseAndReplacementByACopy() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<1_000), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(1_000, timeout: 60), "\(api.summary)\n\(daemon.log)")

        // Delete and write a shorter file at the same path: its lines are new, read from 0.
        try FileManager.default.removeItem(at: log)
        try Harness.append(Harness.lines(1_000..<1_300), to: log)
        #expect(Harness.waitUntil(seconds: 60) { api.missingSeqs(0..<1_300).isEmpty }, "\(api.summary)\n\(daemon.log)")

        // Replace the file by a copy of itself plus new lines (new inode, same first bytes).
        let copy = dir.appendingPathComponent("app.log.tmp")
        try FileManager.default.copyItem(at: log, to: copy)
        try Harness.append(Harness.lines(1_300..<1_400), to: copy)
        #expect(rename(copy.path, log.path) == 0)
        #expect(Harness.waitUntil(seconds: 60) { api.missingSeqs(0..<1_400).isEmpty }, "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.violations.isEmpty)
    }
}
