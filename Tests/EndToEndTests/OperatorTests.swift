import Foundation
import Testing
@testable import tracktail

/// Operator experience (issue 10): configuration errors all at once, tokens with control
/// characters, inputs that read nothing, the dead letter and its replay, docs that match /metrics.
@Suite(.serialized) struct OperatorTests {
    /// `dir/t.toml`: the stdout configuration for `log` with `[metrics]` on a free loopback port.
    static func metricsConfig(_ dir: URL, state: URL, log: URL) throws -> (URL, Int) {
        let port = try MetricsHTTP.freePort()
        let config = dir.appendingPathComponent("t.toml")
        try (Harness.stdoutConfig(state: state, log: log) + "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        return (config, port)
    }

    /// Every problem of a file in one run, in file order, each `file:line:column: key: message`;
    /// an unknown key is reported even though the required `[[input]]` table is missing.
    @Test func allConfigurationErrorsInOneRun() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let config = dir.appendingPathComponent("t.toml")
        try """
        [limits]
        bufer_bytes = 10
        max_open_files = "x"

        [[rule]]
        event_name = "{e}"
        user_id = "{u}"
        when = { field = "level", equalz = "x" }

        [outptu]
        url = "x"
        """.write(to: config, atomically: true, encoding: .utf8)
        for command in ["check", "run"] {
            let r = try Harness.run([command, "--config", config.path])
            #expect(r.status == 78, "\(command): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").map(String.init)
            #expect(lines.first == "tracktail: 5 configuration errors:", "\(r.stderr)")
            let expected = [
                "\(config.path):1:1: input: no [[input]] table",
                "\(config.path):2:1: limits.bufer_bytes: unknown key (did you mean \"buffer_bytes\"?)",
                "\(config.path):3:18: limits.max_open_files: expected an integer, found a string",
                "\(config.path):8:27: rule[0].when: unknown operator \"equalz\"",
                "\(config.path):10:2: outptu: unknown key (did you mean \"output\"?)",
            ]
            #expect(lines.count == expected.count + 1, "\(r.stderr)")
            for (line, prefix) in zip(lines.dropFirst(), expected) {
                #expect(line.hasPrefix(prefix), "\(line) should start with \(prefix)")
            }
        }
    }

    /// More than the limit: the first 20 in file order, then how many more.
    @Test func manyErrorsAreCutAtTwenty() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let config = dir.appendingPathComponent("t.toml")
        var text = Harness.stdoutConfig(state: dir, log: dir.appendingPathComponent("a.log")) + "\n[limits]\n"
        for i in 0..<25 { text += "typo\(i) = 1\n" }
        try text.write(to: config, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", config.path])
        #expect(r.status == 78)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.first == "tracktail: 25 configuration errors:")
        #expect(lines.filter { $0.contains("limits.typo") }.count == 20)
        #expect(lines[1].contains("limits.typo0:"))
        #expect(lines.last == "… and 5 more (fix these first)")
    }

