import CMalloc

/// glibc's allocator knobs (`mallopt(3)`), set once at start-up before any thread exists.
///
/// Why the daemon caps the arenas: glibc gives every thread that allocates an arena of its own
/// (up to 8 per core), and memory is returned to the arena it came from. tracktail's stages run
/// on their own threads and hand buffers on (the reader's line batches are freed by the mapper,
/// the batcher's request bodies by the senders), so each arena keeps its own high-water mark of
/// free memory that no other thread reuses. One arena lets a body reuse what a line batch
/// freed; the stages allocate a few times per batch, not per event, so its lock is not contended.
public enum Malloc {
    /// One `mallopt(3)` parameter.
    public enum Option: Sendable, Equatable, CustomStringConvertible {
        /// `M_ARENA_MAX`: the most arenas threads spread over.
        case arenaMax(Int32)
        /// `M_TRIM_THRESHOLD`: free bytes at the top of the heap above which they are returned.
        /// Setting it also fixes the mmap threshold (no more dynamic adjustment).
        case trimThreshold(Int32)
        /// `M_MMAP_THRESHOLD`: allocations from this size on get their own mapping.
        case mmapThreshold(Int32)
        /// `M_TOP_PAD`: extra bytes asked of the kernel each time the heap grows.
        case topPad(Int32)

        /// The `mallopt` parameter number and value.
        public var parameter: (name: Int32, value: Int32) {
            switch self {
            case .arenaMax(let v): (tracktail_M_ARENA_MAX, v)
            case .trimThreshold(let v): (tracktail_M_TRIM_THRESHOLD, v)
            case .mmapThreshold(let v): (tracktail_M_MMAP_THRESHOLD, v)
            case .topPad(let v): (tracktail_M_TOP_PAD, v)
            }
        }

        public var description: String {
            switch self {
            case .arenaMax(let v): "M_ARENA_MAX=\(v)"
            case .trimThreshold(let v): "M_TRIM_THRESHOLD=\(v)"
            case .mmapThreshold(let v): "M_MMAP_THRESHOLD=\(v)"
            case .topPad(let v): "M_TOP_PAD=\(v)"
            }
        }
    }

    /// Sets each option in order; returns the ones glibc refused (`mallopt` returned 0).
    @discardableResult
    public static func apply(_ options: [Option]) -> [Option] {
        options.filter { option in
            let p = option.parameter
            return mallopt(p.name, p.value) != 1
        }
    }
}
