import Posix
import Runtime
import Synchronization
import Testing
@testable import Ship

/// A dead letter that cannot be written (full disk) is retried with backoff on a sender or the
/// batcher thread; the wait beats, so the watchdog sees a thread waiting, not a wedged one.
@Suite struct DeadLetterHeartbeatTests {
    @Test func retryBackoffBeats() {
        let registry = Heartbeats()
        let heartbeat = registry.register("ship-send-1", maxSilence: 60_000_000_000)
        defer { heartbeat.retire() }
        // Every write fails at once; the first backoff alone (10 s) is longer than a beat interval.
        let dl = DeadLetter(directory: temporaryDirectory() + "/dead-letter", retryInitial: 10_000_000_000, fault: { _ in 0 })
        let finished = Atomic<Bool>(false)
        let t = Posix.Thread(name: "dl-retry") {
            _ = try? dl.writeRetrying([DeadLetterFaultTests.record(1)], beating: heartbeat)
            finished.store(true, ordering: .relaxed)
        }
        var deadlines: Set<Int64> = [heartbeat.deadline]
        let until = SystemClock.monotonicNanoseconds() + 30_000_000_000
        while deadlines.count < 4 && SystemClock.monotonicNanoseconds() < until {
            deadlines.insert(heartbeat.deadline)
            SystemClock.sleep(nanoseconds: 20_000_000)
        }
        #expect(deadlines.count >= 4, "beats while waiting out the backoff")
        #expect(dl.problem != nil)
        let stillRetrying = !finished.load(ordering: .relaxed)
        #expect(stillRetrying)
        dl.interrupt()
        t.join()
        let ended = finished.load(ordering: .relaxed)
        #expect(ended)
    }
}
