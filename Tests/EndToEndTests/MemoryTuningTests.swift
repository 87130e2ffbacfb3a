import Foundation
import Testing

/// The allocator settings of `MemoryTuning` reach the running daemon: with `M_ARENA_MAX=1` its
/// worker threads share the main heap, so `/proc/PID/maps` shows none of glibc's per-thread
/// arenas (a 64 MiB-aligned reservation whose used part is read-write and the rest `---p`).
/// Without the setting every worker thread that allocates gets one.
@Suite struct MemoryTuningTests {
    let token = ["TRACKTAIL_TEST_TOKEN": "test-token"]

    @Test func workerThreadsShareOneArena() throws {
        let dir = Harness.temporaryDirectory()
        defer { Harness.cleanup(dir) }
        let api = try FakeTrackAPI(keepsBodies: false, fastChecks: true)
        defer { api.stop() }
        let log = dir.appendingPathComponent("app.log")
        try Harness.append(Harness.lines(0..<2_000), to: log)
        let config = try Harness.writeHTTPConfig(in: dir, inputs: [log.path], url: api.url)
        let daemon = try Harness.Daemon(["run", "--config", config.path], directory: dir, environment: token)
        defer { daemon.stop() }
        #expect(Harness.waitUntil(seconds: 60) { api.uniqueCount >= 2_000 }, "\(daemon.log)")
        let maps = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/maps", encoding: .utf8)
        let arenas = Self.threadArenas(maps)
        #expect(arenas.isEmpty, "thread arenas at \(arenas)")
        #expect(!daemon.log.contains("the allocator refused"), "\(daemon.log)")
    }

    /// Start addresses of glibc thread-arena heaps: anonymous read-write mappings starting on a
    /// 64 MiB boundary (HEAP_MAX_SIZE) and followed at once by the `---p` rest of the reservation.
    static func threadArenas(_ maps: String) -> [String] {
        struct Region { var start: UInt64; var end: UInt64; var perms: Substring; var anonymous: Bool }
        let regions: [Region] = maps.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 5 else { return nil }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let a = UInt64(range[0], radix: 16), let b = UInt64(range[1], radix: 16) else { return nil }
            return Region(start: a, end: b, perms: f[1], anonymous: f.count == 5)
        }
        let heapSize: UInt64 = 64 << 20
        var found: [String] = []
        for (i, r) in regions.enumerated() where r.anonymous && r.perms == "rw-p" && r.start % heapSize == 0 {
            if i + 1 < regions.count, regions[i + 1].start == r.end, regions[i + 1].perms == "---p",
               regions[i + 1].end - r.start <= heapSize {
                found.append(String(r.start, radix: 16))
            }
        }
        return found
    }

    /// The detector itself, on maps lines taken from a daemon without the setting.
    @Test func detectsThreadArenas() {
        let withArenas = """
        562c25389000-562c253cd000 rw-p 00000000 00:00 0                          [heap]
        7f3204000000-7f3204021000 rw-p 00000000 00:00 0 
        7f3204021000-7f3208000000 ---p 00000000 00:00 0 
        7f320c000000-7f320c32c000 rw-p 00000000 00:00 0 
        7f320c32c000-7f3210000000 ---p 00000000 00:00 0 
        7f321f7ff000-7f321f800000 ---p 00000000 00:00 0 
        7f321f800000-7f3220000000 rw-p 00000000 00:00 0 
        """
        #expect(Self.threadArenas(withArenas) == ["7f3204000000", "7f320c000000"])
        let without = """
        562c25389000-562c253cd000 rw-p 00000000 00:00 0                          [heap]
        7f321f7ff000-7f321f800000 ---p 00000000 00:00 0 
        7f321f800000-7f3220000000 rw-p 00000000 00:00 0 
        """
        #expect(Self.threadArenas(without).isEmpty)
    }
}
