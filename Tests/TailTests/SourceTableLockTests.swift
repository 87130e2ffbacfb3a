import Foundation
import Pipeline
import Posix
import Runtime
import Testing
@testable import Tail

/// The source table's lock is never held over I/O: acknowledgements (sender threads), `/metrics`
/// and the reader wait on it. Tail hashes are read, descriptors closed and the reader woken
/// with the lock released (`LockAudit` records any file system call made under it).
@Suite struct SourceTableLockTests {
    /// A file with `lines` 10-byte lines, open, added to `table` as source 1 with every line pushed.
    final class Fixture {
        let directory: String
        let path: String
        let fd: FileDescriptor
        let table: SourceTable
        let id = SourceID(1)
        let size: Int64

        init(lines: Int = 10, tag: String = #function, wakeReader: @escaping @Sendable () -> Void = {}) throws {
            directory = makeTempDirectory(tag)
            path = directory + "/a.log"
            let text = (0..<lines).map { String(format: "line %04d\n", $0) }.joined()
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            size = Int64(text.utf8.count)
            fd = try FileDescriptor.open(path)
            let st = try fd.status()
            let fp = try Fingerprint.read(fd, length: 256)
            table = SourceTable(entries: [], cursors: [], forgetAfter: 1_000_000_000, wakeReader: wakeReader)
            table.add(id, info: SourceInfo(input: "app", path: path, identity: st.identity, fingerprint: fp, key: 1, isPipe: false),
                      base: 0, descriptor: fd, checkpointed: true)
            _ = table.recordPush(id, start: 0, end: size, excess: [])
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        var isOpen: Bool { fcntl(fd.rawValue, F_GETFD) != -1 }

        /// The hash the checkpoint must carry for `offset`, read here (not by the table).
        func tailHash(before offset: Int64) -> UInt64 {
            let bytes = Array(try! Data(contentsOf: URL(fileURLWithPath: path)).prefix(Int(offset)).suffix(CheckpointEntry.tailBytes))
            return FNV1a.hash(bytes)
        }
    }

    init() { LockAudit.begin() }

