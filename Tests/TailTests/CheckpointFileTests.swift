import Foundation
import Posix
import Tail
import Testing

func makeTempDirectory(_ tag: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path
    let name = tag.filter { $0.isLetter || $0.isNumber }
    let dir = "\(base)/tailtests-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

let sampleEntries = [
    CheckpointEntry(input: "app", path: "/var/log/app \"quoted\"\\.log", identity: FileIdentity(device: 2049, inode: UInt64.max - 1),
                    fingerprint: Fingerprint(length: 256, hash: 0xDEAD_BEEF_0000_0001), offset: 123_456_789_012,
                    tailLength: 64, tailHash: UInt64.max, key: 0x0123_4567_89AB_CDEF, updated: 1_732_400_000_000_000_000),
    CheckpointEntry(input: "ünïcode", path: "/tmp/a\tb", identity: FileIdentity(device: 0, inode: 1),
                    fingerprint: Fingerprint(length: 3, hash: 0), offset: 0, tailLength: 0, tailHash: 5, key: 0, updated: 0),
]

@Test func checkpointRoundTrip() throws {
    let bytes = CheckpointFile.encode(sampleEntries)
    #expect(try CheckpointFile.decode(bytes) == sampleEntries)
    #expect(try CheckpointFile.decode(CheckpointFile.encode([])) == [])
}

@Test(arguments: [
    ("", "end of file"),
    ("{\"version\":2,\"entries\":[]}", "unsupported version"),
    ("{\"entries\":[]}", "version"),
    ("{\"version\":1,\"entries\":[{}]}", "entries[0]"),
    ("{\"version\":1,\"entries\":[]", "byte"),
    ("{\"version\":1,\"entries\":[]} x", "after the document"),
    ("\u{0}\u{0}\u{0}", "unexpected character"),
    ("{\"version\":1,\"entries\":[{\"input\":\"a\",\"path\":\"p\",\"device\":1,\"inode\":2,\"fingerprint\":{\"length\":1,\"hash\":\"zz\"}}]}", "fingerprint.hash"),
])
func checkpointCorruptIsReported(_ c: (String, String)) {
    do {
        _ = try CheckpointFile.decode(Array(c.0.utf8))
        Issue.record("decoded corrupt input")
    } catch {
        #expect("\(error)".contains(c.1), "\(error)")
    }
}

@Test func checkpointFallsBackToPrevious() throws {
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(try CheckpointFile.read(stateDirectory: dir) == [])
    try CheckpointFile.write([sampleEntries[0]], stateDirectory: dir)
    try CheckpointFile.write(sampleEntries, stateDirectory: dir)
    #expect(try CheckpointFile.read(stateDirectory: dir) == sampleEntries)
    // Corrupt the current copy: the previous one is used and the problem reported.
    try Data("{\"version\":1,\"entr".utf8).write(to: URL(fileURLWithPath: CheckpointFile.path(stateDirectory: dir)))
    let loaded = CheckpointFile.load(stateDirectory: dir)
    #expect(loaded.entries == [sampleEntries[0]])
    #expect(loaded.usedPath == CheckpointFile.previousPath(stateDirectory: dir))
    #expect(loaded.problems.count == 1)
    // Both corrupt: an error, never an empty list.
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: CheckpointFile.previousPath(stateDirectory: dir)))
    #expect(throws: CheckpointFileError.self) { try CheckpointFile.read(stateDirectory: dir) }
}

@Test func stateDirectoryLockRefusesSecond() throws {
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let first = try StateDirectoryLock(stateDirectory: dir + "/state")
    do {
        _ = try StateDirectoryLock(stateDirectory: dir + "/state")
        Issue.record("second lock taken")
    } catch let busy as StateDirectoryLock.Busy {
        #expect(busy.description.contains(dir + "/state"))
        #expect(busy.ownerPID == ProcessInfo.processInfo.processIdentifier)
    }
    first.release()
    let again = try StateDirectoryLock(stateDirectory: dir + "/state")
    again.release()
}
