import Foundation
import Testing

/// Thousands of files under a small `max_open_files` (issue 11 item 5): files close for the
/// limit while their lines are still in flight, and come back when they grow; nothing is lost,
/// nothing is sent twice, and a restart re-sends nothing.
@Suite(.serialized) struct ManyFilesTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    /// `count` files of 10 lines (file `i`: lines `i * 10..<(i + 1) * 10`) in `dir/logs`, and a
    /// configuration reading `dir/logs/*.log` under `max_open_files`.
    static func files(_ count: Int, in dir: URL, api: FakeTrackAPI, maxOpenFiles: Int) throws -> (config: URL, file: (Int) -> URL) {
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let file = { (i: Int) in logs.appendingPathComponent(String(format: "f%05d.log", i)) }
        for i in 0..<count { try Harness.append(Harness.lines(i * 10..<(i + 1) * 10), to: file(i)) }
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [logs.path + "/*.log"], url: api.url,
                               top: "[limits]\nmax_open_files = \(maxOpenFiles)")
            .write(to: config, atomically: true, encoding: .utf8)
        return (config, file)
    }

    @Test func twoThousandFilesUnderSixtyFourOpenDescriptors() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, keepsEvents: false, fastChecks: true)
        defer { api.stop() }
        let files = 2_000
        let (config, file) = try Self.files(files, in: dir, api: api, maxOpenFiles: 64)

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

    /// A file rotated out of the globs while tracktail was stopped (`f00007.log` → `f00007.log.1`, its
    /// last lines unread) is read to its end even when every open-file slot is taken at the
    /// restart: it waits for a slot like a matched file does. (It was skipped, never retried:
    /// its last lines were lost.)
    @Test func fileRotatedWhileStoppedWaitsForASlot() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, keepsEvents: false, fastChecks: true)
        defer { api.stop() }
        let files = 20, rotated = 7
        let (config, file) = try Self.files(files, in: dir, api: api, maxOpenFiles: 4)

        let first = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= files * 10 }, "\(api.summary)\n\(first.log.suffix(2_000))")
        #expect(first.stop() == 0)

        // While stopped: the rotated file gets 5 more lines and leaves the glob; the others one each.
        var next = files * 10
        try Harness.append(Harness.lines(next..<next + 5), to: file(rotated))
        next += 5
        try FileManager.default.moveItem(at: file(rotated), to: URL(fileURLWithPath: file(rotated).path + ".1"))
        for i in 0..<files where i != rotated {
            try Harness.append(Harness.lines(next..<next + 1), to: file(i))
            next += 1
        }

        let second = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= next }, "\(api.summary)\n\(second.log.suffix(3_000))")
        #expect(second.stop() == 0)
        #expect(api.missingSeqs(0..<next).isEmpty, "missing: \(api.missingSeqs(0..<next))")
        #expect(api.duplicateCount == 0, "\(api.duplicateCount) sent twice")
        #expect(second.log.contains("reading the rest of a file rotated while stopped"))
    }
}
