import JSON

/// The deterministic event id: equal for the same line of the same source, so that a receiver
/// can drop the duplicates that at-least-once delivery produces after a crash.
///
/// It is FNV-1a (64-bit) over 16 bytes: the source key (the caller's stable identity of the
/// file, e.g. derived from device and inode) then the line's start offset, both little-endian,
/// written as 16 lowercase hex digits. FNV-1a is not cryptographic: the id tells lines apart,
/// it does not hide where they came from.
public enum EventID {
    public static func hash(sourceKey: UInt64, offset: Int64) -> UInt64 {
        var h = FNV1a()
        h.add(sourceKey)
        h.add(UInt64(bitPattern: offset))
        return h.value
    }

    /// The id as written into `properties`.
    public static func string(sourceKey: UInt64, offset: Int64) -> String {
        var bytes: [UInt8] = []
        appendHex(hash(sourceKey: sourceKey, offset: offset), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendHex(_ value: UInt64, to bytes: inout [UInt8]) {
        var buffer = ByteBuffer(capacity: 16)
        appendHex(value, to: &buffer)
        buffer.withBytes { bytes.append(contentsOf: $0) }
    }

    static func appendHex(_ value: UInt64, to buffer: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        let out = buffer.reserve(16)
        for k in 0..<16 {
            out[k] = digits.utf8Start[Int((value >> UInt64(60 - 4 * k)) & 0xf)]
        }
        buffer.commit(16)
    }
}
