import Foundation
import Testing

/// Thousands of files under a small `max_open_files` (issue 11 item 5): files close for the
/// limit while their lines are still in flight, and come back when they grow; nothing is lost,
/// nothing is sent twice, and a restart re-sends nothing.
@Suite(.serialized) struct ManyFilesTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    @Test func twoThousandFilesUnderSixtyFourOpenDescriptors() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, keepsEvents: false, fastChecks: true)
        defer { api.stop() }
        let files = 2_000
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        func file(_ i: Int) -> URL { logs.appendingPathComponent(String(format: "f%05d.log", i)) }
        for i in 0..<files { try Harness.append(Harness.lines(i * 10..<(i + 1) * 10), to: file(i)) }
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [logs.path + "/*.log"], url: api.url,
                               top: "[limits]\nmax_open_files = 64")
            .write(to: config, atomically: true, encoding: .utf8)

        let first = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 180) { api.uniqueCount >= files * 10 }, "\(api.summary)\n\(first.log.suffix(2_000))")
        // One new line in every (now closed, idle) file.
        let base = files * 10
        for i in 0..<files { try Harness.append(Harness.lines(base + i..<base + i + 1), to: file(i)) }
        #expect(Harness.waitUntil(seconds: 180) { api.uniqueCount >= base + files }, "\(api.summary)")
        #expect(first.stop() == 0)

        // A restart resumes every file at its end: only the new line is sent.
        let second = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        try Harness.append(Harness.lines(base + files..<base + files + 1), to: file(42))
        #expect(Harness.waitUntil(seconds: 120) { api.uniqueCount >= base + files + 1 }, "\(api.summary)\n\(second.log.suffix(2_000))")
        #expect(second.stop() == 0)
        #expect(api.missingSeqs(0..<base + files + 1).isEmpty)
        #expect(api.duplicateCount == 0, "\(api.duplicateCount) sent twice")
        #expect(api.noSeqCount == 0)
    }
}
