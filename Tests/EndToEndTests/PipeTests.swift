import Foundation
import Testing

/// The named pipe tracktail owns, through the real binary: created with its mode, concurrent
/// writers, kill -9 with spooled lines, the spool cap with the API down, a wrong path refused.
@Suite(.serialized) struct PipeTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    func config(_ dir: URL, fifo: URL, api: FakeTrackAPI, pipe: String = "", top: String = "", output: String = "", extra: String = "") -> URL {
        var text = Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [], url: api.url, output: output, top: top)
        text = text.replacingOccurrences(of: "type = \"file\"\npaths = []", with: "type = \"pipe\"\npath = \"\(fifo.path)\"\n\(pipe)")
        let url = dir.appendingPathComponent("t.toml")
        try! (text + extra).write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Writes `range` to the FIFO in whole lines (each write ≤ PIPE_BUF, so never interleaved).
    static func write(_ fifo: URL, _ range: Range<Int>) {
        let fd = open(fifo.path, O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var chunk = [UInt8]()
        func flush() {
            var done = 0
            while done < chunk.count {
                let n = chunk[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                done += n
            }
            chunk.removeAll(keepingCapacity: true)
        }
        for line in Harness.lines(range).split(separator: "\n") {
            if chunk.count + line.utf8.count + 1 > 4096 { flush() }
            chunk += Array(line.utf8) + [0x0A]
        }
        flush()
    }

    /// Writers on their own threads; returns a group to wait on.
    static func writers(_ fifo: URL, count: Int, each: Int) -> DispatchGroup {
        let group = DispatchGroup()
        for w in 0..<count {
            group.enter()
            Thread.detachNewThread {
                write(fifo, (w * each)..<((w + 1) * each))
                group.leave()
            }
        }
        return group
    }

    @Test func createsTheFIFOWithItsModeAndTakesFourConcurrentWriters() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let fifo = dir.appendingPathComponent("app.pipe")
        let cfg = config(dir, fifo: fifo, api: api, pipe: "mode = \"0640\"")
        let daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 30) { daemon.log.contains("pipe opened") }, "\(daemon.log)")
        var st = stat()
        #expect(stat(fifo.path, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFIFO)
        #expect(st.st_mode & 0o777 == 0o640)
        let group = Self.writers(fifo, count: 4, each: 5_000)
        #expect(group.wait(timeout: .now() + 120) == .success)
        #expect(api.waitForAccepted(20_000, timeout: 120), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<20_000).isEmpty)
        #expect(api.duplicateSeqs().isEmpty)
        // Left in place for the next start (writers keep their path).
        #expect(stat(fifo.path, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO)
    }

    @Test(arguments: ["file", "directory"])
    func aPathThatIsNotAFIFOIsRefused(_ kind: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let path = dir.appendingPathComponent("app.pipe")
        if kind == "file" {
            try "not a pipe\n".write(to: path, atomically: true, encoding: .utf8)
        } else {
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: false)
        }
        let cfg = config(dir, fifo: path, api: api)
        let r = try Harness.run(["run", "--config", cfg.path], environment: env, timeout: 60)
        #expect(r.status != 0)
        #expect(r.stderr.contains(kind == "file" ? "is a regular file, not a FIFO" : "is a directory, not a FIFO"), "\(r.stderr)")
        #expect(r.stderr.contains(path.path))
        if kind == "file" { #expect(try String(contentsOf: path, encoding: .utf8) == "not a pipe\n", "left untouched") }
    }

    /// kill -9 while lines sit in the spool (the API is slow): after a restart every line arrives.
    @Test func killNineWithSpooledLines() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setLatency(0.2)
        let fifo = dir.appendingPathComponent("app.pipe")
        let cfg = config(dir, fifo: fifo, api: api, output: "batch_max_events = 100")
        var daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 30) { daemon.log.contains("pipe opened") }, "\(daemon.log)")
        #expect(Self.writers(fifo, count: 1, each: 5_000).wait(timeout: .now() + 60) == .success)
        #expect(api.waitForAccepted(100, timeout: 60), "\(api.summary)\n\(daemon.log)")
        // Everything written is in the spool (not in the kernel's pipe buffer, which a kill -9
        // loses: see the README).
        let spool = dir.appendingPathComponent("state/spool/app")
        let written = Harness.lines(0..<5_000).utf8.count
        #expect(Harness.waitUntil(seconds: 60) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []
            return names.reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: spool.appendingPathComponent($1).path))?[.size] as? Int) ?? 0) } == written
        })
        daemon.kill9()
        #expect(api.acceptedCount < 5_000, "lines were still spooled at the kill")
        api.setLatency(0)
        daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(api.wait(timeout: 60) { $0.missingSeqs(0..<5_000).isEmpty }, "\(api.missingSeqs(0..<5_000).prefix(20)) \(api.missingSeqs(0..<5_000).count) \(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(Set(api.acceptedSeqs()).isSubset(of: Set(0..<5_000)))
    }

    /// The API is down: the spool fills to its cap, the pipe is no longer read, writers block,
    /// `/health` says why and `/metrics` shows the spool. The API comes back: everything arrives.
    @Test func spoolCapBlocksWritersAndLosesNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.failAll(.status(503))
        let port = try MetricsHTTP.freePort()
        let fifo = dir.appendingPathComponent("app.pipe")
        let cfg = config(dir, fifo: fifo, api: api, top: "[limits]\nspool_max_bytes = \"1MiB\"\nbuffer_bytes = \"64KiB\"\n",
                         extra: "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
        let daemon = try Harness.Daemon(["run", "--config", cfg.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 30) { daemon.log.contains("pipe opened") }, "\(daemon.log)")
        let total = 4 * 5_000   // ~5 MB: far over the 1 MiB cap plus the kernel's pipe buffer
        let group = Self.writers(fifo, count: 4, each: 5_000)
        #expect(Harness.waitUntil(seconds: 60) { MetricsHTTP.get(port: port, "/health")?.body.contains("pipe spool full") == true },
                "\(MetricsHTTP.get(port: port, "/health")?.body ?? "")\n\(daemon.log)")
        #expect(group.wait(timeout: .now() + 1) == .timedOut, "the writers block")
        let scrape = MetricsHTTP.get(port: port, "/metrics")?.body ?? ""
        #expect(MetricsHTTP.value(scrape, "tracktail_pipe_spool_full{path=\"\(fifo.path)\"}") == 1, "\(scrape)")
        #expect((MetricsHTTP.value(scrape, "tracktail_pipe_spool_bytes{path=\"\(fifo.path)\"}") ?? 0) > 500_000, "\(scrape)")
        let status = try Harness.run(["status", "--config", cfg.path])
        #expect(status.stdout.contains("pipe \(fifo.path)"), "\(status.stdout)")
        api.stopFailingAll()
        #expect(group.wait(timeout: .now() + 120) == .success)
        #expect(api.wait(timeout: 120) { $0.missingSeqs(0..<total).isEmpty }, "\(api.summary)\n\(daemon.log)")
        #expect(Harness.waitUntil(seconds: 30) { MetricsHTTP.get(port: port, "/health")?.body == "ok\n" })
        #expect(daemon.stop() == 0)
    }
}

