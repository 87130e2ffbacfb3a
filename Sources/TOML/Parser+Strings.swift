/// The four TOML string forms. Input was checked to be valid UTF-8 before parsing, so content
/// bytes are copied as they are and only control characters need a look.
///
/// | form                | delimiters  | escapes | newlines | line-ending backslash |
/// |---------------------|-------------|---------|----------|-----------------------|
/// | basic               | `"`         | yes     | no       | no                    |
/// | multi-line basic    | `"""`       | yes     | yes      | yes                   |
/// | literal             | `'`         | no      | no       | no                    |
/// | multi-line literal  | `'''`       | no      | yes      | no                    |
///
/// A newline right after the opening delimiter of a multi-line string is dropped, CRLF inside
/// one becomes LF, and up to two quotes may touch the closing delimiter (`""""` is one quote and
/// the end).
extension Parser {
    /// A basic string at `"`, or a multi-line one at `"""`.
    mutating func parseBasicString() throws(TOMLError) -> String {
        if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") {
            return try parseMultilineString(quote: UInt8(ascii: "\""), escapes: true)
        }
        let open = index
        index += 1
        var buffer: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw error("unterminated string (opened at \(position(at: open))): expected '\"'", at: index)
            }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: buffer, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &buffer)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("unterminated string (opened at \(position(at: open))): a basic string ends on its line; use \"\"\" for several lines", at: index)
            default:
                if Self.isControl(byte) {
                    throw error("\(describe(at: index)) is not allowed in a string; write it as an escape", at: index)
                }
                buffer.append(byte)
                index += 1
            }
        }
    }

    /// A literal string at `'`, or a multi-line one at `'''`.
    mutating func parseLiteralString() throws(TOMLError) -> String {
        if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") {
            return try parseMultilineString(quote: UInt8(ascii: "'"), escapes: false)
        }
        let open = index
        index += 1
        let start = index
        while true {
            guard let byte = peek() else {
                throw error("unterminated string (opened at \(position(at: open))): expected \"'\"", at: index)
            }
            switch byte {
            case UInt8(ascii: "'"):
                index += 1
                return String(decoding: bytes[start..<index - 1], as: UTF8.self)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("unterminated string (opened at \(position(at: open))): a literal string ends on its line; use ''' for several lines", at: index)
            default:
                if Self.isControl(byte) {
                    throw error("\(describe(at: index)) is not allowed in a literal string", at: index)
                }
                index += 1
            }
        }
    }

    /// `"""..."""` (with escapes) or `'''...'''` (without).
    private mutating func parseMultilineString(quote: UInt8, escapes: Bool) throws(TOMLError) -> String {
        let open = here
        index += 3
        if peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") { try consumeNewline() }
        var buffer: [UInt8] = []
        while true {
            guard let byte = peek() else {
                let delimiter = String(repeating: String(UnicodeScalar(quote)), count: 3)
                throw error("unterminated multi-line string (opened at \(open)): expected \(delimiter)", at: index)
            }
            switch byte {
            case quote:
                var run = 0
                while peek(run) == quote { run += 1 }
                if run < 3 {
                    buffer.append(contentsOf: repeatElement(quote, count: run))
                    index += run
                    continue
                }
                // The delimiter is the last three quotes of the run; at most two may precede it.
                let extra = min(run - 3, 2)
                buffer.append(contentsOf: repeatElement(quote, count: extra))
                index += 3 + extra
                return String(decoding: buffer, as: UTF8.self)
            case UInt8(ascii: "\\") where escapes:
                if isLineEndingBackslash() {
                    try skipLineEndingBackslash()
                } else {
                    try parseEscape(into: &buffer)
                }
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try consumeNewline()
                buffer.append(UInt8(ascii: "\n"))
            default:
                if Self.isControl(byte) {
                    let advice = escapes ? "; write it as an escape" : ""
                    throw error("\(describe(at: index)) is not allowed in a string\(advice)", at: index)
                }
                buffer.append(byte)
                index += 1
            }
        }
    }

    /// A `\` followed by optional spaces or tabs and then a line ending.
    private func isLineEndingBackslash() -> Bool {
        var ahead = 1
        while let byte = peek(ahead), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { ahead += 1 }
        return peek(ahead) == UInt8(ascii: "\n") || peek(ahead) == UInt8(ascii: "\r")
    }

    /// Drops the backslash and all whitespace and line endings up to the next other character.
    private mutating func skipLineEndingBackslash() throws(TOMLError) {
        index += 1
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") else { return }
            try consumeNewline()
        }
    }

    /// One escape sequence at `\`, appended to `buffer` as UTF-8.
    private mutating func parseEscape(into buffer: inout [UInt8]) throws(TOMLError) {
        let start = index
        index += 1
        guard let letter = peek() else {
            throw error("unterminated escape sequence at end of file", at: start)
        }
        index += 1
        switch letter {
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "\""): buffer.append(0x22)
        case UInt8(ascii: "\\"): buffer.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let width = letter == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<width {
                guard let byte = peek(), let digit = Self.hexDigit(byte) else {
                    let escape = String(decoding: bytes[start..<index], as: UTF8.self)
                    throw error("escape \(escape) needs \(width) hexadecimal digits", at: start)
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            guard let scalar = Unicode.Scalar(value) else {
                let escape = String(decoding: bytes[start..<index], as: UTF8.self)
                throw error("escape \(escape) is not a Unicode scalar value (surrogates and values above 10FFFF are not)", at: start)
            }
            Self.appendUTF8(scalar, to: &buffer)
        default:
            let shown = letter > 0x20 && letter < 0x7F
                ? "\\" + String(UnicodeScalar(letter))
                : "\\ followed by " + (letter == UInt8(ascii: " ") ? "a space" : describe(at: index - 1))
            throw error("invalid escape sequence \(shown); valid are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX", at: start)
        }
    }

    static func appendUTF8(_ scalar: Unicode.Scalar, to buffer: inout [UInt8]) {
        let value = scalar.value
        switch value {
        case 0..<0x80:
            buffer.append(UInt8(value))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | value >> 6))
            buffer.append(UInt8(0x80 | value & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | value >> 12))
            buffer.append(UInt8(0x80 | value >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | value & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | value >> 18))
            buffer.append(UInt8(0x80 | value >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | value >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | value & 0x3F))
        }
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
