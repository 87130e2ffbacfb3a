/// Which input a line came from: an index into the topology's table of open sources.
/// Stable for the life of one open file (a rotated file gets a new id).
public struct SourceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: SourceID, b: SourceID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// One line inside a `LineBatch`: where its text sits in the batch buffer, and the byte range
/// of the file it came from (`end` is just past the newline, so `end` of one line is `start`
/// of the next and acknowledging ranges can merge).
public struct LineRecord: Sendable, Equatable {
    /// Range of the line's text in `LineBatch.bytes`, without the newline, `\r` or BOM.
    public var textStart: Int
    public var textEnd: Int
    /// Byte range in the source, newline included.
    public var start: Int64
    public var end: Int64
    /// The line was longer than `max_line_bytes`: the text is only its head.
    public var truncated: Bool

    public init(textStart: Int, textEnd: Int, start: Int64, end: Int64, truncated: Bool = false) {
        self.textStart = textStart
        self.textEnd = textEnd
        self.start = start
        self.end = end
        self.truncated = truncated
    }

    public var textCount: Int { textEnd - textStart }
}

/// Complete lines read from one source, handed between stages as one unit (never line by line).
public struct LineBatch: Sendable {
    public var source: SourceID
    /// The concatenated text of the lines.
    public var bytes: [UInt8]
    public var lines: [LineRecord]
    /// Wall-clock time of the read, nanoseconds since the epoch (for "use the read time").
    public var readTime: Int64
    /// The source's key for deterministic event ids (`SourceInfo.key`), stamped by the reader
    /// when it hands the batch on, so that later stages never look it up under the reader's lock.
    public var sourceKey: UInt64
    /// A marker without lines: the reader has read everything there was and is about to wait
    /// for more. Nothing follows before the next write, so the batcher may let an open batch
    /// leave now instead of waiting for it to fill (`BatchBuilder`).
    public var caughtUp: Bool

    public init(source: SourceID, bytes: [UInt8] = [], lines: [LineRecord] = [], readTime: Int64 = 0, sourceKey: UInt64 = 0) {
        self.source = source
        self.bytes = bytes
        self.lines = lines
        self.readTime = readTime
        self.sourceKey = sourceKey
        caughtUp = false
    }

    /// The reader's "caught up" marker (see `caughtUp`).
    public static var caughtUpMarker: LineBatch {
        var b = LineBatch(source: SourceID(0))
        b.caughtUp = true
        return b
    }

    public func text(of line: LineRecord) -> ArraySlice<UInt8> { bytes[line.textStart..<line.textEnd] }

    /// Reserves `bytes` for the text a reader is about to append (see `reservation`), so that it
    /// is allocated once instead of doubling, and copying, as it fills.
    public mutating func reserve(waiting: Int64, limit: Int, chunk: Int) {
        let want = LineBatch.reservation(waiting: waiting, limit: limit, chunk: chunk)
        if want > bytes.capacity { bytes.reserveCapacity(want) }
    }

    /// Bytes to reserve for a batch that closes once it holds `limit` bytes, read `chunk` bytes
    /// at a time from a source with `waiting` unread bytes:
    ///
    /// | source | reservation | why |
    /// | --- | --- | --- |
    /// | backlog (`waiting` ≥ `limit + chunk`) | `limit + chunk` | the check runs after each chunk, so a batch can pass `limit` by up to a chunk |
    /// | a few new lines (`waiting` small) | `waiting` | a live tail must not take a whole batch's memory for one line |
    /// | nothing known (`waiting` ≤ 0: a pipe, or a file that shrank) | 0 | the array grows as usual |
    ///
    /// Growing by appends instead ends at twice the bytes (256 KiB → 512 KiB) after three copies.
    public static func reservation(waiting: Int64, limit: Int, chunk: Int) -> Int {
        Int(clamping: max(0, min(waiting, Int64(max(0, limit)) + Int64(max(0, chunk)))))
    }
}

/// One mapped event inside a `MappedBatch`.
public struct EventRecord: Sendable, Equatable {
    /// Range of the serialized event object in `MappedBatch.eventBytes`.
    public var byteStart: Int
    public var byteEnd: Int
    /// Byte range of the source line, for acknowledgement and the dead letter.
    public var start: Int64
    public var end: Int64
    /// The rule that built the event, for a dead-letter record if the API refuses it.
    public var rule: String?
    public var byteCount: Int { byteEnd - byteStart }
    public init(byteStart: Int, byteEnd: Int, start: Int64, end: Int64, rule: String? = nil) {
        self.byteStart = byteStart
        self.byteEnd = byteEnd
        self.start = start
        self.end = end
        self.rule = rule
    }
}

/// A line the mapper did not turn into an event: dropped or rejected.
public struct NonEventRecord: Sendable, Equatable {
    public var start: Int64
    public var end: Int64
    /// `nil` for a deliberate drop; the reason for a rejection.
    public var rejection: String?
    /// Head of the original line (for the dead letter); empty for drops.
    public var lineHead: [UInt8]
    /// The rule that took the line and failed to map it; `nil` when none did (not JSON, no match).
    public var rule: String?
    public init(start: Int64, end: Int64, rejection: String?, lineHead: [UInt8], rule: String? = nil) {
        self.start = start
        self.end = end
        self.rejection = rejection
        self.lineHead = lineHead
        self.rule = rule
    }
}

/// The mapper's output for one `LineBatch`: events serialized back to back, and the lines
/// that produced none.
public struct MappedBatch: Sendable {
    public var source: SourceID
    public var eventBytes: [UInt8]
    public var events: [EventRecord]
    public var others: [NonEventRecord]
    public init(source: SourceID, eventBytes: [UInt8] = [], events: [EventRecord] = [], others: [NonEventRecord] = []) {
        self.source = source
        self.eventBytes = eventBytes
        self.events = events
        self.others = others
    }

    public func eventJSON(_ e: EventRecord) -> ArraySlice<UInt8> { eventBytes[e.byteStart..<e.byteEnd] }
}
