import Pipeline

/// Cuts a byte stream into lines, remembering where each came from in the source.
///
/// Fed chunks of any size (a `read` of 64 KiB, or one byte at a time in tests), it appends every
/// complete line to a `LineBatch` with its source range (`start` up to just past the `\n`).
///
/// | input                                  | emitted text                    | source range      |
/// |----------------------------------------|---------------------------------|-------------------|
/// | `abc\n`                                | `abc`                           | whole line + `\n` |
/// | `abc\r\n`                              | `abc` (one trailing `\r` off)   | whole line        |
/// | `EF BB BF` at source offset 0          | BOM removed from the first line | BOM included      |
/// | `abc` (no newline yet)                 | nothing: waits for the rest     | —                 |
/// | line longer than `maxLineBytes`        | its first `headBytes` bytes,    | whole line        |
/// |                                        | once, `truncated = true`        |                   |
///
/// Memory: a partial line is held until its newline, but never more than `maxLineBytes` of it;
/// once a line is known to be too long its buffer is dropped and the rest is skipped byte-wise
/// up to the newline, so a 20 MB line costs `headBytes`, not 20 MB. `headBytes` is capped at
/// `maxLineBytes` (default 1 KiB: enough for a dead-letter entry to show what the line was).
/// Bytes are not validated: binary garbage comes out as lines; rejecting them is the mapper's job.
public struct LineSplitter: Sendable {
    public let maxLineBytes: Int
    public let headBytes: Int
    /// Source offset of the next byte to be fed.
    public private(set) var position: Int64
    /// Source offset where the current (unfinished) line began.
    public private(set) var lineStart: Int64
    /// The unfinished line's bytes so far (or only its head once it is too long).
    private var partial: [UInt8] = []
    /// The current line passed `maxLineBytes`: `partial` holds its head, the rest is skipped.
    private var skipping = false

    public static let defaultMaxLineBytes = 1_048_576
    public static let defaultHeadBytes = 1024

    public init(maxLineBytes: Int = LineSplitter.defaultMaxLineBytes, headBytes: Int = LineSplitter.defaultHeadBytes, offset: Int64 = 0) {
        self.maxLineBytes = max(1, maxLineBytes)
        self.headBytes = max(1, min(headBytes, self.maxLineBytes))
        position = offset
        lineStart = offset
    }

    /// Bytes of an unfinished line held now.
    public var pendingBytes: Int { partial.count }

    /// True when a line has begun but its newline has not arrived.
    public var hasPartialLine: Bool { position > lineStart }

    /// Forgets any partial line and continues at `offset` (after truncation).
    public mutating func reset(to offset: Int64) {
        position = offset
        lineStart = offset
        partial = []
        skipping = false
    }

    public mutating func feed(_ bytes: [UInt8], into batch: inout LineBatch) {
        bytes.withUnsafeBytes { feed($0, into: &batch) }
    }

    /// Appends the complete lines in `chunk` (together with what was held before) to `batch`.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, into batch: inout LineBatch) {
        let bytes = chunk.bindMemory(to: UInt8.self)
        var i = 0
        let n = bytes.count
        while i < n {
            let j = LineSplitter.newline(in: bytes, from: i)
            // bytes[i..<j] belongs to the current line; j == n means no newline in this chunk.
            if !skipping {
                let room = maxLineBytes - partial.count
                if j - i > room {
                    // Too long: keep the head only and skip the rest.
                    let keep = max(0, headBytes - partial.count)
                    if keep > 0 { partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + min(keep, j - i))])) }
                    var head: [UInt8] = []
                    head.reserveCapacity(headBytes)
                    head.append(contentsOf: partial.prefix(headBytes))
                    partial = head // drops the large buffer
                    skipping = true
                } else if j == n || !partial.isEmpty {
                    partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<j]))
                }
            }
            if j == n {
                position += Int64(n - i)
                return
            }
            let end = position + Int64(j - i + 1)
            if skipping || !partial.isEmpty {
                emit(partial[...], end: end, into: &batch)
                // Not kept: one allocation per line cut by a read, against a buffer held by
                // every idle file (thousands of them) that once had a line cut.
                partial = []
            } else {
                emit(UnsafeBufferPointer(rebasing: bytes[i..<j]), end: end, into: &batch)
            }
            skipping = false
            position = end
            lineStart = end
            i = j + 1
        }
    }

    /// Index of the first `\n` at or after `from`, or `bytes.count`: eight bytes per step (the
    /// "has zero byte" trick on the word XOR `\n`; its lowest set bit is exact, later ones may
    /// be false), then byte by byte for the tail.
    @inline(__always)
    static func newline(in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        let n = bytes.count
        var j = from
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101
            while j &+ 8 <= n {
                let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: j, as: UInt64.self)) ^ (ones &* 0x0A)
                let hits = (w &- ones) & ~w & (ones &* 0x80)
                if hits != 0 { return j &+ (hits.trailingZeroBitCount &>> 3) }
                j &+= 8
            }
        }
        while j < n && bytes[j] != 10 { j += 1 }
        return j
    }

    /// Emits what is held as a last line without a newline (for `once` mode at end of input).
    public mutating func flush(into batch: inout LineBatch) {
        guard position > lineStart else { return }
        emit(partial[...], end: position, into: &batch)
        partial = []
        skipping = false
        lineStart = position
    }

    private mutating func emit<C: Collection>(_ text: C, end: Int64, into batch: inout LineBatch) where C.Element == UInt8, C.Index == Int {
        var lo = text.startIndex
        var hi = text.endIndex
        if lineStart == 0 && hi - lo >= 3 && text[lo] == 0xEF && text[lo + 1] == 0xBB && text[lo + 2] == 0xBF { lo += 3 }
        if !skipping && hi > lo && text[hi - 1] == 13 { hi -= 1 }
        let textStart = batch.bytes.count
        batch.bytes.append(contentsOf: text[lo..<hi])
        batch.lines.append(LineRecord(textStart: textStart, textEnd: batch.bytes.count, start: lineStart, end: end, truncated: skipping))
    }
}
