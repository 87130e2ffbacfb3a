import Pipeline
import Posix
import Runtime

/// One open (or, for the open-file limit, temporarily closed) file instance. Reader thread only.
final class FileInstance {
    var id: SourceID
    let input: Int
    var path: String
    let identity: FileIdentity
    var descriptor: FileDescriptor?
    var readOffset: Int64
    var splitter: LineSplitter
    var fingerprint: Fingerprint
    /// `nil` until the first line is there (see `FileDecisions.instanceKey`).
    var key: UInt64?
    /// The previous instance's key at this identity, not to be reused.
    var avoidKey: UInt64?
    /// Monotonic ns since its path stopped naming it (renamed out of the globs or deleted).
    var orphanSince: Int64?
    var deleted = false
    /// Monotonic ns of the last read that returned data (or of opening).
    var lastActivity: Int64
    var atEOF = false
    /// `once` mode: the size it had at start; reading stops there.
    var onceLimit: Int64?
    var done = false
    /// The last bytes read (just before `readOffset`), to notice a rewrite under our offset.
    var recent: [UInt8] = []
    static let recentBytes = 16
    /// Monotonic ns of the next read turn that hashes the first bytes again and reads the
    /// recent bytes on their own (see `TailReader.readFile`).
    var nextThoroughCheck: Int64 = 0
    /// How often a file that keeps growing has its first bytes hashed again.
    static let thoroughCheckInterval: Int64 = 1_000_000_000
    /// Done ranges past the checkpoint it resumed from (sorted): delivered before the restart,
    /// so skipped instead of read and sent again.
    var skip: [Range<Int64>] = []

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
        let k = Self.recentBytes
        if chunk.count >= k {
            recent = Array(chunk[(chunk.count - k)...])
        } else {
            recent.append(contentsOf: chunk)
            if recent.count > k { recent.removeFirst(recent.count - k) }
        }
    }

    init(id: SourceID, input: Int, path: String, identity: FileIdentity, descriptor: FileDescriptor, offset: Int64,
         maxLineBytes: Int, fingerprint: Fingerprint, key: UInt64?, now: Int64) {
        self.id = id
        self.input = input
        self.path = path
        self.identity = identity
        self.descriptor = descriptor
        readOffset = offset
        splitter = LineSplitter(maxLineBytes: maxLineBytes, offset: offset)
        self.fingerprint = fingerprint
        self.key = key
        lastActivity = now
    }
}