/// The journal and pipe input keys through `check`: what it prints is a valid configuration that
/// resolves to the same thing, and mistakes name file:line:column and the key.
struct InputConfigurationTests {
    static let rule = "[[rule]]\nevent_name = \"e\"\nuser_id = \"{u}\"\n"

    @Test func journalAndPipeRoundTrip() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let file = dir.appendingPathComponent("tracktail.toml")
        try """
            [[input]]
            name = "legacy"
            type = "journal"
            units = ["a.service", "b.service"]
            identifiers = ["legacy"]
            matches = { PRIORITY = ["5", "6"], _HOSTNAME = "web-1" }
            start_at = "beginning"
            directory = "journal"
            [[input]]
            name = "p"
            type = "pipe"
            path = "/run/tracktail/app.pipe"
            mode = "0660"
            group = "adm"

            """.appending(Self.rule).write(to: file, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", file.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("matches = { PRIORITY = [\"5\", \"6\"], _HOSTNAME = [\"web-1\"] }"), "\(r.stdout)")
        #expect(r.stdout.contains("directory = \"\(dir.path)/journal\""), "relative to the file")
        #expect(r.stdout.contains("mode = \"0660\"\ngroup = \"adm\""), "\(r.stdout)")
        let resolved = dir.appendingPathComponent("resolved.toml")
        try r.stdout.write(to: resolved, atomically: true, encoding: .utf8)
        let again = try Harness.run(["check", "--config", resolved.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.split(separator: "\n").dropFirst() == r.stdout.split(separator: "\n").dropFirst())
    }

    @Test(arguments: [
        ("[[input]]\nname = \"j\"\ntype = \"journal\"\nmatches = { PRIORITY = [] }\n", ":4:", "input[0].matches.PRIORITY", "at least one value"),
        ("[[input]]\nname = \"j\"\ntype = \"journal\"\nunit = [\"a\"]\n", ":4:1:", "input[0].unit", "did you mean \"units\""),
        ("[[input]]\nname = \"j\"\ntype = \"journal\"\nstart_at = \"now\"\n", ":4:", "input[0].start_at", "beginning"),
        ("[[input]]\nname = \"p\"\ntype = \"pipe\"\npath = \"/x\"\nmode = \"rw-r\"\n", ":5:", "input[0].mode", "octal"),
        ("[[input]]\nname = \"j\"\ntype = \"journald\"\n", ":3:", "input[0].type", "journal"),
    ])
    func mistakesSayWhere(text: String, position: String, key: String, message: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let file = dir.appendingPathComponent("tracktail.toml")
        try (text + Self.rule).write(to: file, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", file.path])
        #expect(r.status == 78)
        #expect(r.stderr.contains(file.path + position), "\(r.stderr)")
        #expect(r.stderr.contains(key), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
