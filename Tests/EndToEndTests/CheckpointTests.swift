import Foundation
import Testing

/// Duplicates after a stop (issue 11, items 3 and 4): the checkpoint keeps the ranges delivered
/// past a batch that is still failing, and is written promptly after the first
/// acknowledgements, so that a restart re-sends only what was in flight.
@Suite(.serialized) struct CheckpointTests {
    let env = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    /// A switch the fake's predicate reads from its connection threads.
    final class Switch: @unchecked Sendable {
        private let lock = NSLock()
        private var on: Bool
        init(_ on: Bool) { self.on = on }
        var value: Bool {
            get { lock.lock(); defer { lock.unlock() }; return on }
            set { lock.lock(); on = newValue; lock.unlock() }
        }
    }

    /// The `done` ranges of the checkpoint's first entry, and its offset.
    static func checkpoint(_ state: URL) -> (offset: Int, done: [[Int]])? {
        guard let data = try? Data(contentsOf: state.appendingPathComponent("checkpoints.json")),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let entry = (root["entries"] as? [[String: Any]])?.first, let offset = entry["offset"] as? Int else { return nil }
        return (offset, entry["done"] as? [[Int]] ?? [])
    }

    /// 20,000 lines; the batch holding line 100 is answered 503 until the stop, everything else
    /// is delivered. After SIGTERM (the drain gives up on that batch) or kill -9, the restart
    /// sends that batch, not the 19,500 delivered lines after it (before this fix: all of them).
    @Test(arguments: [SIGTERM, SIGKILL])
    func restartAfterAnOutageResendsOnlyWhatWasInFlight(signal: Int32) throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, keepsEvents: false)
        defer { api.stop() }
        let failing = Switch(true)
        api.setPoison(status: 503) { event in failing.value && event.int("properties.seq") == 100 }
        let total = 20_000
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<total), to: log)
        let state = dir.appendingPathComponent("state")
        let config = dir.appendingPathComponent("t.toml")
        try Harness.httpConfig(state: state, inputs: [log.path], url: api.url, output: "drain_timeout = \"1s\"")
            .write(to: config, atomically: true, encoding: .utf8)
        let size = try FileManager.default.attributesOfItem(atPath: log.path)[.size] as! Int

        let first = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        // Everything but the failing batch delivered, and checkpointed as done past the gap.
        #expect(Harness.waitUntil(seconds: 90) {
            guard let c = Self.checkpoint(state) else { return false }
            return c.done.last?.last == size
        }, "\(api.summary)\n\(first.log)")
        let delivered = api.uniqueCount
        #expect(delivered >= total - 1_000 && delivered < total, "\(api.summary)")
        #expect(api.missingSeqs(100..<101) == [100])
        if signal == SIGKILL { first.kill9() } else { #expect(first.stop() == 0) }

        failing.value = false
        let second = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 90) { api.uniqueCount == total }, "\(api.summary)\n\(second.log)")
        #expect(Harness.waitUntil(seconds: 30) { Self.checkpoint(state).map { $0.offset == size && $0.done.isEmpty } ?? false })
        #expect(second.stop() == 0)
        let duplicates = api.duplicateCount
        print("outage then signal \(signal): \(delivered) delivered before the stop, \(duplicates) duplicates after the restart")
        #expect(api.missingSeqs(0..<total).isEmpty)
        #expect(duplicates <= 1_000, "at most the batches in flight (max_in_flight 2 × 500 events), not \(duplicates)")
        #expect(api.noSeqCount == 0)
    }

    /// 15 kill -9 / restart cycles, each 0–500 ms after the cycle's first delivery, while lines are appended:
    /// nothing is lost, and because the first checkpoint is written as soon as the first lines
    /// are acknowledged (not a second later, after the kill), each restart goes on from there
    /// instead of re-sending everything since the first start (before: several times the total).
    @Test func crashLoopDuplicatesStayBelowTheTotal() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, keepsEvents: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        let perCycle = 300, cycles = 15, total = perCycle * (cycles + 1)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        var rng = SystemRandomNumberGenerator()
        for cycle in 0..<cycles {
            try Harness.append(Harness.lines(cycle * perCycle..<(cycle + 1) * perCycle), to: log)
            let before = api.acceptedCount
            let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
            // 0–500 ms after this cycle's first delivery (not after the start: on a loaded machine
            // the start alone can take longer than that).
            Harness.waitUntil(seconds: 30) { api.acceptedCount > before }
            Thread.sleep(forTimeInterval: Double.random(in: 0.0...0.5, using: &rng))
            daemon.kill9()
        }
        try Harness.append(Harness.lines(cycles * perCycle..<total), to: log)
        let last = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: env)
        #expect(Harness.waitUntil(seconds: 180) { api.uniqueCount >= total }, "\(api.summary)\n\(last.log)")
        #expect(last.stop() == 0)
        let duplicates = api.duplicateCount
        print("crash loop: \(cycles) kill -9 cycles, \(total) lines, \(duplicates) duplicates (\(api.acceptedCount) accepted)")
        #expect(api.missingSeqs(0..<total).isEmpty, "nothing lost")
        #expect(api.noSeqCount == 0)
        #expect(duplicates < total, "\(duplicates) duplicates for \(total) lines")
    }
}
