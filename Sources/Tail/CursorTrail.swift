/// Where a journal input stands: the cursor of the last entry in the longest run of done
/// entries, i.e. the `AckTracker` watermark translated back from offsets to cursors.
///
/// Each entry read from the journal gets a range of a virtual byte stream (its message's
/// length plus one), so acknowledgements merge exactly as for a file; the trail remembers the
/// cursor at the end of each range until the watermark passes it.
///
/// | event                                   | effect                                                   |
/// |-----------------------------------------|----------------------------------------------------------|
/// | entries pushed                          | their marks are appended (ends increasing)               |
/// | watermark reaches or passes a mark's end| the mark becomes the checkpoint; earlier marks are dropped |
/// | watermark inside an entry's range       | nothing (that entry is not done)                         |
/// | push undone                             | the last marks are removed                               |
///
/// Memory: one mark per entry in flight (bounded by the byte budget).
public struct CursorTrail: Sendable, Equatable {
    public struct Mark: Sendable, Equatable {
        /// End of the entry's range in the input's virtual stream.
        public var end: Int64
        public var cursor: String
        /// `__REALTIME_TIMESTAMP` of the entry, microseconds since the epoch.
        public var realtime: Int64
        public init(end: Int64, cursor: String, realtime: Int64) {
            self.end = end
            self.cursor = cursor
            self.realtime = realtime
        }
    }

    private var marks: [Mark] = []
    private var head = 0
    /// The last entry of the done run (nil: nothing done since the start without a cursor).
    public private(set) var checkpoint: Mark?

    public init(checkpoint: Mark? = nil) { self.checkpoint = checkpoint }

    /// The last entry read (pushed), or the checkpoint when nothing is in flight.
    public var latest: Mark? { head < marks.count ? marks.last : checkpoint }

    /// Marks waiting for the watermark.
    public var pendingCount: Int { marks.count - head }

    public mutating func append(_ new: [Mark]) { marks += new }

    public mutating func dropLast(_ n: Int) { marks.removeLast(min(n, pendingCount)) }

    /// The watermark moved to `offset`: every entry ending at or before it is done.
    public mutating func advance(to offset: Int64) {
        while head < marks.count && marks[head].end <= offset {
            checkpoint = marks[head]
            head += 1
        }
        if head > 1024 && head * 2 > marks.count {
            marks.removeFirst(head)
            head = 0
        }
    }
}

/// A journal input's saved position, in the same checkpoint file as the file entries.
public struct JournalCheckpoint: Sendable, Equatable {
    /// The `[[input]]` name.
    public var input: String
    /// `__CURSOR` of the last entry in the run of done entries; the next run starts after it.
    public var cursor: String
    /// That entry's `__REALTIME_TIMESTAMP` (µs since the epoch).
    public var realtime: Int64
    /// Wall-clock ns when it last moved.
    public var updated: Int64

    public init(input: String, cursor: String, realtime: Int64, updated: Int64) {
        self.input = input
        self.cursor = cursor
        self.realtime = realtime
        self.updated = updated
    }
}

/// A journal input's progress, for `/metrics`.
public struct JournalProgress: Sendable, Equatable {
    public var input: String
    /// The last entry of the done run (what is checkpointed).
    public var checkpoint: CursorTrail.Mark?
    /// The last entry read.
    public var latest: CursorTrail.Mark?
}
