/// FNV-1a, 64 bits: the hash of event ids, fingerprints, the bytes before a checkpoint, and file keys.
///
/// Not cryptographic, and it need not be: it tells files apart that a person or logrotate made,
/// not files crafted to collide. It is stable across versions (it is stored in checkpoints).
public struct FNV1a: Sendable, Equatable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        value = h
    }

    public mutating func add<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        value = h
    }

    public mutating func add(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { add($0) }
    }

    public static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h = FNV1a()
        h.add(bytes)
        return h.value
    }
}
