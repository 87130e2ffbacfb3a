import Posix
import Runtime
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let value = Atomic<Int64>(0)
    func set(_ t: Int64) { value.store(t, ordering: .relaxed) }
    var read: @Sendable () -> Int64 { { [self] in value.load(ordering: .relaxed) } }
}

struct HeartbeatsTests {
    typealias S = HeartbeatVerdict.Sample
    typealias L = HeartbeatVerdict.Late

    static let decisions: [(String, Int64, [S], HeartbeatVerdict)] = [
        ("nobody registered", 100, [], .pet),
        ("all before their deadline", 100, [S(name: "a", deadline: 150), S(name: "b", deadline: 101)], .pet),
        ("a deadline reached, not passed", 100, [S(name: "a", deadline: 100)], .pet),
        ("one past its deadline", 100, [S(name: "a", deadline: 150), S(name: "b", deadline: 99)], .stale([L(name: "b", overdue: 1)])),
        ("most overdue first", 100, [S(name: "a", deadline: 90), S(name: "b", deadline: 50), S(name: "c", deadline: 200)],
         .stale([L(name: "b", overdue: 50), L(name: "a", overdue: 10)])),
        ("ties by name", 100, [S(name: "z", deadline: 90), S(name: "m", deadline: 90)],
         .stale([L(name: "m", overdue: 10), L(name: "z", overdue: 10)])),
        ("a request's long allowance", 1_000, [S(name: "send", deadline: .max)], .pet),
    ]

    @Test(arguments: decisions)
    func decide(_ row: (String, Int64, [S], HeartbeatVerdict)) {
        #expect(HeartbeatVerdict.decide(now: row.1, row.2) == row.3, "\(row.0)")
    }

    /// The registry over time: beats, a long allowance, a cap, a retired thread.
    /// (time, action, verdict's late names afterwards)
    enum Step: Sendable { case register(String, Int64), beat(String), allow(String, Int64), retire(String), cap(Int64?), none }
    static let timeline: [(Int64, Step, [String])] = [
        (0, .register("reader", 10), []),
        (0, .register("sender", 10), []),
        (10, .none, []),
        (11, .none, ["reader", "sender"]),
        (11, .beat("reader"), ["sender"]),
        (11, .allow("sender", 100), []),
        (105, .none, ["reader"]),
        (105, .beat("reader"), []),
        (111, .none, []),
        (112, .none, ["sender"]),
        (112, .beat("sender"), []),
        (130, .retire("sender"), ["reader"]),
        (130, .beat("reader"), []),
        (130, .cap(5), []),
        (130, .allow("reader", 100), []),
        (136, .none, ["reader"]),
        (136, .cap(nil), ["reader"]),
        (136, .beat("reader"), []),
        (146, .retire("reader"), []),
    ]

    @Test func registryOverTime() {
        let clock = ManualClock()
        let registry = Heartbeats(clock: clock.read)
        var beats: [String: Heartbeat] = [:]
        for (i, (t, step, late)) in Self.timeline.enumerated() {
            clock.set(t)
            switch step {
            case .register(let n, let silence): beats[n] = registry.register(n, maxSilence: silence)
            case .beat(let n): beats[n]!.beat()
            case .allow(let n, let ns): beats[n]!.beat(allowing: ns)
            case .retire(let n): beats[n]!.retire()
            case .cap(let c): registry.limitSilence(to: c)
            case .none: break
            }
            let verdict = registry.check()
            switch verdict {
            case .pet: #expect(late.isEmpty, "step \(i) at \(t): expected \(late) late, got pet")
            case .stale(let l): #expect(l.map(\.name).sorted() == late, "step \(i) at \(t)")
            }
        }
        #expect(registry.names.isEmpty)
    }

    @Test func runRetiresWhenTheBodyEnds() {
        let registry = Heartbeats(clock: { 0 })
        let inside = registry.run("worker") { _ in registry.names }
        #expect(inside == ["worker"])
        #expect(registry.names.isEmpty)
    }

    /// A consumer waiting on an empty queue keeps beating (it is waiting, not wedged); so does
    /// a producer waiting on a full one.
    @Test func queueWaitsBeat() {
        let registry = Heartbeats()
        let queue = BlockingQueue<Int>(capacity: 1)
        let consumer = registry.register("consumer", maxSilence: 60_000_000_000)
        defer { consumer.retire() }  // the registry holds its heartbeats (no cycle left behind)
        let first = consumer.deadline
        let done = Atomic<Bool>(false)
        let t = Posix.Thread(name: "pop") {
            _ = queue.pop(beating: consumer)
            done.store(true, ordering: .relaxed)
        }
        #expect(waitUntil { consumer.deadline > first && !done.load(ordering: .relaxed) })
        #expect(queue.push(1))
        t.join()

        #expect(queue.push(2))
        let producer = registry.register("producer", maxSilence: 60_000_000_000)
        defer { producer.retire() }
        let before = producer.deadline
        let p = Posix.Thread(name: "push") { _ = queue.push(3, beating: producer) }
        #expect(waitUntil { producer.deadline > before })
        #expect(queue.pop() == 2)
        p.join()
        #expect(queue.pop() == 3)
    }

    /// `waitBeating` returns within the beat interval without a signal, and beats.
    @Test func conditionWaitIsBounded() {
        let registry = Heartbeats()
        let h = registry.register("w", maxSilence: 60_000_000_000)
        defer { h.retire() }
        let lock = ConditionLock()
        let before = h.deadline
        lock.withLock { h.waitBeating(lock) }
        #expect(h.deadline > before)
    }

    private func waitUntil(seconds: Int64 = 20, _ condition: () -> Bool) -> Bool {
        let deadline = SystemClock.monotonicNanoseconds() + seconds * 1_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            if condition() { return true }
            SystemClock.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }
}
