import Pipeline

/// Packs mapped events into request bodies: a pure value, decisions tested as a table.
///
/// | situation | result |
/// | --- | --- |
/// | event alone (plus `[` `]`) is over `maxBytes` | `.oversized`: dead-letter it, never send it |
/// | event does not fit in the open batch's bytes | the open batch is closed and returned; the event starts the next one |
/// | event fits | appended |
/// | the batch now holds `maxEvents` | closed and returned at once |
/// | `now ≥ openedAt + linger` (the caller asks with `closeIfLingered`) | closed and returned |
/// | the output is idle and `now ≥ openedAt + idleLinger` | closed and returned |
/// | the output is idle and the input has caught up (`LineBatch.caughtUp`), `idleLinger < linger` | closed and returned |
///
/// Byte counting includes the brackets and commas, so a closed body never exceeds
/// `maxBytes`. The linger clock starts with the first event of a batch, not with the last, so
/// a slow trickle still leaves within `linger`.
///
/// A batch leaves early when sending it now delays nothing: a sending slot is free and no
/// other batch waits (`DeliveryState.isIdle`), and either the readers have caught up (they
/// read everything there was and wait for more, so waiting longer only adds latency) or it is
/// `idleLinger` old. A steady 5,000 lines/s, read in bursts every `readCoalesce`, then leaves
/// as one request per burst, not 500 lines every 100 ms. A backlog never catches up, so its
/// batches fill to `maxEvents`; when the output is busy (a slow or failing API) batches keep
/// filling up to `maxEvents` or `linger`, so a struggling API gets fewer, fuller requests.
/// `idleLinger` equal to `linger` turns early closing off: batches wait to fill.
public struct BatchBuilder: Sendable {
    public let maxEvents: Int
    public let maxBytes: Int
    public let linger: Int64
    public let idleLinger: Int64
    public private(set) var open = OutgoingBatch()
    /// Clock time of the open batch's first event.
    public private(set) var openedAt: Int64?

    /// `idleLinger` is cut to `linger`; `nil`: the same as `linger` (no early close).
    public init(maxEvents: Int, maxBytes: Int, linger: Int64, idleLinger: Int64? = nil) {
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(3, maxBytes)
        self.linger = max(0, linger)
        self.idleLinger = min(self.linger, max(0, idleLinger ?? linger))
    }

    public init(configuration c: ShipConfiguration) {
        let c = c.clamped()
        self.init(maxEvents: c.maxEvents, maxBytes: c.maxBytes, linger: c.linger, idleLinger: c.idleLinger)
    }

    public enum AddResult: Sendable, Equatable {
        /// Appended; the batch stays open.
        case added
        /// The event was appended and these batches closed: the one it did not fit in, or the
        /// one it filled to `maxEvents` (both at once only if `maxEvents` is 1, which never
        /// leaves an open batch to overflow, so in practice one).
        case closed([OutgoingBatch])
        /// The event alone is larger than the byte limit.
        case oversized(bytes: Int, limit: Int)
    }

    /// Appends one serialized event.
    public mutating func add(_ json: some Collection<UInt8>, source: SourceID, start: Int64, end: Int64, now: Int64, rule: String? = nil) -> AddResult {
        if let r = json.withContiguousStorageIfAvailable({ add(bytes: $0, source: source, start: start, end: end, now: now, rule: rule) }) {
            return r
        }
        return Array(json).withUnsafeBufferPointer { add(bytes: $0, source: source, start: start, end: end, now: now, rule: rule) }
    }

    /// Appends one serialized event, a slice of a `MappedBatch`'s bytes (the hot path: not generic,
    /// so a caller in another module does not go through witness tables per event).
    public mutating func add(_ json: ArraySlice<UInt8>, source: SourceID, start: Int64, end: Int64, now: Int64, rule: String? = nil) -> AddResult {
        json.withUnsafeBufferPointer { add(bytes: $0, source: source, start: start, end: end, now: now, rule: rule) }
    }

    mutating func add(bytes json: UnsafeBufferPointer<UInt8>, source: SourceID, start: Int64, end: Int64, now: Int64, rule: String? = nil) -> AddResult {
        let size = json.count
        if size + 2 > maxBytes { return .oversized(bytes: size, limit: maxBytes) }
        var closed: [OutgoingBatch] = []
        if !open.isEmpty && open.byteCount(appending: size) > maxBytes {
            closed.append(takeOpen())
        }
        if open.isEmpty { openedAt = now }
        open.append(bytes: json, source: source, start: start, end: end, rule: rule)
        if open.count >= maxEvents { closed.append(takeOpen()) }
        return closed.isEmpty ? .added : .closed(closed)
    }

    /// When the open batch must leave on linger time; `nil` when nothing is open.
    public var lingerDeadline: Int64? { lingerDeadline(outputIdle: false) }

    /// When the open batch leaves if the output is idle (`idleLinger`) or not (`linger`).
    public func lingerDeadline(outputIdle: Bool) -> Int64? {
        openedAt.map { $0 &+ (outputIdle ? idleLinger : linger) }
    }

    /// Closes the open batch if its linger time (for an idle output: `idleLinger`) has passed,
    /// or the output is idle and the input caught up.
    public mutating func closeIfLingered(now: Int64, outputIdle: Bool = false, inputCaughtUp: Bool = false) -> OutgoingBatch? {
        guard let d = lingerDeadline(outputIdle: outputIdle),
              now >= d || (outputIdle && inputCaughtUp && idleLinger < linger) else { return nil }
        return takeOpen()
    }

    /// Closes whatever is open (shutdown, end of input).
    public mutating func flush() -> OutgoingBatch? {
        open.isEmpty ? nil : takeOpen()
    }

    private mutating func takeOpen() -> OutgoingBatch {
        // Swap rather than copy: closing a copy while `open` still shares its body would copy
        // the whole body (up to `maxBytes`, once per batch) just to append `]`.
        var b = OutgoingBatch()
        swap(&b, &open)
        b.close()
        open.reserve(bytes: BatchBuilder.nextBodyReservation(closedBytes: b.body.count, maxBytes: maxBytes),
                     events: min(maxEvents, b.count))
        openedAt = nil
        return b
    }

    /// Room for the next body after one of `closedBytes` closed: the next batch is most likely
    /// about the same size (500 events of a few hundred bytes vary by well under 1%), so 1/32
    /// more and 1 KiB, but never more than `maxBytes`. With room for exactly the last size, a
    /// batch a few bytes larger doubles its body (and copies it) on its last event: twice the
    /// memory for every batch that waits to be sent. A larger batch than that still grows once.
    ///
    /// | closed | maxBytes | reserved |
    /// | --- | --- | --- |
    /// | 134,400 | 1,000,000 | 139,624 |
    /// | 990,000 | 1,000,000 | 1,000,000 |
    /// | 8 | 1,000,000 | 1,032 |
    /// | 0 | 1,000,000 | 1,024 |
    static func nextBodyReservation(closedBytes: Int, maxBytes: Int) -> Int {
        min(maxBytes, closedBytes + closedBytes / 32 + 1024)
    }

    /// The dead-letter reason for an oversized event.
    public static func oversizedReason(bytes: Int, limit: Int) -> String {
        "event of \(bytes) bytes exceeds the batch limit of \(limit)"
    }
}
