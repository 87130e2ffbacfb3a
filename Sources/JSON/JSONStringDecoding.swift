/// Decoding of string contents that the parser has already validated (escapes well formed, surrogates
/// paired, UTF-8 valid), so nothing here can fail. Only strings with escapes take this path; the rest are
/// used as they are in the source.
@usableFromInline
enum JSONStringDecoding {
    /// Calls `emit` with each decoded UTF-8 byte of `source` (the bytes between the quotes).
    @inlinable
    static func decode(_ source: UnsafeBufferPointer<UInt8>, _ emit: (UInt8) -> Void) {
        var j = 0
        let n = source.count
        while j < n {
            let c = source[j]
            if c != 0x5C {
                emit(c)
                j += 1
                continue
            }
            let e = source[j + 1]
            switch e {
            case 0x62: emit(0x08); j += 2
            case 0x66: emit(0x0C); j += 2
            case 0x6E: emit(0x0A); j += 2
            case 0x72: emit(0x0D); j += 2
            case 0x74: emit(0x09); j += 2
            case 0x75:
                var scalar = hex(source, j + 2)
                j += 6
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex(source, j + 2)
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                encodeUTF8(scalar, emit)
            default: emit(e); j += 2 // " \ /
            }
        }
    }

    @inlinable
    static func hex(_ s: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in at..<(at + 4) {
            let c = s[k]
            let d = c <= 0x39 ? c &- 0x30 : (c | 0x20) &- 0x57
            v = v << 4 | UInt32(d)
        }
        return v
    }

    @inlinable
    static func encodeUTF8(_ v: UInt32, _ emit: (UInt8) -> Void) {
        if v < 0x80 {
            emit(UInt8(v))
        } else if v < 0x800 {
            emit(UInt8(0xC0 | v >> 6))
            emit(UInt8(0x80 | v & 0x3F))
        } else if v < 0x10000 {
            emit(UInt8(0xE0 | v >> 12))
            emit(UInt8(0x80 | (v >> 6) & 0x3F))
            emit(UInt8(0x80 | v & 0x3F))
        } else {
            emit(UInt8(0xF0 | v >> 18))
            emit(UInt8(0x80 | (v >> 12) & 0x3F))
            emit(UInt8(0x80 | (v >> 6) & 0x3F))
            emit(UInt8(0x80 | v & 0x3F))
        }
    }

    /// The decoded bytes of `source`.
    @inlinable
    static func decoded(_ source: UnsafeBufferPointer<UInt8>, escaped: Bool) -> [UInt8] {
        if !escaped { return Array(source) }
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        decode(source) { out.append($0) }
        return out
    }

    /// Whether two string contents decode to the same bytes.
    @inlinable
    static func equal(_ x: UnsafeBufferPointer<UInt8>, escaped xe: Bool, _ y: UnsafeBufferPointer<UInt8>, escaped ye: Bool) -> Bool {
        if !xe && !ye {
            return x.count == y.count && bytesEqual(x, y)
        }
        let dx = decoded(x, escaped: xe)
        let dy = decoded(y, escaped: ye)
        return dx == dy
    }

    /// Whether the decoded `source` equals `target` (or, with `prefix`, starts with it).
    @inlinable
    static func compare(_ source: UnsafeBufferPointer<UInt8>, escaped: Bool, _ target: UnsafeBufferPointer<UInt8>, prefix: Bool) -> Bool {
        if !escaped {
            if prefix {
                return source.count >= target.count && bytesEqual(UnsafeBufferPointer(rebasing: source[0..<target.count]), target)
            }
            return source.count == target.count && bytesEqual(source, target)
        }
        // A decoded string is never longer than its source.
        if target.count > source.count { return false }
        var k = 0
        var same = true
        decode(source) { c in
            if !same { return }
            if k < target.count {
                if target[k] != c { same = false }
            } else if !prefix {
                same = false
            }
            k += 1
        }
        return same && k >= target.count
    }

    @inlinable
    static func bytesEqual(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = x.count
        guard n == y.count else { return false }
        if n == 0 { return true }
        let px = UnsafeRawPointer(x.baseAddress!)
        let py = UnsafeRawPointer(y.baseAddress!)
        var k = 0
        while k + 8 <= n {
            if px.loadUnaligned(fromByteOffset: k, as: UInt64.self) != py.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < n {
            if px.load(fromByteOffset: k, as: UInt8.self) != py.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        return true
    }
}
