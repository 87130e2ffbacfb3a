import Foundation
import Posix
import Tail
import Testing

/// Issue 11 item 7: a file already tracked or already shipped under another name (same device
/// and inode, e.g. a symlink in the glob) is not read twice.
@Suite(.serialized) struct SameFileTests {
    /// `b.log` and a symlink `c.log` to it, both matched: one file, read once.
    @Test func symlinkToATrackedFileIsReadOnce() throws {
        let h = Harness()
        let all = lines("b", 0..<20)
        h.write("b.log", joined(all))
        try FileManager.default.createSymbolicLink(atPath: h.path("c.log"), withDestinationPath: h.path("b.log"))
        try h.start(h.configuration())
        #expect(h.settled(["b.log"]))
        h.append("b.log", "b after\n")
        #expect(eventually { h.texts.count >= 21 })
        #expect(h.settled(["b.log"]))
        h.stop()
        expectExactly(h, all + ["b after"])
    }

    /// `a.log` shipped, rotated to `a.log.1` (out of the globs), read to its end and let go; then
    /// a symlink `current.log` → `a.log.1` appears in the glob: only a line appended later is
    /// sent, not the file again (before: all of it, once more).
    @Test func symlinkToAShippedRotatedFileDoesNotReshipIt() throws {
        let h = Harness()
        let all = lines("a", 0..<20)
        h.write("a.log", joined(all))
        try h.start(h.configuration())
        #expect(h.settled(["a.log"]))
        let end = h.size("a.log")
        try FileManager.default.moveItem(atPath: h.path("a.log"), toPath: h.path("a.log.1"))
        // Read to its end, quiet past the linger time, acknowledged: let go.
        #expect(eventually { h.tailer.sourceCount == 0 })
        #expect(h.tailer.checkpointEntries().contains { $0.offset == end }, "its entry is kept")

        try FileManager.default.createSymbolicLink(atPath: h.path("current.log"), withDestinationPath: h.path("a.log.1"))
        h.append("a.log.1", "a after\n")
        #expect(eventually { h.texts.count >= 21 })
        let grown = h.size("a.log.1")
        #expect(eventually { h.tailer.checkpointEntries().contains { $0.offset == grown } })
        h.stop()
        expectExactly(h, all + ["a after"])
    }
}
