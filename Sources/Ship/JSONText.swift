/// The little JSON the Ship module writes and reads itself (dead-letter records, splitting a
/// body for stdout), until the JSON module's writer and parser are wired in.
///
/// Strings are escaped per RFC 8259 (`"`, `\`, control characters); everything else passes
/// as UTF-8. The reader accepts one flat object whose values are strings, integers, `null`,
/// booleans, or nested objects/arrays kept as raw text.
enum JSONText {
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case raw([UInt8])
        case null
    }

    struct ParseError: Error, CustomStringConvertible {
        var offset: Int
        var message: String
        var description: String { "byte \(offset): \(message)" }
    }

    /// Parses one flat object into its keys and values.
    static func parseObject(_ b: ArraySlice<UInt8>) throws(ParseError) -> [(String, Value)] {
        var p = Parser(bytes: b, i: b.startIndex)
        p.skipSpace()
        try p.expect(UInt8(ascii: "{"))
        var out: [(String, Value)] = []
        p.skipSpace()
        if p.peek == UInt8(ascii: "}") { p.i += 1; return out }
        while true {
            p.skipSpace()
            let key = try p.string()
            p.skipSpace()
            try p.expect(UInt8(ascii: ":"))
            p.skipSpace()
            out.append((key, try p.value()))
            p.skipSpace()
            if p.peek == UInt8(ascii: ",") { p.i += 1; continue }
            try p.expect(UInt8(ascii: "}"))
            break
        }
        p.skipSpace()
        if p.i < b.endIndex { throw ParseError(offset: p.i - b.startIndex, message: "text after the object") }
        return out
    }

    /// The element ranges of a JSON array (top level only), for writing a body one event per line.
    static func arrayElements(_ b: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = -1
        for (i, c) in b.enumerated() {
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                continue
            }
            switch c {
            case 0x22: inString = true; if depth == 1 && start < 0 { start = i }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if depth == 1 && start < 0 { start = i }
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { if start >= 0 { out.append(start..<i) }; return out.map(trimmed(b)) }
            case UInt8(ascii: ","):
                if depth == 1 { if start >= 0 { out.append(start..<i) }; start = -1 }
            case 0x20, 0x09, 0x0A, 0x0D: break
            default: if depth == 1 && start < 0 { start = i }
            }
        }
        return out.map(trimmed(b))
    }

    private static func trimmed(_ b: [UInt8]) -> (Range<Int>) -> Range<Int> {
        { r in
            var e = r.upperBound
            while e > r.lowerBound, [0x20, 0x09, 0x0A, 0x0D].contains(b[e - 1]) { e -= 1 }
            return r.lowerBound..<e
        }
    }

    private struct Parser {
        let bytes: ArraySlice<UInt8>
        var i: Int
        var peek: UInt8? { i < bytes.endIndex ? bytes[i] : nil }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
        }

        func fail(_ m: String) -> ParseError { ParseError(offset: i - bytes.startIndex, message: m) }

        mutating func expect(_ c: UInt8) throws(ParseError) {
            guard peek == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }

        mutating func value() throws(ParseError) -> Value {
            switch peek {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let s = i
                try skipNested()
                return .raw(Array(bytes[s..<i]))
            case UInt8(ascii: "n"):
                guard bytes[i...].starts(with: "null".utf8) else { throw fail("bad literal") }
                i += 4
                return .null
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let word = peek == UInt8(ascii: "t") ? "true" : "false"
                guard bytes[i...].starts(with: word.utf8) else { throw fail("bad literal") }
                let s = i
                i += word.utf8.count
                return .raw(Array(bytes[s..<i]))
            default:
                let s = i
                if peek == UInt8(ascii: "-") { i += 1 }
                while let c = peek, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { i += 1 }
                guard let v = Int64(String(decoding: bytes[s..<i], as: UTF8.self)) else { throw fail("expected a value") }
                return .integer(v)
            }
        }

        mutating func skipNested() throws(ParseError) {
            var depth = 0
            var inString = false
            var escaped = false
            while let c = peek {
                i += 1
                if inString {
                    if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                    continue
                }
                switch c {
                case 0x22: inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return }
                default: break
                }
            }
            throw fail("unterminated object or array")
        }

        mutating func string() throws(ParseError) -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while let c = peek {
                i += 1
                switch c {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case 0x5C:
                    guard let e = peek else { throw fail("unterminated escape") }
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar), bytes[i...].starts(with: #"\u"#.utf8) {
                            i += 2
                            let low = try hex4()
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
                        }
                        out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                    default: out.append(e)
                    }
                default: out.append(c)
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard i + 4 <= bytes.endIndex, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw fail("bad \\u escape")
            }
            i += 4
            return v
        }
    }
}
