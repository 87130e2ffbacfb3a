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
