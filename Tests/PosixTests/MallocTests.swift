import Posix
import Testing

@Suite struct MallocTests {
    /// Each option is the `mallopt` parameter of malloc.h (glibc's numbers).
    @Test(arguments: [
        (Malloc.Option.arenaMax(1), Int32(-8), Int32(1), "M_ARENA_MAX=1"),
        (Malloc.Option.trimThreshold(131_072), Int32(-1), Int32(131_072), "M_TRIM_THRESHOLD=131072"),
        (Malloc.Option.mmapThreshold(65_536), Int32(-3), Int32(65_536), "M_MMAP_THRESHOLD=65536"),
        (Malloc.Option.topPad(0), Int32(-2), Int32(0), "M_TOP_PAD=0"),
    ])
    func parameters(_ option: Malloc.Option, _ name: Int32, _ value: Int32, _ text: String) {
        #expect(option.parameter.name == name)
        #expect(option.parameter.value == value)
        #expect(option.description == text)
    }

    /// glibc takes the values tracktail uses (`apply` returns what it refused).
    @Test func acceptedOptionsAreNotReturned() {
        #expect(Malloc.apply([.arenaMax(64)]).isEmpty)
    }

    /// An applied mmap threshold changes where the next large allocation comes from: its own
    /// mapping, counted by `usage()`. (The test process keeps the threshold: 128 KiB, glibc's start.)
    @Test func anAppliedThresholdTakesEffect() {
        #expect(Malloc.apply([.mmapThreshold(64 * 1024)]).isEmpty)
        let before = Malloc.usage()
        let p = UnsafeMutableRawPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        let during = Malloc.usage()
        p.deallocate()
        #expect(during.mappedCount >= before.mappedCount + 1)
        #expect(during.mappedBytes >= before.mappedBytes + 256 * 1024)
        #expect(Malloc.apply([.mmapThreshold(128 * 1024)]).isEmpty)
    }
}
