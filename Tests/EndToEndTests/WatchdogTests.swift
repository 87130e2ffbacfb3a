import Foundation
import Testing

/// A `$NOTIFY_SOCKET` the test owns: a bound datagram socket collecting what the daemon sends.
final class NotifySocket {
    let path: String
    private let fd: Int32
    private(set) var messages: [String] = []

    init(directory: URL) {
        path = directory.appendingPathComponent("notify.sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        precondition(fd >= 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0, "bind \(path)")
        var tv = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Takes what arrived so far.
    func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }

    /// Polls until `condition` holds over the messages received so far.
    @discardableResult
    func wait(seconds: Double = 60, _ condition: ([String]) -> Bool) -> Bool {
        Harness.waitUntil(seconds: seconds) {
            receive()
            return condition(messages)
        }
    }

    /// `WATCHDOG=1` messages after index `from`.
    func pets(after from: Int) -> Int { messages[min(from, messages.count)...].filter { $0 == "WATCHDOG=1" }.count }
    var statuses: [String] { messages.filter { $0.hasPrefix("STATUS=") } }
}

/// The systemd watchdog is petted from liveness, not from data progress (issue 11, item 1):
/// a daemon waiting through an outage or a hold is left alone; a wedged thread gets it restarted.
/// `WATCHDOG_USEC=2000000` makes the daemon pet every second, so each test sees many ticks.
@Suite(.serialized) struct WatchdogTests {
    static let env = ["TRACKTAIL_TEST_TOKEN": "test-token", "WATCHDOG_USEC": "2000000"]

    private func start(_ api: FakeTrackAPI, lines: Range<Int>, dir: URL, notify: NotifySocket, output: String,
                       extraEnv: [String: String] = [:]) throws -> (Harness.Daemon, URL) {
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(lines), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url, output: output)
        var env = Self.env.merging(extraEnv) { $1 }
        env["NOTIFY_SOCKET"] = notify.path
        return (try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env), log)
    }

    /// The API answers 503 with a long Retry-After: nothing is delivered, the senders wait out
    /// the Retry-After, the budget is spent, and still WATCHDOG=1 keeps arriving. (Before: no
    /// WATCHDOG=1 from READY until the API came back — systemd killed a healthy daemon.)
    @Test func outageKeepsPetting() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.failAll(.status(503, retryAfter: "30"))
        let notify = NotifySocket(directory: dir)
        let (daemon, _) = try start(api, lines: 0..<2_000, dir: dir, notify: notify,
                                    output: "batch_max_events = 100\nretry_after_max = \"60s\"")
        #expect(notify.wait { $0.contains("READY=1") }, "\(daemon.log)")
        #expect(api.wait(timeout: 60) { $0.requestCount >= 2 }, "\(api.summary)\n\(daemon.log)")
        let outageBegan = notify.messages.count
        // Six ticks' worth of pets while every request so far was refused.
        #expect(notify.wait { _ in notify.pets(after: outageBegan) >= 6 }, "\(notify.messages.suffix(20))\n\(daemon.log)")
        #expect(api.acceptedCount == 0, "the outage lasted through the pets")
        #expect(notify.statuses.last?.contains("retrying") == true, "\(notify.statuses.suffix(3))")
        #expect(daemon.stop() == 0)
    }

    /// A 401 hold: petting goes on during it; once the key works again (SIGHUP retries at once)
    /// STATUS= drops the hold. The cumulative hold counter no longer decides anything.
    @Test func holdThenRecoveryRefreshesStatus() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setUnauthorized(true)
        let notify = NotifySocket(directory: dir)
        let (daemon, _) = try start(api, lines: 0..<500, dir: dir, notify: notify, output: "hold_retry = \"1h\"")
        #expect(notify.wait { $0.contains { $0.hasPrefix("STATUS=") && $0.contains("holding") } }, "\(notify.statuses.suffix(3))\n\(daemon.log)")
        let held = notify.messages.count
        #expect(notify.wait { _ in notify.pets(after: held) >= 3 }, "held, but alive: \(notify.messages.suffix(10))")
        api.setUnauthorized(false)
        daemon.signal(SIGHUP)
        #expect(api.waitForAccepted(500, timeout: 60), "\(api.summary)\n\(daemon.log)")
        let recovered = notify.messages.count
        #expect(notify.wait { m in m[recovered...].contains { $0.hasPrefix("STATUS=") && !$0.contains("holding") } },
                "\(notify.statuses.suffix(3))")
        #expect(daemon.stop() == 0)
        #expect(api.missingSeqs(0..<500).isEmpty)
    }

    /// A sender stuck in a request that never gets an answer (the fake accepts and stalls; the
    /// request time-out is long) stops the petting once it is past its allowance — also after an
    /// earlier 401 hold (before, the cumulative hold counter kept petting through any wedge that
    /// followed one). The test caps
    /// every allowance at 3 s with `TRACKTAIL_TEST_MAX_SILENCE_MS` instead of waiting for a real
    /// request time-out; STATUS= names the thread and the log says why.
    @Test func wedgedSenderStopsPetting() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let notify = NotifySocket(directory: dir)
        let (daemon, log) = try start(api, lines: 0..<0, dir: dir, notify: notify,
                                      output: "request_timeout = \"600s\"\nmax_in_flight = 1\ndrain_timeout = \"1s\"\nhold_retry = \"1h\"",
                                      extraEnv: ["TRACKTAIL_TEST_MAX_SILENCE_MS": "3000"])
        // Idle and healthy first: pets arrive.
        #expect(notify.wait { m in m.contains("READY=1") && notify.pets(after: 0) >= 2 }, "\(notify.messages)\n\(daemon.log)")
        api.enqueue(.status(401, body: #"{"error":"invalid api key"}"#))
        api.enqueue(.stall, times: 10)
        try Harness.append(Harness.lines(0..<10), to: log)
        #expect(notify.wait { $0.contains { $0.hasPrefix("STATUS=") && $0.contains("holding") } }, "\(notify.statuses.suffix(3))\n\(daemon.log)")
        daemon.signal(SIGHUP)
        #expect(api.wait(timeout: 60) { $0.requestCount >= 2 }, "\(api.summary)\n\(daemon.log)")
        #expect(notify.wait { $0.contains { $0.hasPrefix("STATUS=") && $0.contains("not responding: ship-send-1") } },
                "\(notify.statuses.suffix(5))\n\(daemon.log)")
        let stale = notify.messages.lastIndex { $0.contains("not responding") }!
        // Three more ticks, and not one pet among them.
        #expect(notify.wait { m in m[(stale + 1)...].filter { $0.hasPrefix("STATUS=") }.count >= 3 }, "\(notify.messages.suffix(10))")
        #expect(notify.pets(after: stale) == 0, "\(notify.messages.suffix(10))")
        #expect(daemon.log.contains("worker thread not responding"), "\(daemon.log)")
        daemon.kill9()
    }
}
