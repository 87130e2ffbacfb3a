import Foundation
import Pipeline
import Posix
import Testing
@testable import Tail

/// The recent (unsynced) checkpoint between durable writes: what a crash of the process keeps.
@Suite struct RecentCheckpointTests {
    static func entry(inode: UInt64, offset: Int64, updated: Int64) -> CheckpointEntry {
        CheckpointEntry(input: "a", path: "/f\(inode)", identity: FileIdentity(device: 1, inode: inode), fingerprint: Fingerprint(length: 1, hash: 1),
                        offset: offset, tailLength: 1, tailHash: UInt64(offset), key: 3, updated: updated)
    }

    static func cursor(_ input: String, _ cursor: String, updated: Int64) -> JournalCheckpoint {
        JournalCheckpoint(input: input, cursor: cursor, realtime: 1, updated: updated)
    }

    @Test(arguments: [
        // durable (inode, offset, updated), recent → offset taken per inode
        ([(1, 100, 10)], [(1, 300, 20)], [1: 300]),                       // newer progress: the recent one
        ([(1, 300, 20)], [(1, 100, 10)], [1: 300]),                       // a stale recent file (after a power cut): ignored
        ([(1, 100, 10)], [(1, 200, 10)], [1: 200]),                       // same time: the larger offset
        ([(1, 100, 10)], [(2, 50, 20)], [1: 100, 2: 50]),                 // each file from where it is
        ([(1, 100, 10), (2, 70, 10)], [], [1: 100, 2: 70]),
        ([], [(3, 9, 1)], [3: 9]),
    ] as [([(UInt64, Int64, Int64)], [(UInt64, Int64, Int64)], [UInt64: Int64])])
    func merge(durable: [(UInt64, Int64, Int64)], recent: [(UInt64, Int64, Int64)], expected: [UInt64: Int64]) {
        let out = RecentCheckpoint.merge(durable: (durable.map { Self.entry(inode: $0.0, offset: $0.1, updated: $0.2) }, []),
                                         recent: (recent.map { Self.entry(inode: $0.0, offset: $0.1, updated: $0.2) }, []))
        #expect(Dictionary(uniqueKeysWithValues: out.entries.map { ($0.identity.inode, $0.offset) }) == expected)
        #expect(out.entries.allSatisfy { $0.tailHash == UInt64($0.offset) }, "an entry is taken whole")
    }

    @Test func journalCursorsTakeTheLaterOne() {
        let out = RecentCheckpoint.merge(durable: ([], [Self.cursor("j", "old", updated: 1), Self.cursor("k", "k1", updated: 5)]),
                                         recent: ([], [Self.cursor("j", "new", updated: 2), Self.cursor("k", "k0", updated: 4)]))
        #expect(out.cursors.map(\.cursor) == ["new", "k1"])
    }

    /// Between two durable writes (a minute apart here) progress reaches the recent file; the
    /// durable write at the stop takes it over and removes it.
    @Test func progressReachesTheRecentFileBetweenDurableWrites() throws {
        let h = Harness()
        let all = lines("r", 0..<50)
        h.write("r.log", joined(all))
        var config = h.configuration()
        config.checkpointInterval = 60_000_000_000
        config.recentCheckpointInterval = 20_000_000
        try h.start(config)
        #expect(eventually { ((try? CheckpointFile.read(stateDirectory: h.state))?.first?.offset ?? 0) > 0 }, "the leading edge")
        h.append("r.log", joined(lines("s", 0..<10)))
        let end = h.size("r.log")
        #expect(eventually { RecentCheckpoint.load(stateDirectory: h.state)?.entries.first?.offset == end })
        #expect((try CheckpointFile.read(stateDirectory: h.state)).first?.offset ?? 0 < end, "the durable file waits for its interval")
        h.stop()
        #expect((try CheckpointFile.read(stateDirectory: h.state)).first?.offset == end)
        #expect(!FileManager.default.fileExists(atPath: RecentCheckpoint.path(stateDirectory: h.state)))
    }

    /// A crash after a recent write: the restart resumes from it, not from the durable file.
    @Test func aRestartResumesFromTheRecentFile() throws {
        let h = Harness()
        let all = lines("c", 0..<100)
        h.write("c.log", joined(all))
        let fd = try FileDescriptor.open(h.path("c.log"))
        defer { fd.close() }
        let st = try fd.status()
        let fp = try Fingerprint.read(fd, length: 256)
        func entry(lines n: Int, updated: Int64) throws -> CheckpointEntry {
            let offset = Int64(joined(Array(all.prefix(n))).utf8.count)
            let t = try Fingerprint.tailHash(fd, before: offset, count: CheckpointEntry.tailBytes)
            return CheckpointEntry(input: "app", path: h.path("c.log"), identity: st.identity, fingerprint: fp, offset: offset,
                                   tailLength: t.length, tailHash: t.hash, key: 0, updated: updated)
        }
        try FileManager.default.createDirectory(atPath: h.state, withIntermediateDirectories: true)
        try CheckpointFile.write([entry(lines: 40, updated: 1_000)], stateDirectory: h.state)
        try FileSystem.writeAtomically(RecentCheckpoint.path(stateDirectory: h.state),
                                       CheckpointFile.encode([entry(lines: 70, updated: 2_000)]), durable: false)
        try h.start(h.configuration())
        #expect(h.settled(["c.log"]))
        h.stop()
        #expect(h.texts == Array(all[70...]))
    }
}
