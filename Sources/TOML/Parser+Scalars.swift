/// Booleans, numbers and dates: the values written without delimiters.
///
/// The parser first takes the whole token (letters, digits and `_ + - . :`, plus the one space
/// allowed between a date and a time) and then decides what it is, so that a bad value is
/// reported once, as a whole, at its first character, or at the exact character that is wrong:
///
/// | token starts with            | read as                                      |
/// |------------------------------|----------------------------------------------|
/// | `true`, `false`              | boolean (exactly these)                      |
/// | `inf`, `nan` with a sign     | float                                        |
/// | digits then `-`              | offset/local date-time or local date         |
/// | digits then `:`              | local time                                   |
/// | a sign or digit otherwise    | integer (`0x`, `0o`, `0b` prefixes) or float |
extension Parser {
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    mutating func parseScalar() throws(TOMLError) -> TOMLValue {
        let start = index
        while let byte = peek(), Self.isTokenByte(byte) { index += 1 }
        if index - start == 10, bytes[start + 4] == UInt8(ascii: "-"), peek() == UInt8(ascii: " "),
           let first = peek(1), Self.isDigit(first), let second = peek(2), Self.isDigit(second),
           peek(3) == UInt8(ascii: ":") {
            index += 1
            while let byte = peek(), Self.isTokenByte(byte) { index += 1 }
        }
        guard index > start else {
            throw error("expected a value, found \(describe(at: index))", at: index)
        }
        let token = Array(bytes[start..<index])
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default: break
        }
        if let firstOther = token.firstIndex(where: { !Self.isDigit($0) }), firstOther > 0 {
            if token[firstOther] == UInt8(ascii: "-") {
                return .datetime(try parseDateTime(token, at: start))
            }
            if token[firstOther] == UInt8(ascii: ":") {
                return .datetime(try parseLocalTime(token, at: start))
            }
        }
        let first = token[0]
        guard Self.isDigit(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") else {
            let hint: String
            switch text.lowercased() {
            case "true", "false": hint = "booleans are written true and false, in lower case"
            case "inf", "+inf", "-inf", "nan", "+nan", "-nan": hint = "infinity and not-a-number are written inf and nan, in lower case"
            default: hint = first == UInt8(ascii: ".") ? "a float needs a digit before '.'" : "a string must be in quotes"
            }
            throw error("invalid value \"\(text)\": \(hint)", at: start)
        }
        return try parseNumber(token, at: start)
    }

    // MARK: - Numbers

    private func parseNumber(_ token: [UInt8], at start: Int) throws(TOMLError) -> TOMLValue {
        let text = String(decoding: token, as: UTF8.self)
        var at = 0
        let negative = token[0] == UInt8(ascii: "-")
        if negative || token[0] == UInt8(ascii: "+") { at = 1 }
        if at + 1 < token.count, token[at] == UInt8(ascii: "0") {
            let radix: Int?
            switch token[at + 1] {
            case UInt8(ascii: "x"): radix = 16
            case UInt8(ascii: "o"): radix = 8
            case UInt8(ascii: "b"): radix = 2
            default: radix = nil
            }
            if let radix {
                if at > 0 {
                    throw error("a sign is not allowed on a hexadecimal, octal or binary integer: \"\(text)\"", at: start)
                }
                return .integer(try parseRadixInteger(token, radix: radix, at: start))
            }
        }
        let integerStart = at
        try scanDigits(token, &at, tokenStart: start, isDigit: Self.isDigit, what: "number \"\(text)\"")
        if token[integerStart] == UInt8(ascii: "0") && at - integerStart > 1 {
            throw error("leading zeros are not allowed in the number \"\(text)\"", at: start + integerStart)
        }
        var isFloat = false
        if at < token.count && token[at] == UInt8(ascii: ".") {
            isFloat = true
            at += 1
            try scanDigits(token, &at, tokenStart: start, isDigit: Self.isDigit, what: "fraction of \"\(text)\"")
        }
        if at < token.count && (token[at] == UInt8(ascii: "e") || token[at] == UInt8(ascii: "E")) {
            isFloat = true
            at += 1
            if at < token.count && (token[at] == UInt8(ascii: "+") || token[at] == UInt8(ascii: "-")) { at += 1 }
            try scanDigits(token, &at, tokenStart: start, isDigit: Self.isDigit, what: "exponent of \"\(text)\"")
        }
        if at < token.count {
            throw error("invalid character \(describe(at: start + at)) in the number \"\(text)\"", at: start + at)
        }
        if isFloat {
            let digits = String(decoding: token.lazy.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
            guard let value = Double(digits), value.isFinite else {
                throw error("the float \"\(text)\" is out of range for a 64-bit float", at: start)
            }
            return .float(value)
        }
        var value: Int64 = 0
        for byte in token[integerStart...] where byte != UInt8(ascii: "_") {
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if overflow1 || overflow2 {
                throw error("the integer \"\(text)\" is out of range for a 64-bit integer", at: start)
            }
            value = next
        }
        return .integer(value)
    }

    /// `0x…`, `0o…`, `0b…`: unsigned digits, at most `Int64.max`.
    private func parseRadixInteger(_ token: [UInt8], radix: Int, at start: Int) throws(TOMLError) -> Int64 {
        let text = String(decoding: token, as: UTF8.self)
        let name = radix == 16 ? "hexadecimal" : radix == 8 ? "octal" : "binary"
        let isRadixDigit: (UInt8) -> Bool = { byte in
            guard let digit = Self.hexDigit(byte) else { return false }
            return Int(digit) < radix
        }
        var at = 2
        try scanDigits(token, &at, tokenStart: start, isDigit: isRadixDigit, what: "\(name) integer \"\(text)\"")
        if at < token.count {
            throw error("invalid \(name) digit \(describe(at: start + at)) in \"\(text)\"", at: start + at)
        }
        var value: Int64 = 0
        for byte in token[2...] where byte != UInt8(ascii: "_") {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: Int64(radix))
            let (next, overflow2) = shifted.addingReportingOverflow(Int64(Self.hexDigit(byte) ?? 0))
            if overflow1 || overflow2 {
                throw error("the integer \"\(text)\" is out of range for a 64-bit integer", at: start)
            }
            value = next
        }
        return value
    }

    /// Digits with single underscores between them (`1_000`), at least one digit.
    private func scanDigits(
        _ token: [UInt8], _ at: inout Int, tokenStart: Int, isDigit: (UInt8) -> Bool, what: String
    ) throws(TOMLError) {
        guard at < token.count, isDigit(token[at]) else {
            let found = at < token.count ? describe(at: tokenStart + at) : "its end"
            throw error("expected a digit in the \(what), found \(found)", at: tokenStart + at)
        }
        at += 1
        while at < token.count {
            if isDigit(token[at]) {
                at += 1
            } else if token[at] == UInt8(ascii: "_") {
                guard at + 1 < token.count, isDigit(token[at + 1]) else {
                    throw error("an underscore in the \(what) must be between two digits", at: tokenStart + at)
                }
                at += 2
            } else {
                return
            }
        }
    }

    // MARK: - Dates and times

    /// `YYYY-MM-DD`, optionally followed by `T` (or `t`, or a space) and a time, optionally
    /// followed by `Z` or `±HH:MM`.
    private func parseDateTime(_ token: [UInt8], at start: Int) throws(TOMLError) -> TOMLDateTime {
        let text = String(decoding: token, as: UTF8.self)
        guard token.count >= 10, let year = Self.number(token, 0, 4), token[4] == UInt8(ascii: "-"),
              let month = Self.number(token, 5, 2), token[7] == UInt8(ascii: "-"),
              let day = Self.number(token, 8, 2)
        else {
            throw error("invalid date \"\(text)\": expected YYYY-MM-DD", at: start)
        }
        guard (1...12).contains(month) else {
            throw error("month \(month) is out of range (01-12) in \"\(text)\"", at: start + 5)
        }
        let days = TOMLDateTime.daysInMonth(month, year: year)
        guard (1...days).contains(day) else {
            throw error("day \(day) is out of range in \"\(text)\": that month has \(days) days", at: start + 8)
        }
        var value = TOMLDateTime(kind: .localDate, year: year, month: month, day: day)
        if token.count == 10 { return value }
        guard token[10] == UInt8(ascii: "T") || token[10] == UInt8(ascii: "t") || token[10] == UInt8(ascii: " ") else {
            throw error("expected 'T' between the date and the time in \"\(text)\", found \(describe(at: start + 10))", at: start + 10)
        }
        var at = 11
        try parseTime(token, &at, into: &value, tokenStart: start)
        if at == token.count {
            value.kind = .localDateTime
            return value
        }
        value.kind = .offsetDateTime
        switch token[at] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            value.offsetMinutes = 0
            at += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let hours = Self.number(token, at + 1, 2), at + 3 < token.count, token[at + 3] == UInt8(ascii: ":"),
                  let minutes = Self.number(token, at + 4, 2)
            else {
                throw error("invalid time offset in \"\(text)\": expected Z, +HH:MM or -HH:MM", at: start + at)
            }
            guard hours <= 23, minutes <= 59 else {
                throw error("time offset out of range in \"\(text)\" (at most 23:59)", at: start + at)
            }
            value.offsetMinutes = (hours * 60 + minutes) * (token[at] == UInt8(ascii: "-") ? -1 : 1)
            at += 6
        default:
            throw error("invalid time offset in \"\(text)\": expected Z, +HH:MM or -HH:MM, found \(describe(at: start + at))", at: start + at)
        }
        if at < token.count {
            throw error("unexpected \(describe(at: start + at)) after the date-time \"\(text)\"", at: start + at)
        }
        return value
    }

    private func parseLocalTime(_ token: [UInt8], at start: Int) throws(TOMLError) -> TOMLDateTime {
        var value = TOMLDateTime(kind: .localTime)
        var at = 0
        try parseTime(token, &at, into: &value, tokenStart: start)
        if at < token.count {
            throw error("unexpected \(describe(at: start + at)) after the time \"\(String(decoding: token, as: UTF8.self))\"", at: start + at)
        }
        return value
    }

    /// `HH:MM:SS` with an optional fraction; seconds are required in TOML 1.0.
    private func parseTime(_ token: [UInt8], _ at: inout Int, into value: inout TOMLDateTime, tokenStart start: Int) throws(TOMLError) {
        let text = String(decoding: token, as: UTF8.self)
        guard let hour = Self.number(token, at, 2), at + 2 < token.count, token[at + 2] == UInt8(ascii: ":"),
              let minute = Self.number(token, at + 3, 2), at + 5 < token.count, token[at + 5] == UInt8(ascii: ":"),
              let second = Self.number(token, at + 6, 2)
        else {
            throw error("invalid time in \"\(text)\": expected HH:MM:SS", at: start + at)
        }
        guard hour <= 23 else { throw error("hour \(hour) is out of range (00-23) in \"\(text)\"", at: start + at) }
        guard minute <= 59 else { throw error("minute \(minute) is out of range (00-59) in \"\(text)\"", at: start + at + 3) }
        guard second <= 60 else { throw error("second \(second) is out of range (00-60) in \"\(text)\"", at: start + at + 6) }
        value.hour = hour
        value.minute = minute
        value.second = second
        at += 8
        guard at < token.count, token[at] == UInt8(ascii: ".") else { return }
        at += 1
        var digits = 0
        var nanosecond = 0
        while at < token.count, Self.isDigit(token[at]) {
            if digits < 9 {
                nanosecond = nanosecond * 10 + Int(token[at] - UInt8(ascii: "0"))
                digits += 1
            }
            at += 1
        }
        guard digits > 0 else {
            throw error("expected digits after the '.' of the seconds in \"\(text)\"", at: start + at)
        }
        for _ in digits..<9 { nanosecond *= 10 }
        value.nanosecond = nanosecond
        value.fractionDigits = digits
    }

    /// Exactly `count` decimal digits at `offset`, or nil.
    private static func number(_ token: [UInt8], _ offset: Int, _ count: Int) -> Int? {
        guard offset >= 0, offset + count <= token.count else { return nil }
        var value = 0
        for byte in token[offset..<offset + count] {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
