import Foundation
import Testing

/// The daemon against the in-process fake Track API (`FakeTrackAPI`): transient failures,
/// Retry-After, dropped connections, TLS with a test CA, the API-key header, event ids.
@Suite(.serialized) struct FaultTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    private func start(_ api: FakeTrackAPI, lines: Range<Int>, dir: URL, output: String = "", top: String = "",
                       url: String? = nil) throws -> (Harness.Daemon, URL) {
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(lines), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: url ?? api.url, output: output, top: top)
        return (try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env), log)
    }

    @Test func transientFailuresRetryAfterAndDroppedConnectionsLoseNothing() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.enqueue(.status(503, retryAfter: "1"), .status(429, retryAfter: FakeTrackAPI.httpDate(secondsFromNow: 1)), .status(500), .status(502))
        api.enqueue(.dropConnection, times: 2)
        api.enqueue(.status(408), .status(504))
        let (daemon, _) = try start(api, lines: 0..<5_000, dir: dir, output: "batch_max_events = 1000")
        #expect(api.waitForAccepted(5_000, timeout: 90), "\(api.summary)\n\(daemon.log)")
        // A kept-alive connection closed by the server between requests is retried at once.
        api.closeIdleConnections()
        try Harness.append(Harness.lines(5_000..<6_000), to: dir.appendingPathComponent("app.log"))
        #expect(api.waitForAccepted(6_000, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<6_000).isEmpty)
        #expect(api.violations.isEmpty, "\(api.violations)")
        #expect(api.maxEventsPerRequest <= 1_000)
        #expect(api.maxBodyBytes <= 2_000_000)
        #expect(!daemon.log.contains("test-token"))
    }

    @Test func contractLimitsHoldForLargeEvents() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        // ~2.5 KB events: the byte limit, not the count, closes batches.
        let pad = String(repeating: "x", count: 2_500)
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<3_000) { _ in ",\"pad\":\"\(pad)\"" }, to: log)
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: api.url,
                               output: "batch_max_events = 1000\nbatch_max_bytes = 2000000")
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(3_000, timeout: 90), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.maxBodyBytes <= 2_000_000)
        #expect(api.maxBodyBytes > 1_000_000, "batches fill up to the byte limit")
        #expect(api.violations.isEmpty)
    }

    @Test func gzipCompressedRequests() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let (daemon, _) = try start(api, lines: 0..<3_000, dir: dir, output: "compression = \"gzip\"")
        #expect(api.waitForAccepted(3_000, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<3_000).isEmpty)
        #expect(api.violations.isEmpty, "\(api.violations)")
        #expect(api.requests.allSatisfy { $0.contentEncoding == "gzip" })
        #expect(api.requests.allSatisfy { $0.wireBytes < 200_000 }, "500 events of ~300 bytes shrink well below 150 kB")
    }

    @Test func apiKeyHeaderAndDeterministicEventIDs() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(auth: .apiKey(header: "x-api-key", token: "test-token"))
        defer { api.stop() }
        let (daemon, _) = try start(api, lines: 0..<500, dir: dir, output: "api_key_header = \"x-api-key\"",
                                    top: "[mapping]\nevent_id_key = \"event_id\"\n")
        #expect(api.waitForAccepted(500, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)
        let ids = api.acceptedEvents.compactMap { ($0.object["properties"] as? [String: Any])?["event_id"] as? String }
        #expect(ids.count == 500)
        #expect(Set(ids).count == 500, "one id per line")
        #expect(ids.allSatisfy { $0.count == 16 })
        #expect(api.requests.allSatisfy { $0.header("authorization") == nil }, "the key replaces the bearer token")


        // After kill -9, lines sent again (at-least-once) carry the same id as the first time.
        try Harness.append(Harness.lines(500..<20_000), to: dir.appendingPathComponent("app.log"))
        let config = dir.appendingPathComponent("t.toml").path
        for _ in 0..<3 {
            let d = try Harness.Daemon(["run", "--config", config], directory: dir, environment: env)
            let before = api.acceptedCount
            Harness.waitUntil(seconds: 30) { api.acceptedCount > before + 2_000 }
            d.kill9()
        }
        let last = try Harness.Daemon(["run", "--config", config], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 120) { api.missingSeqs(0..<20_000).isEmpty }, "\(api.summary)\n\(last.log)")
        #expect(last.stop() == 0)
        var idBySeq: [Int: String] = [:]
        var consistent = true
        for e in api.acceptedEvents {
            guard let p = e.object["properties"] as? [String: Any], let seq = p["seq"] as? Int, let id = p["event_id"] as? String else { continue }
            if let known = idBySeq[seq], known != id { consistent = false }
            idBySeq[seq] = id
        }
        #expect(consistent, "a line sent twice has one id")
        #expect(Set(idBySeq.values).count == 20_000, "distinct lines have distinct ids")
    }

    @Test func tlsWithCAFileShipsAndRefusesUntrustedOrWrongHost() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let tls = try FakeTrackAPI.makeTestCertificates(in: dir.appendingPathComponent("pki").path, hosts: ["127.0.0.1"])
        let api = try FakeTrackAPI(tls: tls)
        defer { api.stop() }

        // Trusted through ca_file: delivered.
        let good = dir.appendingPathComponent("good")
        try FileManager.default.createDirectory(at: good, withIntermediateDirectories: true)
        let (daemon, _) = try start(api, lines: 0..<300, dir: good, output: "ca_file = \"\(tls.caCertificate)\"")
        #expect(api.waitForAccepted(300, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0)

        // Not trusted (no ca_file): held, nothing sent, nothing dead-lettered, a clear error.
        api.resetRecords()
        let untrusted = dir.appendingPathComponent("untrusted")
        try FileManager.default.createDirectory(at: untrusted, withIntermediateDirectories: true)
        let (held, _) = try start(api, lines: 0..<50, dir: untrusted)
        #expect(Harness.waitUntil(seconds: 30) { held.log.contains("certificate") }, "\(held.log)")
        #expect(api.acceptedCount == 0)
        #expect(held.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: untrusted.appendingPathComponent("state/dead-letter/dead-letter.ndjson").path))

        // Trusted CA but a name the certificate does not hold: refused too.
        let wrong = dir.appendingPathComponent("wrong")
        try FileManager.default.createDirectory(at: wrong, withIntermediateDirectories: true)
        let url = api.url(host: "localhost")
        let (wrongHost, _) = try start(api, lines: 0..<50, dir: wrong, output: "ca_file = \"\(tls.caCertificate)\"", url: url)
        #expect(Harness.waitUntil(seconds: 30) { wrongHost.log.contains("mismatch") }, "\(wrongHost.log)")
        #expect(api.acceptedCount == 0)
        #expect(wrongHost.stop() == 0)
    }
}
