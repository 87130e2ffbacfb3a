import Foundation
import Pipeline
import Posix
import Runtime
import Testing
@testable import Ship

/// The shipper's lock is never held over I/O: acknowledgements call into the tailer, which may
/// read and close files, so they run after the lock is released.
@Suite struct ShipperLockTests {
    /// An acknowledgement that does I/O, as the tailer's may; records what it was given.
    final class IOAcknowledger: @unchecked Sendable {
        let acks = AckRecorder()
        var callback: @Sendable (SourceID, Int64, Int64) -> Void {
            { [acks] s, a, b in
                _ = try? FileDescriptor.standardError.status()
                acks.callback(s, a, b)
            }
        }
    }

    static func shipper(_ ack: IOAcknowledger, _ script: @escaping FakeTransport.Script) -> (Shipper, String) {
        var c = ShipConfiguration()
        c.maxEvents = 10
        c.linger = 2_000_000
        c.backoffBase = 1_000_000
        c.backoffCap = 4_000_000
        let directory = temporaryDirectory() + "/dead-letter"
        let s = Shipper(configuration: c, transport: FakeTransport(script), deadLetter: DeadLetter(directory: directory), clock: TestClock(),
                        sourcePath: { "/logs/\($0.rawValue).log" }, acknowledge: ack.callback, logger: Logger(label: "ship-test"),
                        randomSeed: 7)
        return (s, directory)
    }

    @Test func acknowledgementsRunOutsideTheLock() {
        LockAudit.begin()
        defer { LockAudit.end() }
        let ack = IOAcknowledger()
        // Delivered, split (a poison event: dead-lettered by a sender), dropped and rejected
        // (acknowledged by the batcher): every acknowledgement path.
        let (s, _) = Self.shipper(ack) { _, events in
            containsEvent(events, 3) ? .success(TrackResponse(status: 400)) : ok
        }
        s.start()
        var b = mappedBatch(SourceID(1), 0..<25)
        b.others = [
            NonEventRecord(start: 250, end: 260, rejection: nil, lineHead: []),
            NonEventRecord(start: 260, end: 270, rejection: "missing user_id", lineHead: Array("{}".utf8)),
        ]
        s.input.push(b)
        #expect(eventually { ack.acks.coversExactly(SourceID(1), lines(0..<27)) })
        s.stop(deadline: TestClock().now() + 5_000_000_000)
        #expect(LockAudit.violations(of: s.auditedLock) == [])
    }

    @Test func stopWaitsForAnAcknowledgementInProgress() {
        // `stop` returning means no acknowledgement runs any more (the tailer writes its final
        // checkpoint next), also now that they run outside the lock.
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let finished = Latch()
        let slow = Shipper(configuration: ShipConfiguration(), transport: FakeTransport { _, _ in ok },
                           deadLetter: DeadLetter(directory: temporaryDirectory() + "/dl"), clock: TestClock(),
                           sourcePath: { _ in "" }, acknowledge: { _, _, _ in
                               entered.signal()
                               gate.wait()
                               finished.set()
                           }, logger: Logger(label: "ship-test"), randomSeed: 7)
        slow.start()
        var b = MappedBatch(source: SourceID(1))
        b.others = [NonEventRecord(start: 0, end: 10, rejection: nil, lineHead: [])]
        slow.input.push(b)
        entered.wait()
        let stopped = Latch()
        let t = Thread { slow.stop(deadline: TestClock().now() + 10_000_000); stopped.set() }
        t.start()
        usleep(50_000)  // room for a wrong early return; never a reason to fail when slow
        #expect(!stopped.isSet)
        gate.signal()
        #expect(eventually { stopped.isSet })
        #expect(finished.isSet)
    }
}

final class Latch: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
