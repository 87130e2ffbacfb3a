/// Strict UTF-8 checking (RFC 3629), done once before parsing so that the parser can copy
/// string bytes without decoding them. Rejects overlong forms, surrogates (U+D800–DFFF) and
/// values above U+10FFFF.
enum UTF8Validation {
    /// The offset of the first byte that does not start a valid sequence, or nil.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        var at = 0
        let count = bytes.count
        while at < count {
            let lead = bytes[at]
            if lead < 0x80 {
                at += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return at
            }
            guard at + length <= count else { return at }
            let second = bytes[at + 1]
            guard second >= low && second <= high else { return at }
            for next in 2..<length where bytes[at + next] & 0xC0 != 0x80 {
                return at
            }
            at += length
        }
        return nil
    }
}
