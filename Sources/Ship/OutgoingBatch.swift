import Pipeline

/// One event inside an `OutgoingBatch`: where its JSON sits in the body and which source
/// line it came from, so the outcome can be acknowledged (or dead-lettered) precisely.
public struct BatchEvent: Sendable, Equatable {
    public var source: SourceID
    public var start: Int64
    public var end: Int64
    /// Range of the event object in `OutgoingBatch.body`.
    public var bodyStart: Int
    public var bodyEnd: Int
    /// The rule that built the event (named in its dead-letter record if the API refuses it).
    public var rule: String?

    public init(source: SourceID, start: Int64, end: Int64, bodyStart: Int, bodyEnd: Int, rule: String? = nil) {
        self.source = source
        self.start = start
        self.end = end
        self.bodyStart = bodyStart
        self.bodyEnd = bodyEnd
        self.rule = rule
    }
}

/// A request body ready to send, `[e1,e2,…]`, with the source range of every event in it.
///
/// Splitting (for 400/422/413) copies the halves into new bodies: it is rare, and a body of
/// its own per request keeps the transport seam a plain byte array.
public struct OutgoingBatch: Sendable, Equatable {
    public private(set) var body: [UInt8]
    public private(set) var events: [BatchEvent]

    public init() {
        body = [UInt8(ascii: "[")]
        events = []
    }

    /// Bytes the body has once closed: what the API counts against its limit.
    public var closedByteCount: Int { body.count + 1 }
    public var count: Int { events.count }
    public var isEmpty: Bool { events.isEmpty }

    /// The bytes a closed body would have after appending an event of `count` bytes.
    public func byteCount(appending count: Int) -> Int { closedByteCount + count + (events.isEmpty ? 0 : 1) }

    mutating func append(_ json: some Collection<UInt8>, source: SourceID, start: Int64, end: Int64, rule: String? = nil) {
        if let _ = json.withContiguousStorageIfAvailable({ append(bytes: $0, source: source, start: start, end: end, rule: rule) }) { return }
        Array(json).withUnsafeBufferPointer { append(bytes: $0, source: source, start: start, end: end, rule: rule) }
    }

    mutating func append(bytes json: UnsafeBufferPointer<UInt8>, source: SourceID, start: Int64, end: Int64, rule: String? = nil) {
        if !events.isEmpty { body.append(UInt8(ascii: ",")) }
        let s = body.count
        body.append(contentsOf: json)
        events.append(BatchEvent(source: source, start: start, end: end, bodyStart: s, bodyEnd: body.count, rule: rule))
    }

    /// Room for a body of `bytes` and `events` events, so that filling it does not grow the
    /// arrays step by step (each step copies everything written so far).
    mutating func reserve(bytes: Int, events count: Int) {
        body.reserveCapacity(bytes)
        events.reserveCapacity(count)
    }

    /// Adds the closing bracket. Only the builder calls this, once.
    mutating func close() { body.append(UInt8(ascii: "]")) }

    /// The JSON of one event.
    public func json(of event: BatchEvent) -> ArraySlice<UInt8> { body[event.bodyStart..<event.bodyEnd] }

    /// A closed batch of the given events (a sub-range of this batch's).
    public func subBatch(_ range: Range<Int>) -> OutgoingBatch {
        var b = OutgoingBatch()
        b.body.reserveCapacity(range.reduce(2) { $0 + events[$1].bodyEnd - events[$1].bodyStart + 1 })
        for e in events[range] { b.append(json(of: e), source: e.source, start: e.start, end: e.end, rule: e.rule) }
        b.close()
        return b
    }

    /// The two halves of a closed batch of two or more events (first half rounded down).
    public func halves() -> (OutgoingBatch, OutgoingBatch) {
        let mid = events.count / 2
        return (subBatch(0..<mid), subBatch(mid..<events.count))
    }
}
