import Foundation
import Posix
import Runtime
import Ship
import Synchronization
import Testing

/// The metrics endpoint: the Prometheus text writer, the listen-address rules and the routing
/// as tables; the server on a loopback port; and the real daemon scraped while it ships and
/// while the fake API answers 401.
@Suite struct PrometheusTextTests {
    @Test(arguments: [
        ("plain", true, "plain"),
        ("a\"b", true, "a\\\"b"),
        ("a\\b", true, "a\\\\b"),
        ("line\nbreak", true, "line\\nbreak"),
        ("a\"b", false, "a\"b"),
        ("a\\b\nc", false, "a\\\\b\\nc"),
        ("/var/log/ünï cödé.log", true, "/var/log/ünï cödé.log"),
    ])
    func escaping(input: String, quote: Bool, expected: String) {
        #expect(PrometheusText.escape(input, quote: quote) == expected)
    }

    @Test(arguments: [
        (0.0, "0"), (42.0, "42"), (0.25, "0.25"), (0.005, "0.005"), (1e-05, "1e-05"), (-3.0, "-3"),
        (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"), (1795550465.318, "1795550465.318"),
    ])
    func numbers(value: Double, expected: String) {
        #expect(PrometheusText.format(value) == expected)
    }

    @Test func familiesSamplesAndLabels() {
        var p = PrometheusText()
        p.counter("t_total", help: "Things\\done\nhere.", 7)
        p.family("t_lag", .gauge, help: "Lag.")
        p.sample("t_lag", labels: ["path": "/a\"b", "input": "app"], 12)
        p.gauge("t_ratio", help: "R.", 0.5)
        #expect(p.text == """
            # HELP t_total Things\\\\done\\nhere.
            # TYPE t_total counter
            t_total 7
            # HELP t_lag Lag.
            # TYPE t_lag gauge
            t_lag{path="/a\\"b",input="app"} 12
            # HELP t_ratio R.
            # TYPE t_ratio gauge
            t_ratio 0.5

            """)
    }

    @Test func histogramBucketsAreCumulative() {
        var p = PrometheusText()
        p.histogram("d_seconds", help: "D.", buckets: [(0.1, 2), (1, 0), (10, 3)], sum: 12.5, count: 6)
        #expect(p.text == """
            # HELP d_seconds D.
            # TYPE d_seconds histogram
            d_seconds_bucket{le="0.1"} 2
            d_seconds_bucket{le="1"} 2
            d_seconds_bucket{le="10"} 5
            d_seconds_bucket{le="+Inf"} 6
            d_seconds_sum 12.5
            d_seconds_count 6

            """)
    }

    @Test func latencyHistogramPlacesDurationsOnBucketBounds() {
        let h = LatencyHistogram()
        // 5 ms is ≤ the first bound; 5 ms + 1 ns is in the second; 31 s is above every bound.
        for ns: Int64 in [0, 5_000_000, 5_000_001, 30_000_000_000, 31_000_000_000, -7] { h.record(nanoseconds: ns) }
        let s = h.snapshot
        #expect(s.counts.count == LatencyHistogram.bounds.count + 1)
        #expect(s.counts[0] == 3)
        #expect(s.counts[1] == 1)
        #expect(s.counts[LatencyHistogram.bounds.count - 1] == 1)
        #expect(s.counts[LatencyHistogram.bounds.count] == 1)
        #expect(s.count == 6)
        #expect(s.sumNanoseconds == 61_010_000_001)
    }
}

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1", 9464, true),
        ("[::1]:9464", "::1", 9464, true),
        ("localhost:1", "localhost", 1, true),
        ("0.0.0.0:9464", "0.0.0.0", 9464, false),
        ("192.168.1.20:65535", "192.168.1.20", 65535, false),
        ("[::]:9464", "::", 9464, false),
    ])
    func accepted(text: String, host: String, port: Int, loopback: Bool) throws {
        let a = try ListenAddress.parse(text).get()
        #expect(a == ListenAddress(host: host, port: port))
        #expect(a.isLoopback == loopback)
        #expect(a.description == text)
    }

    @Test(arguments: [
        ("127.0.0.1", "no port"),
        (":9464", "no host"),
        ("::1:9464", "needs brackets"),
        ("[::1]9464", "no port after"),
        ("[::1:9464", "unclosed"),
        ("[zz]:9464", "not an IPv6 address"),
        ("example.com:9464", "not an IP address or localhost"),
        ("256.0.0.1:9464", "not an IP address"),
        ("127.0.0.1:0", "1 to 65535"),
        ("127.0.0.1:65536", "1 to 65535"),
        ("127.0.0.1:http", "1 to 65535"),
        ("127.0.0.1:", "1 to 65535"),
    ])
    func rejected(text: String, reason: String) {
        switch ListenAddress.parse(text) {
        case .success(let a): Issue.record("\(text) parsed as \(a)")
        case .failure(let e): #expect(e.message.contains(reason), "\(e.message)")
        }
    }
}

@Suite struct MetricsServerTests {
    static let healthy = MetricsServer.Content(metrics: { "m 1\n" }, health: { nil })
    static let degraded = MetricsServer.Content(metrics: { "m 1\n" }, health: { "HTTP 401 from the Track API" })

    @Test(arguments: [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, "m 1\n"),
        ("GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200, "m 1\n"),
        ("GET /health HTTP/1.1\r\n\r\n", 200, "ok\n"),
        ("GET /nope HTTP/1.1\r\n\r\n", 404, nil),
        ("GET / HTTP/1.1\r\n\r\n", 404, nil),
        ("POST /metrics HTTP/1.1\r\n\r\n", 405, nil),
        ("GET /metrics\r\n\r\n", 400, nil),
        ("GET metrics HTTP/1.1\r\n\r\n", 400, nil),
        ("GET /metrics SPDY/3\r\n\r\n", 400, nil),
        ("\r\n\r\n", 400, nil),
    ] as [(String, Int, String?)])
    func routing(head: String, status: Int, body: String?) {
        let r = MetricsServer.respond(to: Array(head.utf8), Self.healthy)
        #expect(r.status == status)
        if let body { #expect(r.body == body) }
    }

    @Test func degradedHealthIs503WithTheReasonAndHeadHasNoBody() {
        let r = MetricsServer.respond(to: Array("GET /health HTTP/1.1\r\n\r\n".utf8), Self.degraded)
        #expect(r.status == 503)
        #expect(r.body == "degraded: HTTP 401 from the Track API\n")
        var head = MetricsServer.respond(to: Array("HEAD /health HTTP/1.1\r\n\r\n".utf8), Self.degraded)
        #expect(head.status == 503 && head.headOnly)
        let wire = String(decoding: head.serialized, as: UTF8.self)
        #expect(wire.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(wire.contains("Content-Length: \(head.body.utf8.count)\r\n"))
        #expect(wire.contains("Connection: close\r\n"))
        #expect(wire.hasSuffix("\r\n\r\n"))
        head.headOnly = false
        #expect(String(decoding: head.serialized, as: UTF8.self).hasSuffix("\r\n\r\ndegraded: HTTP 401 from the Track API\n"))
    }

    @Test func servesOnLoopbackDropsSilentClientsAndStops() throws {
        let state = Mutex<String?>(nil)
        let server = try MetricsServer(listeningOn: try ListenAddress(host: "127.0.0.1", port: 0).resolve(), ioTimeout: 300_000_000)
        server.start(MetricsServer.Content(metrics: { "tracktail_up 1\n" }, health: { state.withLock { $0 } }))
        let port = server.address.port
        #expect(port > 0)

        // A client that connects and says nothing must not keep others waiting for long.
        let silent = try MetricsHTTP.connect(port: port)
        defer { silent.close() }

        let m = try #require(MetricsHTTP.get(port: port, "/metrics"))
        #expect(m.status == 200)
        #expect(m.head.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(m.body == "tracktail_up 1\n")
        #expect(MetricsHTTP.get(port: port, "/health")?.body == "ok\n")
        state.withLock { $0 = "dead letter not writable" }
        let h = try #require(MetricsHTTP.get(port: port, "/health"))
        #expect(h.status == 503 && h.body == "degraded: dead letter not writable\n")
        #expect(MetricsHTTP.get(port: port, "/other")?.status == 404)
        let big = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 10_000) + "\r\n\r\n"
        #expect(MetricsHTTP.request(port: port, big)?.status == 431)

        server.stop()
        server.stop()
        #expect(throws: Errno.self) { _ = try MetricsHTTP.connect(port: port) }
    }

    @Test func aPortInUseIsAnErrorAtBind() throws {
        let first = try MetricsServer(listeningOn: try ListenAddress(host: "127.0.0.1", port: 0).resolve())
        defer { first.stop() }
        let again = try ListenAddress(host: "127.0.0.1", port: first.address.port).resolve()
        #expect { _ = try MetricsServer(listeningOn: again) } throws: { ($0 as? Errno)?.code == Errno.addressInUse }
    }
}

/// A minimal blocking HTTP/1.1 client for the tests, with a deadline on every wait.
enum MetricsHTTP {
    struct Answer {
        var status: Int
        var head: String
        var body: String
    }

    static func connect(port: Int) throws -> Socket {
        let address = try ListenAddress(host: "127.0.0.1", port: port).resolve()
        let s = try Socket.stream(family: address.family, nonBlocking: false)
        do {
            _ = try s.beginConnect(to: address)
        } catch {
            s.close()
            throw error
        }
        return s
    }

    static func get(port: Int, _ path: String) -> Answer? {
        request(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    }

    /// Sends `raw`, reads until the server closes (or 10 s pass), and splits the answer.
    static func request(port: Int, _ raw: String) -> Answer? {
        guard let s = try? connect(port: port) else { return nil }
        defer { s.close() }
        let bytes = Array(raw.utf8)
        guard (try? bytes.withUnsafeBytes { try s.sendAll($0) }) != nil else { return nil }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let ready = try? Poll.wait(s.descriptor, for: .readable, timeoutMilliseconds: 200) else { break }
            if ready.isEmpty { continue }
            // try? flattens "would block" (nil) and errors together; a blocking socket that poll
            // called readable does not block, so nil here means the read failed.
            guard let n = try? chunk.withUnsafeMutableBytes({ try s.receive(into: $0) }), n > 0 else { break }
            received.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = String(text[..<split.lowerBound])
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        return Answer(status: status, head: head, body: String(text[split.upperBound...]))
    }

    /// The value of an unlabelled (or exactly labelled) sample line, e.g. `tracktail_events_shipped_total`.
    static func value(_ exposition: String, _ series: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// A port nobody listens on right now (bound to 0, read back, closed).
    static func freePort() throws -> Int {
        let s = try Socket.listen(on: try ListenAddress(host: "127.0.0.1", port: 0).resolve())
        defer { s.close() }
        return try s.localAddress().port
    }
}

/// The real daemon with `[metrics] listen`.
@Suite(.serialized) struct MetricsEndToEndTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    @Test func scrapeShowsShippedCountsAndHealthFollowsA401() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let port = try MetricsHTTP.freePort()
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<1_000), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try (Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: api.url, output: "hold_retry = \"200ms\"")
             + "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(api.waitForAccepted(1_000, timeout: 60), "\(api.summary)\n\(daemon.log)")

        // Counters are bumped after the API answers, so poll until the scrape catches up.
        var scrape = ""
        #expect(Harness.waitUntil(seconds: 30) {
            scrape = MetricsHTTP.get(port: port, "/metrics")?.body ?? ""
            return MetricsHTTP.value(scrape, "tracktail_events_shipped_total") == 1_000
                && MetricsHTTP.value(scrape, "tracktail_lag_bytes{path=\"\(log.path)\"}") == 0
        }, "\(scrape)\n\(daemon.log)")
        #expect(MetricsHTTP.value(scrape, "tracktail_lines_read_total") == 1_000)
        #expect(MetricsHTTP.value(scrape, "tracktail_events_mapped_total") == 1_000)
        #expect(MetricsHTTP.value(scrape, "tracktail_dead_lettered_total") == 0)
        #expect(MetricsHTTP.value(scrape, "tracktail_up") == 1)
        let requests = try #require(MetricsHTTP.value(scrape, "tracktail_requests_total"))
        #expect(requests >= 1)
        #expect(MetricsHTTP.value(scrape, "tracktail_request_duration_seconds_count") == requests)
        #expect(MetricsHTTP.value(scrape, "tracktail_request_duration_seconds_bucket{le=\"+Inf\"}") == requests)
        #expect(MetricsHTTP.value(scrape, "tracktail_retries_total{cause=\"4xx\"}") == 0)
        #expect(scrape.contains("# TYPE tracktail_request_duration_seconds histogram\n"))
        #expect(MetricsHTTP.get(port: port, "/health").map { "\($0.status) \($0.body)" } == "200 ok\n")

        // 401: the output holds, /health says so with the reason, nothing is lost.
        api.setUnauthorized(true)
        try Harness.append(Harness.lines(1_000..<1_100), to: log)
        var health: MetricsHTTP.Answer?
        #expect(Harness.waitUntil(seconds: 30) {
            health = MetricsHTTP.get(port: port, "/health")
            return health?.status == 503
        }, "\(String(describing: health))\n\(daemon.log)")
        #expect(health?.body.hasPrefix("degraded: HTTP 401 from the Track API: check the token") == true, "\(String(describing: health))")
        scrape = MetricsHTTP.get(port: port, "/metrics")?.body ?? ""
        #expect(MetricsHTTP.value(scrape, "tracktail_healthy") == 0)
        #expect((MetricsHTTP.value(scrape, "tracktail_holds_total") ?? 0) >= 1)
        #expect((MetricsHTTP.value(scrape, "tracktail_buffer_bytes") ?? 0) > 0, "held lines stay in the budget")

        api.setUnauthorized(false)
        #expect(api.waitForAccepted(1_100, timeout: 60), "\(api.summary)\n\(daemon.log)")
        #expect(Harness.waitUntil(seconds: 30) { MetricsHTTP.get(port: port, "/health")?.status == 200 }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<1_100).isEmpty)
        #expect(daemon.log.contains("metrics endpoint listening"))
        #expect(MetricsHTTP.get(port: port, "/health") == nil, "the endpoint ends with the daemon")
    }

    @Test func aPortInUseIsAClearStartupError() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let holder = try Socket.listen(on: try ListenAddress(host: "127.0.0.1", port: 0).resolve())
        defer { holder.close() }
        let port = try holder.localAddress().port
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<10), to: log)
        let config = dir.appendingPathComponent("t.toml")
        try (Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [log.path], url: "http://127.0.0.1:9/api/track")
             + "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let r = try Harness.run(["run", "--config", config.path], environment: env, timeout: 30)
        #expect(r.status == 69, "\(r.stderr)")
        #expect(r.stderr.contains("[metrics] listen = \"127.0.0.1:\(port)\": the address is already in use"), "\(r.stderr)")
    }

    @Test(arguments: [
        ("listen = \"example.com:9464\"", "16:10: metrics.listen: \"example.com\" is not an IP address or localhost"),
        ("listen = \"::1:9464\"", "16:10: metrics.listen: an IPv6 address needs brackets"),
        ("listen = \"127.0.0.1:99999\"", "16:10: metrics.listen: port \"99999\" is not a number from 1 to 65535"),
        ("listen = 9464", "16:10: metrics.listen"),
        ("port = 9464", "16:1: metrics.port"),
    ])
    func badListenValuesAreConfigurationErrorsThatSayWhere(line: String, expected: String) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let config = dir.appendingPathComponent("t.toml")
        try """
            [state]
            directory = "\(dir.appendingPathComponent("state").path)"

            [[input]]
            name = "app"
            paths = ["\(dir.appendingPathComponent("app.log").path)"]

            [[rule]]
            name = "all"
            event_name = "{event}"
            user_id = "{user.id}"

            [output]
            type = "stdout"
            [metrics]
            \(line)
            """.write(to: config, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", config.path], timeout: 30)
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderr.contains("\(config.path):\(expected)"), "\(r.stderr)")
    }

    @Test func checkPrintsTheMetricsTableAndWarnsOffLoopback() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let config = dir.appendingPathComponent("t.toml")
        try (Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [dir.appendingPathComponent("app.log").path], url: "http://127.0.0.1:9/api/track")
             + "\n[metrics]\nlisten = \"0.0.0.0:9464\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let r = try Harness.run(["check", "--config", config.path], environment: env, timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\n[metrics]\nlisten = \"0.0.0.0:9464\"\n"))
        #expect(r.stderr.contains("warning: [metrics] listen = \"0.0.0.0:9464\" is not a loopback address"))

        // The printed configuration checks again to the same result.
        let again = dir.appendingPathComponent("resolved.toml")
        try r.stdout.write(to: again, atomically: true, encoding: .utf8)
        let r2 = try Harness.run(["check", "--config", again.path], environment: env, timeout: 30)
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(r2.stdout.split(separator: "\n").dropFirst() == r.stdout.split(separator: "\n").dropFirst())

        // Loopback: no warning; absent: no [metrics] table.
        try (Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [dir.appendingPathComponent("app.log").path], url: "http://127.0.0.1:9/api/track")
             + "\n[metrics]\nlisten = \"[::1]:9464\"\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let r3 = try Harness.run(["check", "--config", config.path], environment: env, timeout: 30)
        #expect(r3.stdout.contains("\n[metrics]\nlisten = \"[::1]:9464\"\n"))
        #expect(!r3.stderr.contains("loopback"))
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [dir.appendingPathComponent("app.log").path], url: "http://127.0.0.1:9/api/track")
            .write(to: config, atomically: true, encoding: .utf8)
        let r4 = try Harness.run(["check", "--config", config.path], environment: env, timeout: 30)
        #expect(r4.status == 0 && !r4.stdout.contains("[metrics]"))
    }
}
