import Foundation
import Tail
import Testing

/// Issue 11 item 3: the first checkpoint comes right after the first acknowledgements, later
/// ones at most every interval.
struct ScheduleStep: Sendable, CustomTestStringConvertible {
    var name: String
    /// Write times so far (nil: never written).
    var lastWrite: Int64?
    var now: Int64
    var acknowledged: Bool
    var decision: CheckpointSchedule.Decision
    var testDescription: String { name }
}

@Test(arguments: [
    ScheduleStep(name: "first acknowledgement: at once", lastWrite: nil, now: 10, acknowledged: true, decision: .write),
    ScheduleStep(name: "nothing yet: wait an interval from start", lastWrite: nil, now: 10, acknowledged: false, decision: .wait(until: 1_000)),
    ScheduleStep(name: "nothing yet, interval over: periodic write", lastWrite: nil, now: 1_000, acknowledged: false, decision: .write),
    ScheduleStep(name: "acknowledged soon after a write: wait", lastWrite: 100, now: 400, acknowledged: true, decision: .wait(until: 1_100)),
    ScheduleStep(name: "acknowledged an interval after: at once", lastWrite: 100, now: 1_100, acknowledged: true, decision: .write),
    ScheduleStep(name: "after a quiet spell: at once", lastWrite: 100, now: 50_000, acknowledged: true, decision: .write),
    ScheduleStep(name: "no acknowledgement: periodic", lastWrite: 100, now: 1_100, acknowledged: false, decision: .write),
    ScheduleStep(name: "no acknowledgement, too soon", lastWrite: 100, now: 200, acknowledged: false, decision: .wait(until: 1_100)),
])
func checkpointScheduleTable(_ s: ScheduleStep) {
    var schedule = CheckpointSchedule(interval: 1_000, now: 0)
    if let t = s.lastWrite { schedule.wrote(at: t) }
    #expect(schedule.decide(now: s.now, acknowledged: s.acknowledged) == s.decision)
}

/// Recent (unsynced) writes between the durable ones: interval 1,000, recent gap 200.
@Test(arguments: [
    ScheduleStep(name: "acknowledged 100 after a write: wait for the recent gap", lastWrite: 100, now: 200, acknowledged: true, decision: .wait(until: 300)),
    ScheduleStep(name: "acknowledged, gap over: recent write", lastWrite: 100, now: 300, acknowledged: true, decision: .writeRecent),
    ScheduleStep(name: "not acknowledged: no recent write", lastWrite: 100, now: 300, acknowledged: false, decision: .wait(until: 1_100)),
    ScheduleStep(name: "interval over: a durable write, not a recent one", lastWrite: 100, now: 1_100, acknowledged: true, decision: .write),
    ScheduleStep(name: "never written: the leading edge is durable", lastWrite: nil, now: 10, acknowledged: true, decision: .write),
])
func checkpointScheduleRecentTable(_ s: ScheduleStep) {
    var schedule = CheckpointSchedule(interval: 1_000, recentInterval: 200, now: 0)
    if let t = s.lastWrite { schedule.wrote(at: t) }
    #expect(schedule.decide(now: s.now, acknowledged: s.acknowledged) == s.decision)
}

/// Acknowledgements every 10 for 3,000 after start: durable writes once per interval, recent
/// ones every 200 between them; once a recent write took 10, the gap stretches to 500.
@Test(arguments: [
    (Int64(0), [205, 405, 605, 805, 1_205, 1_405, 1_605, 1_805, 2_205, 2_405, 2_605, 2_805] as [Int64]),
    (Int64(10), [205, 705, 1_505, 2_505] as [Int64]),
])
func checkpointScheduleRecentWritesKeepTheirGap(cost: Int64, expected: [Int64]) {
    var schedule = CheckpointSchedule(interval: 1_000, recentInterval: 200, now: 0)
    var durable: [Int64] = []
    var recent: [Int64] = []
    for now in stride(from: Int64(5), through: 3_000, by: 10) {
        switch schedule.decide(now: now, acknowledged: true) {
        case .write: durable.append(now); schedule.wrote(at: now)
        case .writeRecent: recent.append(now); schedule.wroteRecent(at: now, took: cost)
        case .wait: break
        }
    }
    #expect(durable == [5, 1_005, 2_005])
    #expect(recent == expected)
}

/// A run of acknowledgements every 100 ns for 5,000 ns after start: one write at once, then one
/// per interval (at most 6, not one per acknowledgement and not none until the first interval).
@Test func checkpointScheduleWritesAtMostOncePerInterval() {
    var schedule = CheckpointSchedule(interval: 1_000, now: 0)
    var writes: [Int64] = []
    for now in stride(from: Int64(50), through: 5_000, by: 100) where schedule.decide(now: now, acknowledged: true) == .write {
        writes.append(now)
        schedule.wrote(at: now)
    }
    #expect(writes.first == 50)
    #expect(zip(writes, writes.dropFirst()).allSatisfy { $1 - $0 >= 1_000 })
    #expect(writes.count == 5)
}

@Suite(.serialized) struct CheckpointLeadingEdgeTests {
    /// With a one-minute interval the first acknowledgements are still checkpointed at once.
    @Test func firstAcknowledgementsAreCheckpointedPromptly() throws {
        let h = Harness()
        let all = lines("p", 0..<50)
        h.write("p.log", joined(all))
        var config = h.configuration()
        config.checkpointInterval = 60_000_000_000
        try h.start(config)
        #expect(eventually { h.texts.count == 50 })
        // The leading edge: a checkpoint past 0 at once. Not necessarily at the end: the write
        // may snapshot after only the first of the acknowledgements (under load), and the next
        // one then waits the full minute.
        #expect(eventually(15) { ((try? CheckpointFile.read(stateDirectory: h.state))?.first?.offset ?? 0) > 0 },
                "no checkpoint written within 15 s of the acknowledgements")
        h.stop()
    }
}
