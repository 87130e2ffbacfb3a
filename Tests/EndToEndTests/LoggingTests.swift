import Foundation
import Testing

/// Logs go to stderr: plain `level: label: message key=value` lines, or with journald's
/// `<N>` priority prefix when `$JOURNAL_STREAM` says stderr is the journal.
@Suite struct LoggingTests {
    private func runOnce(environment: [String: String]) throws -> Harness.Result {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<3) + "not json\n", to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: dir.appendingPathComponent("state"), log: log)
            .write(to: config, atomically: true, encoding: .utf8)
        return try Harness.run(["run", "--once", "--config", config.path], environment: environment)
    }

    @Test func plainLinesWithStructuredMetadata() throws {
        let r = try runOnce(environment: [:])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("info: tracktail: started ") && $0.contains("inputs=1") })
        #expect(lines.contains { $0.hasPrefix("warning: ship: dead-lettered ") && $0.contains("reason=\"invalid JSON") && $0.contains("source.offset=") })
        #expect(r.stdout.split(separator: "\n").count == 3)
    }

    @Test func journaldPriorityPrefixes() throws {
        let r = try runOnce(environment: ["JOURNAL_STREAM": "8:12345"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<") && $0.dropFirst(2).hasPrefix(">") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<6>tracktail: started") })
        #expect(lines.contains { $0.hasPrefix("<4>ship: dead-lettered") })
    }
}