    /// A token with CR, LF or NUL inside is refused by `check` and `run` alike (78), naming the
    /// character; a trailing newline (CRLF too) is fine.
    @Test(arguments: [
        ("abc\rdef\n", "a carriage return (CR) at byte 4"),
        ("abc\ndef\n", "a line feed (LF) at byte 4"),
        ("ab\0cdef", "a NUL byte at byte 3"),
        ("abcdef\n", nil),
        ("abcdef\r\n", nil),
    ] as [(String, String?)])
    func tokenWithControlCharactersIsRefusedAtLoad(token: String, expected: String?) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let tokenFile = dir.appendingPathComponent("token")
        try Data(token.utf8).write(to: tokenFile)
        let config = dir.appendingPathComponent("t.toml")
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [dir.appendingPathComponent("none.log").path],
                                      url: "http://127.0.0.1:9/api/track")
        text = text.replacingOccurrences(of: "token_env = \"TRACKTAIL_TEST_TOKEN\"", with: "token_file = \"\(tokenFile.path)\"")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let check = try Harness.run(["check", "--config", config.path])
        guard let expected else {
            #expect(check.status == 0, "\(check.stderr)")
            return
        }
        #expect(check.status == 78)
        #expect(check.stderr.hasSuffix("\ntracktail: the token file \(tokenFile.path) holds \(expected) of the token: a token is one line of printable text (a trailing newline is fine); remove it\n"), "\(check.stderr)")
        let run = try Harness.run(["run", "--once", "--config", config.path])
        #expect(run.status == 78)
        #expect(run.stderr.contains("holds \(expected)"), "\(run.stderr)")
        // The same from an environment variable.
        let envConfig = dir.appendingPathComponent("env.toml")
        try text.replacingOccurrences(of: "token_file = \"\(tokenFile.path)\"", with: "token_env = \"TRACKTAIL_TEST_TOKEN\"")
            .write(to: envConfig, atomically: true, encoding: .utf8)
        if !token.contains("\0") {
            let env = try Harness.run(["check", "--config", envConfig.path], environment: ["TRACKTAIL_TEST_TOKEN": token])
            #expect(env.status == 78)
            #expect(env.stderr.contains("the token environment variable TRACKTAIL_TEST_TOKEN holds \(expected)"), "\(env.stderr)")
        }
    }

    /// A second instance on the same state directory and `[metrics]` port hears about the lock
    /// (75, the owner's pid), not about the port.
    @Test func aSecondInstanceHearsAboutTheLockBeforeThePort() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<3), to: log)
        let (config, port) = try Self.metricsConfig(dir, state: dir.appendingPathComponent("state"), log: log)
        let first = try Harness.Daemon(["run", "--config", config.path], directory: dir)
        defer { first.stop() }
        #expect(Harness.waitUntil { first.log.contains("metrics endpoint listening") }, "\(first.log)")
        let second = try Harness.run(["run", "--config", config.path])
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("is in use by another tracktail process (pid \(first.process.processIdentifier))"), "\(second.stderr)")
        #expect(!second.stderr.contains("[metrics]"), "\(second.stderr)")
    }

    /// `check` warns when the output URL does not post to /api/track (a base URL given alone).
    @Test(arguments: [("http://127.0.0.1:9", true), ("http://127.0.0.1:9/api", true), ("http://127.0.0.1:9/api/track", false),
                      ("http://127.0.0.1:9/api/track?x=1", false)])
    func checkWarnsWhenTheURLIsNotTheTrackPath(url: String, warns: Bool) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir, inputs: [dir.appendingPathComponent("a.log").path], url: url)
            .write(to: config, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", config.path], environment: ["TRACKTAIL_TEST_TOKEN": "t"])
        #expect(r.status == 0, "\(r.stderr)")
        let warning = "warning: output.url = \"\(url)\" posts to the path "
        #expect(r.stderr.contains(warning) == warns, "\(r.stderr)")
    }

    /// A flood of bad lines logs one line and then a summary per 10 s, not one warning each;
    /// every record names its rule; an API refusal that echoes the token is stored redacted.
    @Test func deadLetterFloodIsSummarisedAndRecordsNameTheirRuleAndHoldNoToken() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        // One good line the API refuses, echoing the Authorization header, then 507 binary-ish lines.
        api.enqueue(.status(400, body: #"{"error":"rejected","request":{"headers":{"Authorization":"Bearer test-token"}}}"#))
        try Harness.append(Harness.lines(0..<1), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: ["TRACKTAIL_TEST_TOKEN": "test-token"])
        defer { daemon.stop() }
        let deadLetter = dir.appendingPathComponent("state/dead-letter/dead-letter.ndjson")
        func records() -> [[String: Any]] {
            ((try? String(contentsOf: deadLetter, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        #expect(Harness.waitUntil { records().count == 1 }, "\(daemon.log)")
        var binary = ""
        for i in 0..<507 { binary += "\u{1}\u{7f}ELF\u{2}garbage \(i)\n" }
        try Harness.append(binary, to: log)
        #expect(Harness.waitUntil { records().count == 508 }, "\(daemon.log)")
        let refused = try #require(records().first)
        #expect(refused["rule"] as? String == "events")
        #expect(refused["status"] as? Int == 400)
        let response = try #require(refused["response"] as? String)
        #expect(response == #"{"error":"rejected","request":{"headers":{"Authorization":"Bearer [REDACTED]"}}}"#)
        #expect(!(try String(contentsOf: deadLetter, encoding: .utf8)).contains("test-token"))
        let bad = records()[1]
        #expect(bad["rule"] is NSNull, "no rule took a line that is not JSON")
        #expect((bad["reason"] as? String)?.hasPrefix("invalid JSON") == true)

        // The refusal opened the source's window, so all 507 are in the summary (506 if the
        // machine was so slow that the window closed before the flood: then one is logged alone).
        let summary = " lines dead-lettered from \(log.path) in the last 10 s: invalid JSON"
        #expect(Harness.waitUntil(seconds: 40) { daemon.log.contains("507" + summary) || daemon.log.contains("506" + summary) }, "\(daemon.log)")
        let singles = daemon.log.split(separator: "\n").filter { $0.contains(": dead-lettered ") }
        #expect((1...2).contains(singles.count), "\(daemon.log)")
        #expect(daemon.log.split(separator: "\n").filter { $0.contains("lines dead-lettered from") }.count == 1)
    }

    /// A missing directory and a glob that matches nothing: warned at start naming the input,
    /// the pattern and the reason; `/health` degraded; `check` and `status` say it; `--once` exits 66.
    @Test func inputsThatReadNothingAreLoud() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try Harness.append(Harness.lines(0..<2), to: logs.appendingPathComponent("a.log"))
        let port = try MetricsHTTP.freePort()
        let config = dir.appendingPathComponent("t.toml")
        try """
        [state]
        directory = "\(dir.path)/state"
        [[input]]
        name = "good"
        paths = ["\(logs.path)/*.log"]
        [[input]]
        name = "missing"
        paths = ["\(dir.path)/nodir/*.log"]
        [[input]]
        name = "nomatch"
        paths = ["\(logs.path)/*.json"]
        [[rule]]
        event_name = "{event}"
        user_id = "{user.id}"
        timestamp = "{ts}"
        [output]
        type = "stdout"
        [metrics]
        listen = "127.0.0.1:\(port)"
        """.write(to: config, atomically: true, encoding: .utf8)

        let check = try Harness.run(["check", "--config", config.path])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stderr.contains("input good: \(logs.path)/*.log: matches 1 file, all readable by user "), "\(check.stderr)")
        #expect(check.stderr.contains("input missing: \(dir.path)/nodir/*.log: matches no file now: no such directory \(dir.path)/nodir\n"), "\(check.stderr)")
        #expect(check.stderr.contains("input nomatch: \(logs.path)/*.json: matches no file now\n"), "\(check.stderr)")
        #expect(check.stderr.contains("warning: input missing has nothing readable now"), "\(check.stderr)")

        let once = try Harness.run(["run", "--once", "--config", config.path])
        #expect(once.status == 66, "\(once.stderr)")
        #expect(once.stdout.split(separator: "\n").count == 2, "the readable input is still shipped")
        #expect(once.stderr.contains("warning: input: input reads nothing input=missing reason=\"\(dir.path)/nodir/*.log: no such directory \(dir.path)/nodir\""), "\(once.stderr)")
        #expect(once.stderr.contains("input=nomatch reason=\"\(logs.path)/*.json: no file matches\""), "\(once.stderr)")

        // Under systemd, a path in /tmp may be hidden by PrivateTmp=.
        if dir.path.hasPrefix("/tmp/") {
            let sandboxed = try Harness.run(["run", "--once", "--config", config.path], environment: ["INVOCATION_ID": "0123"])
            #expect(sandboxed.stderr.contains("tracktail runs under systemd: with PrivateTmp= in its unit it sees its own empty /tmp"), "\(sandboxed.stderr)")
        }

        let status = try Harness.run(["status", "--config", config.path])
        #expect(status.stdout.contains("input missing has nothing readable: \(dir.path)/nodir/*.log: no such directory \(dir.path)/nodir\n"), "\(status.stdout)")
        #expect(status.stdout.contains("input nomatch has nothing readable: \(logs.path)/*.json: no file matches\n"), "\(status.stdout)")
        let json = try Harness.run(["status", "--json", "--config", config.path])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let empty = object?["inputs_with_nothing_readable"] as? [[String: Any]]
        #expect(empty?.map { $0["input"] as? String } == ["missing", "nomatch"], "\(json.stdout)")
        #expect(object?["unreadable_files"] as? [Any] != nil)
        #expect(object?["dead_letter_not_replayed"] as? Int == 0)

        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir)
        defer { daemon.stop() }
        #expect(Harness.waitUntil { daemon.log.contains("metrics endpoint listening") }, "\(daemon.log)")
        let health = MetricsHTTP.get(port: port, "/health")
        #expect(health?.status == 503)
        #expect(health?.body.hasPrefix("degraded: input missing has nothing readable: \(dir.path)/nodir/*.log: no such directory") == true, "\(String(describing: health))")
        let scrape = MetricsHTTP.get(port: port, "/metrics")?.body ?? ""
        #expect(MetricsHTTP.value(scrape, "tracktail_inputs_unreadable") == 2, "\(scrape)")
    }

    /// A file the daemon's user may not read, as another user (root runs the test; skipped otherwise).
    @Test func anUnreadableFileIsNamedWithTheUser() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            print("skipped anUnreadableFileIsNamedWithTheUser: needs root and setpriv to run as nobody")
            return
        }
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        let log = dir.appendingPathComponent("secret.log")
        try Harness.append(Harness.lines(0..<2), to: log)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: log.path)
        let state = dir.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        #expect(chown(state.path, 65534, 65534) == 0)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: state, log: log).write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config.path)
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", Harness.binary]
        let check = try Harness.run(asNobody + ["check", "--config", config.path], executable: "/usr/bin/setpriv")
        #expect(check.stderr.contains("input app: \(log.path): matches 1 file, 1 not readable by user nobody: \(log.path)"), "\(check.stderr)")
        let once = try Harness.run(asNobody + ["run", "--once", "--config", config.path], executable: "/usr/bin/setpriv")
        #expect(once.status == 66, "\(once.stderr)")
        #expect(once.stderr.contains("reason=\"\(log.path): permission denied for user nobody (\(log.path))\""), "\(once.stderr)")
        let status = try Harness.run(asNobody + ["status", "--config", config.path], executable: "/usr/bin/setpriv")
        #expect(status.stdout.contains("cannot read \(log.path) (input app): permission denied for user nobody"), "\(status.stdout)")
    }

    typealias Observation = (at: Int64, reason: String?, expected: [InputWarningSchedule.Action])

    /// When the daemon warns about an input that reads nothing: at once, then every 5 minutes,
    /// at once again when the reason changes, and once when it recovers.
    @Test func inputWarningSchedule() {
        let m: Int64 = 60_000_000_000
        let steps: [Observation] = [
            (0, nil, []),
            (1 * m, "no such directory", [.warn(input: "a", reason: "no such directory", again: false)]),
            (2 * m, "no such directory", []),
            (5 * m, "no such directory", []),
            (6 * m, "no such directory", [.warn(input: "a", reason: "no such directory", again: true)]),
            (7 * m, "no file matches", [.warn(input: "a", reason: "no file matches", again: false)]),
            (8 * m, nil, [.recovered(input: "a")]),
            (9 * m, nil, []),
            (10 * m, "no file matches", [.warn(input: "a", reason: "no file matches", again: false)]),
        ]
        var schedule = InputWarningSchedule(repeatInterval: 5 * m)
        for step in steps {
            #expect(schedule.observe([(input: "a", reason: step.reason)], now: step.at) == step.expected, "at \(step.at / m) min")
        }
    }

    @Test(arguments: [
        (nil, 100, false, ReplayMark.Decision.all),
        (ReplayMark(identity: .init(device: 1, inode: 9), bytes: 100, records: 3, time: 0), 100, false, .all),   // another file
        (ReplayMark(identity: .init(device: 1, inode: 2), bytes: 100, records: 3, time: 0), 100, false, .refuse),
        (ReplayMark(identity: .init(device: 1, inode: 2), bytes: 100, records: 3, time: 0), 100, true, .all),
        (ReplayMark(identity: .init(device: 1, inode: 2), bytes: 100, records: 3, time: 0), 160, false, .after(100)),
        (ReplayMark(identity: .init(device: 1, inode: 2), bytes: 100, records: 3, time: 0), 160, true, .all),
    ] as [(ReplayMark?, Int64, Bool, ReplayMark.Decision)])
    func replayDecision(mark: ReplayMark?, size: Int64, force: Bool, expected: ReplayMark.Decision) {
        #expect(ReplayMark.decide(mark, identity: .init(device: 1, inode: 2), size: size, force: force) == expected)
    }

    /// A replayed file is marked: a second replay refuses unless --force, records added since
    /// are replayed alone, `status` counts what was not replayed, `--dry-run` says what would happen.
    @Test func replayTwiceRefusesUnlessForced() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let state = dir.appendingPathComponent("state")
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: state, log: dir.appendingPathComponent("a.log")).write(to: config, atomically: true, encoding: .utf8)
        let dlDir = state.appendingPathComponent("dead-letter")
        try FileManager.default.createDirectory(at: dlDir, withIntermediateDirectories: true)
        let file = dlDir.appendingPathComponent("dead-letter.ndjson")
        func record(_ i: Int) -> String {
            let line = #"{"event":"e\#(i)","user":{"id":"u"},"ts":"2026-01-01T00:00:00Z"}"#
            let escaped = line.replacingOccurrences(of: "\"", with: "\\\"")
            return #"{"time":"2026-01-01T00:00:00.000Z","reason":"no rule matched","rule":null,"source":"/a.log","start":\#(i * 10),"end":\#(i * 10 + 10),"line":"\#(escaped)"}"# + "\n"
        }
        let refused = #"{"time":"2026-01-01T00:00:00.000Z","reason":"HTTP 400","rule":"r","status":400,"source":"/a.log","start":500,"end":510,"event":{"event_name":"x","user_id":"u","timestamp":"2026-01-01T00:00:00.000Z","properties":{}}}"# + "\n"
        try (record(0) + record(1) + refused).write(to: file, atomically: false, encoding: .utf8)

        let dry = try Harness.run(["replay", "--dry-run", "--config", config.path, file.path])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run, nothing sent: 3 records in \(file.path)\n  2 lines would be re-mapped with the current rules: 2 to events, 0 dropped, 0 rejected again\n  1 event the API refused would be re-sent as it was\n  3 events would be sent in all\n"), "\(dry.stdout)")
        #expect(try Harness.run(["status", "--config", config.path]).stdout.contains("dead-letter records: 3 (3 not yet replayed)"))

        let first = try Harness.run(["replay", "--config", config.path, file.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.split(separator: "\n").count == 3)
        #expect(first.stderr.contains("marked \(file.path) as replayed"), "\(first.stderr)")
        #expect(try Harness.run(["status", "--config", config.path]).stdout.contains("dead-letter records: 3 (0 not yet replayed)"))

        let second = try Harness.run(["replay", "--config", config.path, file.path])
        #expect(second.status == 1)
        #expect(second.stdout.isEmpty)
        #expect(second.stderr.contains("tracktail: \(file.path) was replayed already (3 records on "), "\(second.stderr)")
        #expect(second.stderr.contains("use --force if that is what you want"), "\(second.stderr)")

        // Records appended since (the daemon keeps writing): only those are replayed.
        let h = try FileHandle(forWritingTo: file)
        try h.seekToEnd()
        try h.write(contentsOf: Data(record(2).utf8))
        try h.close()
        #expect(try Harness.run(["status", "--config", config.path]).stdout.contains("dead-letter records: 4 (1 not yet replayed)"))
        let third = try Harness.run(["replay", "--config", config.path, file.path])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.split(separator: "\n").count == 1)
        #expect(third.stdout.contains("\"event_name\":\"e2\""))
        #expect(third.stderr.contains("skipping the first 3 records of \(file.path): replayed already"), "\(third.stderr)")

        let forced = try Harness.run(["replay", "--force", "--config", config.path, file.path])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.split(separator: "\n").count == 4)
    }

    /// docs/alerts.yml and docs/grafana-dashboard.json name only metrics the daemon serves, and
    /// the rules pass `promtool check rules` (where promtool is installed; .ci/run installs it).
    @Test func monitoringDocsNameServedMetrics() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<3), to: log)
        let (config, port) = try Self.metricsConfig(dir, state: dir.appendingPathComponent("state"), log: log)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir)
        defer { daemon.stop() }
        var scrape = ""
        #expect(Harness.waitUntil {
            scrape = MetricsHTTP.get(port: port, "/metrics")?.body ?? ""
            return !scrape.isEmpty
        }, "\(daemon.log)")
        var served: Set<String> = []
        for line in scrape.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            let name = String(parts[2])
            served.insert(name)
            if parts[3] == "histogram" { for s in ["_bucket", "_sum", "_count"] { served.insert(name + s) } }
        }
        #expect(served.contains("tracktail_last_success_timestamp_seconds"))
        #expect(served.contains("tracktail_inputs_unreadable"))

        let docs = Harness.packageRoot.appendingPathComponent("docs")
        let regex = try NSRegularExpression(pattern: "tracktail_[a-z_]+")
        for file in ["alerts.yml", "grafana-dashboard.json"] {
            let text = try String(contentsOf: docs.appendingPathComponent(file), encoding: .utf8)
            let names = Set(regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) })
            #expect(names.count >= 8, "\(file) names \(names)")
            for name in names.sorted() { #expect(served.contains(name), "\(file) names \(name), which /metrics does not serve") }
        }
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: docs.appendingPathComponent("grafana-dashboard.json"))) as? [String: Any]
        #expect((dashboard?["panels"] as? [Any])?.count ?? 0 >= 5)

        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let promtool else {
            print("skipped promtool check rules docs/alerts.yml: promtool is not installed (Debian package prometheus)")
            return
        }
        let check = try Harness.run(["check", "rules", docs.appendingPathComponent("alerts.yml").path], executable: promtool)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS"), "\(check.stdout)")
    }

    /// The state directory on a full disk (a 256 KiB tmpfs; needs root, skipped otherwise):
    /// /health says why, the dead letter holds only whole records, and once there is room again
    /// every record is written, once.
    @Test func aFullDiskHoldsTheDeadLetterUntilThereIsRoom() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let mountPoint = dir.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mount = try Harness.run(["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint.path], executable: "/bin/mount")
        guard mount.status == 0 else {
            print("skipped aFullDiskHoldsTheDeadLetterUntilThereIsRoom: cannot mount a tmpfs here: \(mount.stderr)")
            return
        }
        defer { _ = try? Harness.run([mountPoint.path], executable: "/bin/umount") }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<1), to: log)
        let state = mountPoint.appendingPathComponent("state")
        let (config, port) = try Self.metricsConfig(dir, state: state, log: log)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir)
        defer { daemon.stop() }
        #expect(Harness.waitUntil { MetricsHTTP.get(port: port, "/health")?.status == 200 }, "\(daemon.log)")
        // Fill the disk, then write bad lines.
        let filler = mountPoint.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let h = try FileHandle(forWritingTo: filler)
        while (try? h.write(contentsOf: Data(count: 4096))) != nil {}
        try? h.close()
        try Harness.append((0..<50).map { "not json \($0)\n" }.joined(), to: log)
        var health: MetricsHTTP.Answer?
        #expect(Harness.waitUntil {
            health = MetricsHTTP.get(port: port, "/health")
            return health?.body.contains("dead letter not writable: write \(state.path)/dead-letter/dead-letter.ndjson: No space left on device; retrying in") == true
        }, "\(String(describing: health))\n\(daemon.log)")
        let deadLetter = state.appendingPathComponent("dead-letter/dead-letter.ndjson")
        let partial = (try? String(contentsOf: deadLetter, encoding: .utf8)) ?? ""
        #expect(partial.isEmpty || partial.hasSuffix("\n"), "only whole records")

        try FileManager.default.removeItem(at: filler)
        #expect(Harness.waitUntil {
            ((try? String(contentsOf: deadLetter, encoding: .utf8)) ?? "").split(separator: "\n").count == 50
        }, "\(daemon.log)")
        #expect(Harness.waitUntil { MetricsHTTP.get(port: port, "/health")?.status == 200 }, "\(daemon.log)")
        #expect(daemon.log.contains("dead letter writable again"))
        #expect(daemon.stop() == 0)
        // Each bad line is in the dead letter once, retries included.
        let status = try Harness.run(["status", "--config", config.path])
        #expect(status.stdout.contains("dead-letter records: 50 (50 not yet replayed)"), "\(status.stdout)")
    }

    /// A crash after dead-letter records were written but before the checkpoint caught up: the
    /// restart reads those lines again and does not write their records twice.
    @Test func recordsAlreadyInTheDeadLetterAreNotWrittenTwiceAfterARestart() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let log = dir.appendingPathComponent("app.log")
        let lines = ["not json 0", "not json 1", "not json 2"]
        try Harness.append(lines.map { $0 + "\n" }.joined(), to: log)
        let state = dir.appendingPathComponent("state")
        let dl = state.appendingPathComponent("dead-letter")
        try FileManager.default.createDirectory(at: dl, withIntermediateDirectories: true)
        // What the crashed run wrote: the first two lines' records (no checkpoint yet).
        var text = ""
        for i in 0..<2 {
            text += #"{"time":"2026-01-01T00:00:00.000Z","reason":"invalid JSON","rule":null,"source":"\#(log.path)","start":\#(i * 11),"end":\#(i * 11 + 11),"line":"\#(lines[i])"}"# + "\n"
        }
        try text.write(to: dl.appendingPathComponent("dead-letter.ndjson"), atomically: false, encoding: .utf8)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: state, log: log).write(to: config, atomically: true, encoding: .utf8)
        let once = try Harness.run(["run", "--once", "--config", config.path])
        #expect(once.status == 0, "\(once.stderr)")
        let records = try String(contentsOf: dl.appendingPathComponent("dead-letter.ndjson"), encoding: .utf8).split(separator: "\n")
        #expect(records.count == 3, "\(records)")
        #expect(records.last?.contains("\"line\":\"not json 2\"") == true)
    }

    /// `run --once` over a binary file: one line, then the summary at exit (not one per line).
    @Test func onceSaysTheSummaryBeforeItExits() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let log = dir.appendingPathComponent("core.log")
        try Harness.append((0..<300).map { "\u{7f}ELF\u{1} \($0)\n" }.joined(), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.stdoutConfig(state: dir.appendingPathComponent("state"), log: log).write(to: config, atomically: true, encoding: .utf8)
        let once = try Harness.run(["run", "--once", "--config", config.path])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stderr.split(separator: "\n").filter { $0.contains(": dead-lettered ") }.count == 1, "\(once.stderr)")
        #expect(once.stderr.contains("299 lines dead-lettered from \(log.path) in the last "), "\(once.stderr)")
        #expect(once.stderr.contains(" s: invalid JSON lines=299"), "\(once.stderr)")
    }

    /// The reason an input reads nothing, as the warning, /health, `check` and `status` say it.
    @Test(arguments: [
        (InputProbe.Pattern(pattern: "/var/log/a/*.log", problem: .noDirectory("/var/log/a")), false,
         "/var/log/a/*.log: no such directory /var/log/a"),
        (InputProbe.Pattern(pattern: "/var/log/*.json", problem: .noMatch), false, "/var/log/*.json: no file matches"),
        (InputProbe.Pattern(pattern: "/srv/x/*.log", problem: .directoryDenied("/srv/x")), false,
         "/srv/x/*.log: permission denied for user svc on the directory /srv/x"),
        (InputProbe.Pattern(pattern: "/srv/*.log", files: ["/srv/a.log", "/srv/b.log"], unreadable: ["/srv/a.log", "/srv/b.log"]), false,
         "/srv/*.log: permission denied for user svc (/srv/a.log, /srv/b.log)"),
        (InputProbe.Pattern(pattern: "/tmp/app/*.log", problem: .noMatch), true,
         "/tmp/app/*.log: no file matches (tracktail runs under systemd: with PrivateTmp= in its unit it sees its own empty /tmp, not the application's)"),
        (InputProbe.Pattern(pattern: "/home/app/logs/*.log", problem: .noDirectory("/home/app/logs")), true,
         "/home/app/logs/*.log: no such directory /home/app/logs (tracktail runs under systemd: ProtectHome= in its unit hides /home, /root and /run/user)"),
    ] as [(InputProbe.Pattern, Bool, String)])
    func inputReasons(pattern: InputProbe.Pattern, sandbox: Bool, expected: String) {
        #expect(InputProbe(input: "app", patterns: [pattern]).reason(user: "svc", sandbox: sandbox) == expected)
        // One readable file anywhere: the input reads something, no reason.
        let readable = InputProbe.Pattern(pattern: "/ok/*.log", files: ["/ok/a.log"])
        #expect(InputProbe(input: "app", patterns: [pattern, readable]).reason(user: "svc", sandbox: sandbox) == nil)
    }

    /// The running daemon's probe stops at the first readable file (`readsSomething`); it must
    /// agree with the whole probe (`check`, `status`) on whether an input reads something.
    @Test(arguments: [
        // (files to create, directories to create, patterns, excludes, reads something)
        ([], [], ["logs/*.log"], [], false),
        (["logs/a.txt"], [], ["logs/*.log"], [], false),
        ([], ["logs/d.log"], ["logs/*.log"], [], false),
        (["logs/a.log"], [], ["logs/*.log"], ["logs/a.log"], false),
        (["logs/a.log"], ["logs/d.log"], ["logs/*.log"], [], true),
        (["logs/a.log", "logs/b.log"], [], ["logs/*.log"], ["logs/a.log"], true),
        (["other/x.log"], [], ["logs/*.log", "other/*.log"], [], true),
        ([], [], ["missing/*.log"], [], false),
        (["logs/.hidden.log"], [], ["logs/*.log"], [], false),
        (["logs/.hidden.log"], [], ["logs/.*.log"], [], true),
        (["logs/a.log"], [], ["logs/a.log"], [], true),
        (["logs/a.log"], [], ["logs/b.log"], [], false),
        (["logs/x/a.log"], ["logs/x"], ["logs/*/a.log"], [], true),
        (["logs/x/a.txt"], ["logs/x"], ["logs/*/a.log"], [], false),
    ] as [([String], [String], [String], [String], Bool)])
    func shortProbeAgreesWithTheWholeProbe(files: [String], dirs: [String], patterns: [String], exclude: [String], expected: Bool) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        for d in ["logs", "other"] + dirs {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        for f in files { try Harness.append("{}\n", to: dir.appendingPathComponent(f)) }
        let input = Configuration.Input(name: "app", kind: .file, paths: patterns.map { dir.path + "/" + $0 }, exclude: exclude.map { dir.path + "/" + $0 })
        #expect(InputProbe.readsSomething(input) == expected)
        #expect(!InputProbe.probe(input).hasNothingReadable == expected)
    }
}
