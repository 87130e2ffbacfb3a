import Posix

/// Buffered standard output: one `write(2)` per 64 KiB, not per line.
struct OutputBuffer {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(1 << 16) }
    mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func flushIfLarge() { if bytes.count >= 1 << 16 { flush() } }
    mutating func flush() {
        StandardStreams.out(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
