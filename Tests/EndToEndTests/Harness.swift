import Foundation
import Testing
/// Re-exported so that every end-to-end test file sees `FakeTrackAPI` (it lives in the `TrackAPIFake` support target,
/// shared with HTTPTests).
@_exported import TrackAPIFake

/// Helpers for end-to-end tests: the real `tracktail` binary, real files, real signals, and the
/// loopback fake Track API (`FakeTrackAPI`, in `Tests/TrackAPIFake`).
enum Harness {
    /// The package root, found from this file's path.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// The `tracktail` executable that `swift test` built next to the test bundle.
    static let binary: String = {
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("tracktail").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tracktail").path,
            packageRoot.appendingPathComponent(".build/debug/tracktail").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    /// A fresh temporary directory, removed by the caller with `cleanup`.
    static func temporaryDirectory(_ name: String = #function) -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tracktail-e2e-\(safe)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func cleanup(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass. Returns whether it held.
    @discardableResult
    static func waitUntil(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary (or `executable`, e.g. `setpriv` in front of it) to completion with
    /// `arguments`, optional stdin, and extra environment.
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], timeout: Double = 120,
                    executable: String = binary) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "JOURNAL_STREAM")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so a full pipe never blocks the child.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            group.wait()
        }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A running daemon; stderr goes to a log file in its directory.
    final class Daemon {
        let process = Process()
        let logURL: URL

        init(_ arguments: [String], directory: URL, environment: [String: String] = [:], stdout: URL? = nil) throws {
            logURL = directory.appendingPathComponent("tracktail-\(UUID().uuidString.prefix(6)).log")
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NOTIFY_SOCKET")
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardError = try FileHandle(forWritingTo: logURL)
            if let stdout {
                _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
                process.standardOutput = try FileHandle(forWritingTo: stdout)
            } else {
                process.standardOutput = FileHandle.nullDevice
            }
            try process.run()
        }

        var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
        var isRunning: Bool { process.isRunning }

        func signal(_ s: Int32) { kill(process.processIdentifier, s) }

        /// SIGTERM and wait for exit; returns the exit status.
        @discardableResult
        func stop(timeout: Double = 60) -> Int32 {
            if process.isRunning { signal(SIGTERM) }
            Harness.waitUntil(seconds: timeout) { !process.isRunning }
            if process.isRunning { signal(SIGKILL); process.waitUntilExit() }
            return process.terminationStatus
        }

        func kill9() {
            signal(SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The fake Track API with the vocabulary of the Python benchmark sink the tests once used: `extra` takes its
    /// options, `int("unique")` / `stats()` its counter names. Kept so that tests written that way keep working; new
    /// tests use `FakeTrackAPI` directly (`api.uniqueCount`, `api.setPoison`, `api.failAll`, …).
    ///
    /// | option | effect |
    /// | --- | --- |
    /// | `--poison-path P` | a batch holding an event whose dotted path `P` is truthy is answered 400 |
    /// | `--fail-rate F` / `--status-429-rate F` | that share of requests is answered 503 / 429 (`Retry-After: --retry-after`) |
    /// | `--outage S` | 503 with `Retry-After` for `S` seconds from now |
    /// | `--latency-ms MS` | every answer waits `MS` |
    /// | `--max-events N` / `--max-bytes N` | the fake's own limits (400 / 413 above them) |
    /// | `--auth-header H` | the token is expected as header `H`'s whole value instead of `Authorization: Bearer` |
    /// | `--seed N` | seed of the fault RNG |
    ///
    /// Counters: `requests`, `events` (accepted, duplicates included), `unique`, `dupes`, `no_seq` (events without
    /// `properties.seq`), `unauthorized` (401s), `accepted` (2xx requests), `rejected_503`, `rejected_429`,
    /// `rejected_400`, `over_limit` (413s).
    final class Sink {
        let api: FakeTrackAPI
        let directory: URL
        var port: Int { api.port }
        var url: String { api.url }

        init(directory: URL, token: String = "test-token", extra: [String] = []) throws {
            self.directory = directory
            var options: [String: String] = [:]
            var i = 0
            while i < extra.count {
                guard i + 1 < extra.count, extra[i].hasPrefix("--") else {
                    throw FakeTrackAPI.FakeError.message("Harness.Sink: expected an option and its value at \(extra[i...])")
                }
                options[extra[i]] = extra[i + 1]
                i += 2
            }
            let known: Set = ["--poison-path", "--fail-rate", "--status-429-rate", "--outage", "--retry-after", "--latency-ms",
                              "--max-events", "--max-bytes", "--auth-header", "--seed"]
            if let unknown = options.keys.first(where: { !known.contains($0) }) {
                throw FakeTrackAPI.FakeError.message("Harness.Sink: \(unknown) is not supported; use FakeTrackAPI directly")
            }
            func number(_ key: String) throws -> Double? {
                guard let text = options[key] else { return nil }
                guard let value = Double(text) else { throw FakeTrackAPI.FakeError.message("Harness.Sink: \(key) \(text) is not a number") }
                return value
            }
            let auth: FakeTrackAPI.Auth = options["--auth-header"].map { .apiKey(header: $0, token: token) } ?? .bearer(token)
            api = try FakeTrackAPI(auth: auth, keepsRequests: false, keepsBodies: false, keepsEvents: false, fastChecks: true,
                                   seed: UInt64(try number("--seed") ?? 0x5EED))
            let retryAfter = String(Int(try number("--retry-after") ?? 1))
            if let path = options["--poison-path"] {
                api.setPoison { event in
                    switch event[path] {
                    case nil, is NSNull: false
                    case let flag as NSNumber: flag.doubleValue != 0
                    case let text as String: !text.isEmpty
                    default: true
                    }
                }
            }
            if let rate = try number("--fail-rate") { api.setFailureRate(rate, response: .status(503)) }
            if let rate = try number("--status-429-rate") { api.setFailureRate(rate, response: .status(429, retryAfter: retryAfter)) }
            if let seconds = try number("--outage") { api.failAll(.status(503, retryAfter: retryAfter), seconds: seconds) }
            if let milliseconds = try number("--latency-ms") { api.setLatency(milliseconds / 1000) }
            if options["--max-events"] != nil || options["--max-bytes"] != nil {
                api.setLimits(bodyBytes: Int(try number("--max-bytes") ?? 2_000_000), events: Int(try number("--max-events") ?? 1_000))
            }
        }

        /// The counters by the Python sink's names.
        func stats() -> [String: Any] {
            let statuses = api.statusCounts
            return [
                "requests": api.requestCount, "events": api.acceptedCount, "unique": api.uniqueCount,
                "dupes": api.duplicateCount, "no_seq": api.noSeqCount, "unauthorized": statuses[401, default: 0],
                "accepted": statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +),
                "rejected_503": statuses[503, default: 0], "rejected_429": statuses[429, default: 0],
                "rejected_400": statuses[400, default: 0], "over_limit": statuses[413, default: 0],
            ]
        }

        func int(_ key: String) -> Int { (stats()[key] as? Int) ?? 0 }

        func stop() { api.stop() }
    }

    /// Writes `count` NDJSON lines shaped like the benchmark's, with `props.seq` from `start`.
    static func lines(_ range: Range<Int>, extra: (Int) -> String = { _ in "" }) -> String {
        var s = ""
        s.reserveCapacity(range.count * 200)
        for i in range {
            s += #"{"ts":"2024-10-20T15:51:36.516Z","level":"info","event":"feature_used","user":{"id":"u_\#(i)","email":"u\#(i)@example.com"},"account":"acct_\#(i % 97)","props":{"feature_name":"export","seq":\#(i)\#(extra(i))},"device":"desktop","msg":"line \#(i)"}"#
            s += "\n"
        }
        return s
    }

    static func append(_ text: String, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        try h.write(contentsOf: text.data(using: .utf8)!)
        try h.close()
    }

    /// A minimal configuration that prints the events of `log` with the `stdout` output.
    static func stdoutConfig(state: URL, log: URL) -> String {
        """
        [state]
        directory = "\(state.path)"
        [[input]]
        name = "app"
        paths = ["\(log.path)"]
        [[rule]]
        event_name = "{event}"
        user_id = "{user.id}"
        timestamp = "{ts}"
        [output]
        type = "stdout"
        """
    }

    /// Writes `httpConfig` to `dir/t.toml`, with its state in `dir/state`, and returns the file.
    static func writeHTTPConfig(in dir: URL, inputs: [String], url: String, output: String = "", rule: String = "",
                                top: String = "") throws -> URL {
        let config = dir.appendingPathComponent("t.toml")
        try httpConfig(state: dir.appendingPathComponent("state"), inputs: inputs, url: url, output: output, rule: rule, top: top)
            .write(to: config, atomically: true, encoding: .utf8)
        return config
    }

    /// A configuration that ships `inputGlob` to the sink with the given extra `[output]` lines.
    static func httpConfig(state: URL, inputs: [String], url: String, output: String = "", rule: String = "", top: String = "") -> String {
        """
        \(top)
        [state]
        directory = "\(state.path)"

        [[input]]
        name = "app"
        type = "file"
        paths = [\(inputs.map { "\"\($0)\"" }.joined(separator: ", "))]

        [[rule]]
        name = "events"
        event_name = "{event}"
        user_id = "{user.id}"
        timestamp = "{ts}"
        properties_from = "props"
        context = { group_id = "{account}" }
        \(rule)

        [output]
        type = "http"
        url = "\(url)"
        token_env = "TRACKTAIL_TEST_TOKEN"
        linger = "100ms"
        retry_initial = "50ms"
        retry_max = "500ms"
        \(output)
        """
    }
}
