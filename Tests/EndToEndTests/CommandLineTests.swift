import Foundation
import Testing

/// The binary's command line: help, version, exit codes, `check` and `map` on real files.
@Suite(.serialized) struct CommandLineTests {
    let config = Harness.packageRoot.appendingPathComponent("Config").path

    @Test func helpAndVersion() throws {
        let help = try Harness.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE"))
        for command in ["run", "check", "map", "status", "replay"] {
            let r = try Harness.run([command, "--help"])
            #expect(r.status == 0, "\(command) --help")
            #expect(r.stdout.contains("tracktail \(command)"), "\(command) --help")
        }
        let version = try Harness.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("tracktail "))
    }

    @Test(arguments: [
        (["frobnicate"], Int32(64)),
        (["map", "--bogus"], Int32(64)),
        (["check", "--config", "/nonexistent/tracktail.toml"], Int32(66)),
    ])
    func usageErrors(arguments: [String], status: Int32) throws {
        let r = try Harness.run(arguments)
        #expect(r.status == status)
        #expect(!r.stderr.isEmpty)
    }

    @Test(arguments: ["example", "waitlist", "invite-sent", "custom-events", "catch-all", "production"])
    func shippedExamplesAreValid(name: String) throws {
        let r = try Harness.run(["check", "--config", "\(config)/\(name).toml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("[[rule]]"))
        // What `check` prints is itself a valid configuration that resolves to the same thing.
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let resolved = dir.appendingPathComponent("resolved.toml")
        try r.stdout.write(to: resolved, atomically: true, encoding: .utf8)
        let again = try Harness.run(["check", "--config", resolved.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.split(separator: "\n").dropFirst() == r.stdout.split(separator: "\n").dropFirst())
    }

    /// Every example maps its sample log to payloads the Track API accepts (docs/track-api.md), and drops the rest.
    @Test(arguments: [
        ("waitlist", "bunyan", 1, 1),
        ("invite-sent", "logstash", 2, 0),
        ("custom-events", "zap", 2, 1),
        ("catch-all", "pino", 2, 1),
    ])
    func examplesMapTheirSamples(name: String, sample: String, events: Int, dropped: Int) throws {
        let r = try Harness.run(["map", "--json", "--config", "\(config)/\(name).toml", "\(config)/samples/\(sample).ndjson"])
        #expect(r.status == 0, "\(r.stderr)")
        let objects = try r.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let mapped = objects.compactMap { $0["event"] as? [String: Any] }
        #expect(mapped.count == events)
        #expect(objects.filter { $0["dropped"] != nil }.count == dropped)
        for e in mapped { try Contract.check(e) }
    }

    @Test func mapJSONGivesOneObjectPerLineWithReasons() throws {
        let r = try Harness.run(["map", "--json", "--config", "\(config)/example.toml", "\(config)/samples/app.ndjson"])
        #expect(r.status == 1, "a rejected line makes the exit status 1")
        let objects = try r.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(objects.count == 7)
        #expect(objects.map { $0["line"] as? Int } == [1, 2, 3, 4, 5, 6, 7])
        let third = try #require(objects[2]["event"] as? [String: Any])
        #expect(third["user_id"] as? String == "12345678901234567891", "big integers keep every digit")
        let second = try #require(objects[1]["event"] as? [String: Any])
        #expect(second["timestamp"] as? String == "2024-10-20T13:51:37.002Z", "offsets normalized to UTC")
        #expect(objects[3]["dropped"] != nil)
        #expect((objects[5]["error"] as? String)?.contains("two-digit year") == true)
        #expect((objects[6]["error"] as? String)?.contains("byte") == true, "JSON errors name the byte")
        #expect(r.stderr.contains("7 lines: 4 events, 1 dropped, 2 rejected"))
    }

    @Test func mapReadsStandardInput() throws {
        let line = #"{"ts":1729439496514,"level":"info","event":"feature_used","user":{"id":42},"account":"a","props":{"feature_name":"x"}}"#
        let r = try Harness.run(["map", "--config", "\(config)/example.toml"], stdin: line + "\n")
        #expect(r.status == 0)
        #expect(r.stdout.contains(#""user_id":"42""#))
        #expect(r.stdout.contains(#""timestamp":"2024-10-20T15:51:36.514Z""#))
    }

    /// Bad configurations are reported at file:line:column with the key path, exit 78.
    @Test(arguments: [
        ("[[input]]\nname = \"a\"\npaths = [\"/tmp/x\"]\n\n[[rule]]\nname = \"r\"\nwhen = { field = \"level\", matches = \"x\" }\nevent_name = \"e\"\nuser_id = \"{u}\"\n",
         ":7:", "unknown operator \"matches\""),
        ("[[input]]\nname = \"a\"\npaths = [\"/tmp/x\"]\nstart_at = \"middle\"\n[[rule]]\nevent_name = \"e\"\nuser_id = \"{u}\"\n",
         ":4:12: input[0].start_at", "unknown value \"middle\""),
        ("[[input]]\nname = \"a\"\npaths = [\"/tmp/x\"]\npathz = 1\n[[rule]]\nevent_name = \"e\"\nuser_id = \"{u}\"\n",
         ":4:1: input[0].pathz", "unknown key"),
        ("[[input]]\nname = \"a\"\npaths = [\"/tmp/x\"]\n[[rule]]\nevent_name = \"e\"\nuser_id = \"{user.id|}\"\n",
         ":6:11: rule[0].user_id", "placeholder"),
        ("[[input]]\nname = \"a\"\npaths = [\"/tmp/x\"]\n[[rule]]\nevent_name = \"e\"\nuser_id = \"{u}\"\n[output]\ntype = \"http\"\ntoken = \"s3cr3t-value\"\n",
         ":9:9: output.token", "never written in the configuration"),
        ("a = 1\na = 2\n", ":2:1:", "duplicate key"),
    ])
    func badConfigurationsSayWhere(text: String, position: String, message: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let file = dir.appendingPathComponent("tracktail.toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", file.path])
        #expect(r.status == 78)
        #expect(r.stderr.contains(file.path + position), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!r.stderr.contains("s3cr3t-value"), "a secret written by mistake is not echoed")
    }
}

/// What one event must look like (docs/track-api.md), checked by the fake Track API's own rules.
enum Contract {
    struct Violation: Error, CustomStringConvertible { var description: String }

    static func check(_ e: [String: Any]) throws {
        let problems = FakeTrackAPI.eventProblems(e)
        if !problems.isEmpty { throw Violation(description: "\(problems.joined(separator: "; ")): \(e)") }
    }
}
