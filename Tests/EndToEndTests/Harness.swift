import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Helpers for end-to-end tests: the real `tracktail` binary, real files, real signals, and the
/// loopback fake Track API `../shared/bench/sink.py`.
enum Harness {
    /// The package root, found from this file's path.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static let sharedDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let sinkScript = sharedDirectory.appendingPathComponent("bench/sink.py").path
    static let genScript = sharedDirectory.appendingPathComponent("bench/gen.py").path

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
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NOTIFY_SOCKET")
            for (k, v) in environment { env[k] = v }
            process.environment = env
            process.standardError = try FileHandle(forWritingTo: logURL)
            if let stdout {
                FileManager.default.createFile(atPath: stdout.path, contents: nil)
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

    /// The loopback fake Track API (`sink.py`) on an ephemeral port.
    final class Sink {
        let process = Process()
        let port: Int
        let directory: URL

        init(directory: URL, token: String = "test-token", extra: [String] = []) throws {
            self.directory = directory
            let ready = directory.appendingPathComponent("sink-port-\(UUID().uuidString.prefix(6))")
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", Harness.sinkScript, "--host", "127.0.0.1", "--port", "0", "--ready-file", ready.path,
                                 "--token", token, "--max-seconds", "600"] + extra
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var port = 0
            Harness.waitUntil(seconds: 20) {
                if let s = try? String(contentsOf: ready, encoding: .utf8), let p = Int(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    port = p
                    return true
                }
                return false
            }
            self.port = port
        }

        var url: String { "http://127.0.0.1:\(port)/api/track" }

        /// Live counters from `GET /stats`.
        func stats() -> [String: Any] {
            guard let url = URL(string: "http://127.0.0.1:\(port)/stats") else { return [:] }
            let box = StatsBox()
            let done = DispatchSemaphore(value: 0)
            URLSession.shared.dataTask(with: url) { data, _, _ in
                if let data, let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] { box.value = obj }
                done.signal()
            }.resume()
            _ = done.wait(timeout: .now() + 5)
            return box.value
        }

        func int(_ key: String) -> Int { (stats()[key] as? Int) ?? 0 }

        /// SIGKILL: a child of the test runner may inherit a blocked SIGTERM.
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    final class StatsBox: @unchecked Sendable { var value: [String: Any] = [:] }

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
            FileManager.default.createFile(atPath: url.path, contents: nil)
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
