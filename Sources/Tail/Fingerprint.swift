import Pipeline
import Posix

/// The first bytes of a file, hashed: with device + inode, what makes a file "the same file".
///
/// A file shorter than the configured length gets a fingerprint of what it has (`length` < the
/// configured length); as it grows, the fingerprint is re-taken over more bytes, after checking
/// that the old prefix still matches, until it reaches the configured length. So an empty or
/// tiny file is tracked at once, and `length` says how much of it the hash covers.
public struct Fingerprint: Sendable, Equatable, CustomStringConvertible {
    public var length: Int
    public var hash: UInt64
    public init(length: Int, hash: UInt64) {
        self.length = length
        self.hash = hash
    }

    public static let empty = Fingerprint(length: 0, hash: FNV1a().value)

    public var description: String { "\(length):\(Hex.string(hash))" }

    /// Reads up to `length` bytes at offset 0 of `descriptor` and hashes them.
    public static func read(_ descriptor: FileDescriptor, length: Int) throws -> Fingerprint {
        let bytes = try Self.readBytes(descriptor, at: 0, count: length)
        return Fingerprint(length: bytes.count, hash: hash(bytes))
    }

    /// Hash of the up to `count` bytes just before `offset` (the checkpoint's tail check).
    public static func tailHash(_ descriptor: FileDescriptor, before offset: Int64, count: Int) throws -> (length: Int, hash: UInt64) {
        let start = max(0, offset - Int64(count))
        let bytes = try readBytes(descriptor, at: start, count: Int(offset - start))
        return (bytes.count, hash(bytes))
    }

    /// FNV-1a of `bytes` through the raw-buffer loop: the generic `FNV1a.hash` is not
    /// specialized across modules and walked an iterator per byte (a tenth of a restart's CPU
    /// with 20,000 files, where every file's prefix and tail are hashed).
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h = FNV1a()
        bytes.withUnsafeBytes { h.add($0) }
        return h.value
    }

    static func readBytes(_ descriptor: FileDescriptor, at offset: Int64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try out.withUnsafeMutableBytes { (b) throws -> Int in
                try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: b[done...]), at: offset + Int64(done))
            }
            if n == 0 { break }
            done += n
        }
        out.removeSubrange(done...)
        return out
    }
}

/// Lower-case fixed-width hex for 64-bit values (hashes and keys in the checkpoint file).
enum Hex {
    static func string(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func parse(_ s: String) -> UInt64? { UInt64(s, radix: 16) }
}
