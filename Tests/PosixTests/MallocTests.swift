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

    /// glibc takes an arena limit: nothing comes back as refused.
    @Test func acceptedOptionsAreNotReturned() {
        #expect(Malloc.apply([.arenaMax(64)]).isEmpty)
    }
}