    @Test func checkpointSnapshotReadsNoFileUnderTheLock() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 50)
        _ = f.table.snapshot(ifChangedSince: nil)
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func retirementOnTheLastAcknowledgementReadsAndClosesNothingUnderTheLock() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        f.table.finish(f.id, forget: false)
        _ = f.table.acknowledge(f.id, start: 0, end: f.size)
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func aForgottenSourceIsClosedOutsideTheLock() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        f.table.finish(f.id, forget: true)
        #expect(!f.isOpen, "a deleted file's descriptor closes at once")
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func detachHashesOutsideTheLock() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 30)
        f.table.detach(f.id, endTail: nil)
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func closeClosesOutsideTheLock() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        let event = try WakeupEvent.create()
        f.table.close { event.close() }
        #expect(!f.isOpen)
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
    }

    @Test func theReaderIsWokenOutsideTheLock() throws {
        defer { LockAudit.end() }
        let event = try WakeupEvent.create()
        defer { event.close() }
        let f = try Fixture(wakeReader: { event.signal() })
        #expect(!f.table.acknowledged(f.id, through: 100))
        _ = f.table.acknowledge(f.id, start: 0, end: 100)
        var one = [UInt8](repeating: 0, count: 1)
        #expect(try one.withUnsafeMutableBytes { try event.descriptor.readIfAvailable(into: $0) } == 1, "woken")
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func tailHashesAreReadByTheCheckpointWriter() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 70)
        #expect(f.table.snapshot(ifChangedSince: nil)?.files.first?.offset != 70, "not read by the acknowledgement")
        f.table.refreshTails()
        let e = f.table.snapshot(ifChangedSince: nil)?.files.first
        #expect(e?.offset == 70 && e?.tailLength == 64 && e?.tailHash == f.tailHash(before: 70))
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func aDescriptorLetGoWhileItsTailIsReadClosesAfterTheRead() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 40)
        var openWhileRead = false
        f.table.beforeTailReads = {
            // The reader gives the file up (deleted) while the writer is about to read it: the
            // descriptor must stay open (its number must not be reused) until the read is done.
            f.table.finish(f.id, forget: true)
            openWhileRead = f.isOpen
        }
        f.table.refreshTails()
        #expect(openWhileRead)
        #expect(!f.isOpen, "closed once the read returned it")
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test(arguments: [false, true])
    func aFinishedSourceClosesOnceItsFinalTailIsKnown(readerHashedTheEnd: Bool) throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        let end = (offset: f.size, length: 64, hash: f.tailHash(before: f.size))
        f.table.finish(f.id, forget: false, endTail: readerHashedTheEnd ? end : nil)
        _ = f.table.acknowledge(f.id, start: 0, end: f.size)
        // With the end's hash from the reader the descriptor closes at the last acknowledgement;
        // without, after the checkpoint writer read it.
        #expect(f.isOpen == !readerHashedTheEnd)
        f.table.refreshTails()
        #expect(!f.isOpen)
        #expect(f.table.heldDescriptorCount == 0)
        let e = f.table.snapshot(ifChangedSince: nil)?.files.first
        #expect(e?.offset == f.size && e?.tailHash == end.hash)
        #expect(LockAudit.violations(of: f.table.auditedLock) == [])
        f.table.close()
    }

    @Test func whatIsAcknowledgedAfterTheDescriptorClosedIsKeptAsDone() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 30)
        f.table.refreshTails()
        f.table.finish(f.id, forget: true)  // renamed away: closed, its tail no longer readable
        _ = f.table.acknowledge(f.id, start: 30, end: 70)
        f.table.refreshTails()
        let e = f.table.snapshot(ifChangedSince: nil)?.files.first
        #expect(e?.offset == 30 && e?.tailHash == f.tailHash(before: 30))
        #expect(e?.done == [30..<70], "a restart skips what was acknowledged since")
        f.table.close()
    }

    @Test func detachKeepsTheWatermarksTailAndClosesTheFile() throws {
        defer { LockAudit.end() }
        let f = try Fixture()
        _ = f.table.acknowledge(f.id, start: 0, end: 30)
        #expect(f.table.detach(f.id, endTail: nil), "the table closed it")
        #expect(!f.isOpen)
        let e = f.table.snapshot(ifChangedSince: nil)?.files.first
        #expect(e?.offset == 30 && e?.tailHash == f.tailHash(before: 30))
        f.table.close()
    }

    /// Descriptor numbers are reused all the time while tails are read unlocked: a reader thread
    /// opens, detaches, reattaches and finishes sources of 8 files with different contents, an
    /// acknowledging thread moves their watermarks, and a checkpoint thread refreshes and
    /// snapshots. Every tail hash written must be that of its own file at its offset (a read
    /// through a descriptor closed and reused for another file would give another file's bytes).
    @Test func tailHashesStayRightWhileDescriptorsComeAndGo() throws {
        defer { LockAudit.end() }
        let directory = makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var contents: [String: [UInt8]] = [:]
        var paths: [String] = []
        for i in 0..<8 {
            let path = directory + "/f\(i).log"
            let bytes = Array((0..<200).map { String(format: "f%d l%05d\n", i, $0) }.joined().utf8)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            contents[path] = bytes
            paths.append(path)
        }
        let table = SourceTable(entries: [], cursors: [], forgetAfter: 0, wakeReader: {})
        let files = contents
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var live: [SourceID: (size: Int64, acked: Int64)] = [:]
            var readerDone = false
            var wrong: [String] = []
            var done: Bool { lock.withLock { readerDone } }
        }
        let shared = Shared()
        let acker = Foundation.Thread {
            while !shared.done {
                let next = shared.lock.withLock { () -> [(SourceID, Int64)] in
                    var out: [(SourceID, Int64)] = []
                    for (id, v) in shared.live where v.acked < v.size {
                        shared.live[id]!.acked += 10
                        out.append((id, v.acked))
                    }
                    return out
                }
                for (id, start) in next { _ = table.acknowledge(id, start: start, end: start + 10) }
                if next.isEmpty { usleep(100) }
            }
        }
        let checkpointer = Foundation.Thread {
            while !shared.done {
                table.refreshTails()
                for e in table.snapshot(ifChangedSince: nil)?.files ?? [] {
                    let bytes = files[e.path]!
                    let expected = FNV1a.hash(Array(bytes[Int(max(0, e.offset - 64))..<Int(e.offset)]))
                    if e.tailHash != expected { shared.lock.withLock { shared.wrong.append("\(e.path)@\(e.offset)") } }
                }
            }
        }
        acker.start()
        checkpointer.start()
        var generator = SystemRandomNumberGenerator()
        var open: [Int: (id: SourceID, fd: FileDescriptor?)] = [:]
        var nextID: UInt32 = 1
        for _ in 0..<3000 {
            let i = Int.random(in: 0..<8, using: &generator)
            let path = paths[i]
            if let o = open[i] {
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where o.fd != nil:
                    // Closed for the open-file limit: the table closes it (after any read).
                    if !table.detach(o.id, endTail: nil) { o.fd!.close() }
                    open[i] = (o.id, nil)
                case 1 where o.fd == nil:
                    let fd = try FileDescriptor.open(path)
                    table.attach(o.id, descriptor: fd)
                    open[i] = (o.id, fd)
                case 2:
                    table.finish(o.id, forget: Bool.random(using: &generator))
                    open[i] = nil
                default:
                    usleep(50)
                }
            } else {
                let fd = try FileDescriptor.open(path)
                let st = try fd.status()
                let id = SourceID(nextID)
                nextID += 1
                table.add(id, info: SourceInfo(input: "app", path: path, identity: st.identity, fingerprint: Fingerprint(length: 0, hash: 0),
                                               key: 1, isPipe: false), base: 0, descriptor: fd, checkpointed: true)
                _ = table.recordPush(id, start: 0, end: st.size, excess: [])
                shared.lock.withLock { shared.live[id] = (st.size, 0) }
                open[i] = (id, fd)
            }
        }
        shared.lock.withLock { shared.readerDone = true }
        while !acker.isFinished || !checkpointer.isFinished { usleep(1_000) }
        table.close()
        #expect(shared.lock.withLock { shared.wrong } == [])
        #expect(LockAudit.violations(of: table.auditedLock) == [])
    }

    /// The whole tailer: reading, acknowledging, `/metrics`' entries and checkpoint writes.
    @Test func aRunningTailerDoesNoIOUnderTheTableLock() throws {
        defer { LockAudit.end() }
        let h = Harness()
        h.write("a.log", joined(lines("a", 0..<200)))
        h.write("b.log", joined(lines("b", 0..<100)))
        try h.start(h.configuration(maxOpenFiles: 1))
        #expect(h.settled(["a.log", "b.log"]))
        _ = h.tailer.checkpointEntries()
        h.tailer.writeCheckpoint()
        let table = h.tailer.table
        h.stop()
        #expect(LockAudit.violations(of: table.auditedLock) == [])
        let entries = CheckpointFile.load(stateDirectory: h.state).entries
        #expect(Set(entries.map(\.offset)) == [h.size("a.log"), h.size("b.log")])
    }
}
