import Foundation
import Testing

/// Crash loop and outage torture (issue 11, "Prove the rest"): while a writer appends lines
/// and rotates the file by rename, the daemon is killed with SIGKILL at random moments and
/// started again, and the fake API goes through an outage (503) and a 429 storm. Afterwards
/// every line arrived at least once, and duplicates stay within the bound below.
///
/// Time: `TRACKTAIL_TORTURE_SECONDS` (default 30) of chaos, then one last start that must
/// deliver everything. The random moments come from a seed printed in the failure message;
/// `TRACKTAIL_TORTURE_SEED` repeats a run's schedule.
///
/// The duplicate bound asserted is the README's at-least-once promise ("Delivery guarantees") for a crash: "only events
/// in flight or delivered since the last [checkpoint] write are sent again". Per kill:
///
///   lines the byte budget holds (in flight: read, not done; `buffer_bytes` = 64 KiB here)
/// + events the API accepted in the 2 s before the kill (the checkpoint is written every 1 s;
///   the other second is slack for the write itself on a loaded machine)
///
/// summed over the kills. Every life of the daemon lasts longer than the checkpoint interval, so
/// each instance checkpoints before it is killed: before issue 11 item 3 (a checkpoint promptly
/// after the first acknowledgements) a shorter life re-sends everything since the previous
/// instance's checkpoint, which no per-kill bound holds. A first run measured 15 kills, 25,650
/// lines, 8,106 duplicates: more than the budget alone (4,650), so the delivered-since-the-
/// last-write term is needed.
@Suite(.serialized) struct TortureTests {
    @Test func killNineWithRotationOutageAnd429Storm() throws {
        let env = ProcessInfo.processInfo.environment
        let seconds = env["TRACKTAIL_TORTURE_SECONDS"].flatMap(Double.init) ?? 30
        let seed = env["TRACKTAIL_TORTURE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var random = SeededRandom(seed: seed)

        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let budget = 65_536
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: dir.appendingPathComponent("state"), inputs: [logs.path + "/app.log*"], url: api.url,
                               output: "batch_max_events = 100\nretry_after_max = \"1s\"\ndrain_timeout = \"2s\"",
                               top: "[limits]\nbuffer_bytes = \(budget)")
            .write(to: config, atomically: true, encoding: .utf8)
        let daemonEnv = ["TRACKTAIL_TEST_TOKEN": "test-token"]

        let writer = Writer(directory: logs)
        let writerThread = Thread { writer.run() }
        writerThread.start()

        var restarts = 0
        var bound = 0
        let budgetLines = budget / Harness.lines(0..<1).utf8.count + 1
        var history: [(Date, Int)] = []
        var daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: daemonEnv)
        let start = Date()
        var phase = "normal"
        while Date().timeIntervalSince(start) < seconds {
            let t = Date().timeIntervalSince(start) / seconds
            let next = t < 0.25 ? "normal" : t < 0.45 ? "outage" : t < 0.6 ? "normal" : t < 0.8 ? "429 storm" : "normal"
            if next != phase {
                phase = next
                switch phase {
                case "outage": api.failAll(.status(503))
                case "429 storm": api.failAll(.status(429, retryAfter: "1"))
                default: api.stopFailingAll()
                }
            }
            // A random moment in each life, always longer than the checkpoint interval.
            let kill = Date().addingTimeInterval(1.2 + random.unit() * 1.8)
            while Date() < kill {
                history.append((Date(), api.acceptedCount))
                Thread.sleep(forTimeInterval: 0.1)
            }
            let windowStart = Date().addingTimeInterval(-2)
            let before = history.last { $0.0 <= windowStart }?.1 ?? 0
            daemon.kill9()
            bound += budgetLines + (api.acceptedCount - before)
            restarts += 1
            daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: daemonEnv)
        }
        writer.stop()
        #expect(Harness.waitUntil(seconds: 30) { writer.finished })
        api.stopFailingAll()
        let written = writer.written
        let context = "seed \(seed), \(restarts) restarts, \(written) lines, \(writer.rotations) rotations"

        #expect(api.wait(timeout: 180) { $0.missingSeqs(0..<written).isEmpty }, "\(context)\n\(api.summary)\n\(daemon.log)")
        #expect(daemon.stop() == 0, "\(daemon.log)")
        #expect(api.missingSeqs(0..<written).isEmpty, "nothing lost: \(context)")

        let seqs = api.acceptedSeqs()
        let duplicates = seqs.count - Set(seqs).count
        #expect(duplicates <= bound, "\(duplicates) duplicates > bound \(bound): \(context)")
        print("torture: \(context), \(duplicates) duplicates (bound \(bound)), \(api.requestCount) requests \(api.summary)")
    }
}

/// Appends numbered lines (~1,000/s in batches of 50) to `app.log`, renaming it to
/// `app.log.N` every 3,000 lines (rotation by rename; the rotated files stay in the glob).
final class Writer: @unchecked Sendable {
    private let lock = NSLock()
    private let directory: URL
    private var stopping = false
    private var done = false
    private var count = 0
    private var rotated = 0

    init(directory: URL) { self.directory = directory }

    var written: Int { lock.withLock { count } }
    var rotations: Int { lock.withLock { rotated } }
    var finished: Bool { lock.withLock { done } }
    func stop() { lock.withLock { stopping = true } }

    func run() {
        let live = directory.appendingPathComponent("app.log")
        while !lock.withLock({ stopping }) {
            let from = written
            guard (try? Harness.append(Harness.lines(from..<(from + 50)), to: live)) != nil else { continue }
            lock.withLock { count = from + 50 }
            if (from + 50) % 3_000 == 0 {
                let n = lock.withLock { () -> Int in rotated += 1; return rotated }
                try? FileManager.default.moveItem(at: live, to: directory.appendingPathComponent("app.log.\(n)"))
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        lock.withLock { done = true }
    }
}

/// A repeatable schedule for a given seed (Knuth's MMIX linear congruential generator; the
/// high bits are good enough to pick kill moments).
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    /// In [0, 1).
    mutating func unit() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / Double(1 << 53)
    }
}
