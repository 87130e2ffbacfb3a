import Pipeline
import Posix
import Runtime

/// One open (or, for the open-file limit, temporarily closed) file instance. Reader thread only.
///
/// There is one per file matched, so with 20,000 files its size counts: optionals are kept as
/// plain integers with a sentinel behind computed properties, and the last bytes read are
/// held inline (see `RecentBytes`), not in an array of their own. `ManyFilesStateTests` keeps
/// an eye on the size.
final class FileInstance {
    var id: SourceID
    private let inputIndex: UInt16
    var deleted = false
    var atEOF = false
    var done = false
    var descriptor: FileDescriptor?
    var path: String
    let identity: FileIdentity
    var readOffset: Int64
    var splitter: LineSplitter
    var fingerprint: Fingerprint
    private var keyValue: UInt64 = 0
    private var avoidKeyValue: UInt64 = 0
    private var orphanSinceValue = Int64.min
    private var onceLimitValue: Int64 = -1
    /// Monotonic ns of the last read that returned data (or of opening).
    var lastActivity: Int64
    /// The last bytes read (just before `readOffset`), to notice a rewrite under our offset.
    var recent = RecentBytes()
    static let recentBytes = RecentBytes.capacity
    /// Done ranges past the checkpoint it resumed from (sorted): delivered before the restart,
    /// so skipped instead of read and sent again.
    var skip: [Range<Int64>] = []

    /// The `[[input]]` index.
    var input: Int { Int(inputIndex) }
    /// `nil` until the first line is there (see `FileDecisions.instanceKey`; 0 is "none", as
    /// in `SourceInfo.key`).
    var key: UInt64? {
        get { keyValue == 0 ? nil : keyValue }
        set { keyValue = newValue ?? 0 }
    }
    /// The previous instance's key at this identity, not to be reused.
    var avoidKey: UInt64? {
        get { avoidKeyValue == 0 ? nil : avoidKeyValue }
        set { avoidKeyValue = newValue ?? 0 }
    }
    /// Monotonic ns since its path stopped naming it (renamed out of the globs or deleted).
    var orphanSince: Int64? {
        get { orphanSinceValue == Int64.min ? nil : orphanSinceValue }
        set { orphanSinceValue = newValue ?? Int64.min }
    }
    /// `once` mode: the size it had at start; reading stops there.
    var onceLimit: Int64? {
        get { onceLimitValue < 0 ? nil : onceLimitValue }
        set { onceLimitValue = newValue.map { max(0, $0) } ?? -1 }
    }

    /// How far the next read may go (up to `limit`): never into a done range. At the start of
    /// one (a line boundary: nothing partial is held) it jumps past it first. A range that does
    /// not begin at the read offset on a line boundary is dropped and read normally (sent
    /// again, never lost).
    func readLimit(_ limit: Int64) -> Int64 {
        while let r = skip.first {
            if r.lowerBound == readOffset && !splitter.hasPartialLine {
                readOffset = r.upperBound
                splitter.reset(to: readOffset)
                recent = []
                skip.removeFirst()
            } else if r.lowerBound <= readOffset {
                skip.removeFirst()
            } else {
                return min(limit, r.lowerBound)
            }
        }
        return limit
    }

    func remember(_ chunk: UnsafeRawBufferPointer) {
        recent.append(chunk)
    }

    init(id: SourceID, input: Int, path: String, identity: FileIdentity, descriptor: FileDescriptor, offset: Int64,
         maxLineBytes: Int, fingerprint: Fingerprint, key: UInt64?, now: Int64) {
        self.id = id
        inputIndex = UInt16(input)
        self.path = path
        self.identity = identity
        self.descriptor = descriptor
        readOffset = offset
        splitter = LineSplitter(maxLineBytes: maxLineBytes, offset: offset)
        self.fingerprint = fingerprint
        lastActivity = now
        self.key = key
    }
}

/// The last up to 16 bytes read from a file, inline (two words and a count) instead of an
/// array of their own per file.
struct RecentBytes: Equatable, ExpressibleByArrayLiteral {
    static let capacity = 16
    private var storage: (UInt64, UInt64) = (0, 0)
    private(set) var count = 0

    init() {}

    init(arrayLiteral elements: UInt8...) {
        elements.withUnsafeBytes { append($0) }
    }

    var isEmpty: Bool { count == 0 }

    /// The bytes, oldest first.
    var bytes: [UInt8] {
        withUnsafeBytes(of: storage) { Array($0.prefix(count)) }
    }

    /// Keeps the last `capacity` bytes of what was held followed by `chunk`.
    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        let k = Self.capacity
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let total = withUnsafeMutableBytes(of: &buffer) { b -> Int in
            let tail = chunk.count >= k ? UnsafeRawBufferPointer(rebasing: chunk[(chunk.count - k)...]) : chunk
            let keep = min(count, k - tail.count)
            withUnsafeBytes(of: storage) { old in
                b.baseAddress!.copyMemory(from: old.baseAddress! + (count - keep), byteCount: keep)
            }
            if !tail.isEmpty { (b.baseAddress! + keep).copyMemory(from: tail.baseAddress!, byteCount: tail.count) }
            return keep + tail.count
        }
        storage = (buffer.0, buffer.1)
        count = total
    }

    static func == (a: RecentBytes, b: RecentBytes) -> Bool { a.bytes == b.bytes }
}
