/// Reading timestamps from what log lines hold.
///
/// **ISO-8601 / RFC 3339 text** (`Timestamp.parse(iso:)`):
///
/// | part | accepted | example |
/// | --- | --- | --- |
/// | date | `YYYY-MM-DD`, four-digit year | `2024-10-20` |
/// | separator | `T`, `t` or one space | `2024-10-20 15:51:36Z` |
/// | time | `HH:MM`, `HH:MM:SS`, `HH:MM:SS.f…` (any number of fraction digits, `.` or `,`) | `15:51:36.5141559` |
/// | zone | `Z`, `z`, `±HH:MM`, `±HHMM`, `±HH` | `+02:00`, `-0530`, `+02` |
///
/// Rejected with a reason: a two-digit year (`20-11-23T…`, reference document 002: guessing the
/// century would silently put events in the wrong decade), a missing zone unless the rule names
/// a fixed offset to assume (`timestamp_zone = "+02:00"`; local time is ambiguous and tracktail
/// will not guess the writer's zone), a date without a time, hour 24, invalid
/// dates (`02-30`, `13` as a month). Seconds may be omitted (`15:51Z` is `15:51:00.000Z`), as
/// ISO-8601 allows. A leap second (`23:59:60`) is written as `23:59:59.999`, the last instant the
/// wire form can say before the next minute.
///
/// **Epoch numbers** (`Timestamp.parse(epoch:unit:)`): JSON number text (`1729439496514`,
/// `1729439496.5141559`, `1.729439496514e12`, negative for before 1970) or the same text inside
/// a string. The decimal text is scaled exactly, never through a `Double`. Without a unit named
/// by the rule, the magnitude of the integer part decides:
///
/// | integer part | unit | why the cut is there |
/// | --- | --- | --- |
/// | < 10^11 | seconds | 10^11 s is the year 5138 |
/// | < 10^14 | milliseconds | 10^11 ms is 1973-03-03, 10^14 ms the year 5138 |
/// | < 10^17 | microseconds | same cuts, three digits further |
/// | otherwise | nanoseconds | |
///
/// So a millisecond value before 1973-03-03 would read as seconds: name the unit
/// (`timestamp_unit = "ms"`) for such data.
extension Timestamp {
    /// A string value: epoch text if it is a decimal number, otherwise ISO-8601.
    /// `unit` applies only to epoch text, `assumedOffset` (minutes east of UTC) only to ISO text
    /// that has no zone of its own.
    public static func parse(
        text: ArraySlice<UInt8>, unit: TimestampUnit?, assumedOffset: Int? = nil
    ) throws(TimestampError) -> Timestamp {
        if looksLikeEpoch(text) { return try parse(epoch: text, unit: unit) }
        return try parse(iso: text, assumedOffset: assumedOffset)
    }

    public static func parse(text: String, unit: TimestampUnit? = nil, assumedOffset: Int? = nil) throws(TimestampError) -> Timestamp {
        try parse(text: ArraySlice(text.utf8), unit: unit, assumedOffset: assumedOffset)
    }

    /// A fixed offset as a rule's `timestamp_zone` names it, in minutes east of UTC:
    /// `Z`, `UTC`, `+02:00`, `-0530`, `+02`. `nil` for anything else: zone names such as
    /// `Europe/Berlin` change their offset with daylight saving, which needs the tz database.
    public static func offsetMinutes(named name: String) -> Int? {
        if name == "Z" || name == "z" || name == "UTC" || name == "utc" { return 0 }
        var p = Cursor(ArraySlice(name.utf8))
        guard let sign = p.next(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
              let minutes = try? offset(&p, sign: sign), p.atEnd
        else { return nil }
        return minutes
    }

    /// `HH`, `HHMM` or `HH:MM` after the sign, as minutes east of UTC.
    static func offset(_ p: inout Cursor, sign: UInt8) throws(TimestampError) -> Int {
        let oh = try p.digits(2, "offset hours")
        var om = 0
        if p.peek() == UInt8(ascii: ":") {
            _ = p.next()
            om = try p.digits(2, "offset minutes")
        } else if p.peek() != nil {
            om = try p.digits(2, "offset minutes")
        }
        guard oh <= 23, om <= 59 else { throw TimestampError("offset out of range") }
        return (oh * 60 + om) * (sign == UInt8(ascii: "-") ? -1 : 1)
    }

    /// Only characters of a decimal number and no `-` after the first character (a date has one).
    static func looksLikeEpoch(_ text: ArraySlice<UInt8>) -> Bool {
        guard let first = text.first else { return false }
        var i = text.startIndex
        if first == UInt8(ascii: "-") { i += 1 }
        guard i < text.endIndex, isDigit(text[i]) else { return false }
        var previous: UInt8 = 0
        while i < text.endIndex {
            let c = text[i]
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"):
                break
            case UInt8(ascii: "-") where previous == UInt8(ascii: "e") || previous == UInt8(ascii: "E"):
                break
            default:
                return false
            }
            previous = c
            i += 1
        }
        return true
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { DecimalText.isDigit(c) }

    // MARK: - ISO-8601

    public static func parse(iso text: ArraySlice<UInt8>, assumedOffset: Int? = nil) throws(TimestampError) -> Timestamp {
        var p = Cursor(text)

        // Date. Count the leading digits first so that a two-digit year gets its own reason.
        var yearDigits = 0
        while p.peek(yearDigits).map(isDigit) == true { yearDigits += 1 }
        if yearDigits == 2 && p.peek(2) == UInt8(ascii: "-") {
            let yy = String(decoding: text.prefix(2), as: UTF8.self)
            throw TimestampError("two-digit year \"\(yy)\" is ambiguous; the source must write all four digits (e.g. 20\(yy))")
        }
        guard yearDigits == 4 else {
            throw TimestampError(yearDigits == 0 ? "not a date (expected YYYY-MM-DD or an epoch number)" : "expected a four-digit year")
        }
        let year = Int64(try p.digits(4, "year"))
        try p.expect(UInt8(ascii: "-"), "'-' after the year")
        let month = try p.digits(2, "month")
        try p.expect(UInt8(ascii: "-"), "'-' after the month")
        let day = try p.digits(2, "day")
        guard year >= 1 else { throw TimestampError("year 0000 does not exist (years 0001-9999)") }
        guard (1...12).contains(month) else { throw TimestampError("month \(month) does not exist") }
        guard day >= 1, day <= daysIn(month: month, year: year) else {
            throw TimestampError("day \(day) does not exist in \(year)-\(pad2(month))")
        }

        // Time.
        guard let sep = p.next() else { throw TimestampError("a date without a time of day") }
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ") else {
            throw TimestampError("expected 'T' or a space between date and time at character \(p.index)")
        }
        let hour = try p.digits(2, "hour")
        try p.expect(UInt8(ascii: ":"), "':' after the hour")
        let minute = try p.digits(2, "minute")
        var second = 0
        var millis = 0
        if p.peek() == UInt8(ascii: ":") {
            _ = p.next()
            second = try p.digits(2, "second")
            if p.peek() == UInt8(ascii: ".") || p.peek() == UInt8(ascii: ",") {
                _ = p.next()
                var count = 0
                while let c = p.peek(), isDigit(c) {
                    if count < 3 { millis = millis * 10 + Int(c &- 48) }   // the rest is truncated
                    count += 1
                    _ = p.next()
                }
                guard count > 0 else { throw TimestampError("expected digits after the decimal mark") }
                while count < 3 { millis *= 10; count += 1 }
            }
        }
        guard hour <= 23 else { throw TimestampError("hour \(hour) does not exist") }
        guard minute <= 59 else { throw TimestampError("minute \(minute) does not exist") }
        guard second <= 60 else { throw TimestampError("second \(second) does not exist") }
        if second == 60 { second = 59; millis = 999 }   // leap second: last writable instant

        // Zone.
        var offsetMinutes = 0
        switch p.next() {
        case nil:
            guard let assumedOffset else {
                throw TimestampError("no time zone (Z or an offset like +02:00); set timestamp_zone to say which one the source means")
            }
            offsetMinutes = assumedOffset
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            break
        case let sign? where sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"):
            offsetMinutes = try offset(&p, sign: sign)
        case let z?:
            throw TimestampError("unexpected '\(Character(Unicode.Scalar(z)))' where the time zone should be")
        }
        guard p.atEnd else { throw TimestampError("unexpected text after the time zone") }

        let days = Timestamp.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return try Timestamp(epochMilliseconds: seconds * 1000 + Int64(millis))
    }

    public static func parse(iso text: String, assumedOffset: Int? = nil) throws(TimestampError) -> Timestamp {
        try parse(iso: ArraySlice(text.utf8), assumedOffset: assumedOffset)
    }

    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// A forward-only reader over the text with index-based errors.
    struct Cursor {
        let text: ArraySlice<UInt8>
        var i: Int
        init(_ text: ArraySlice<UInt8>) { self.text = text; i = text.startIndex }
        var index: Int { i - text.startIndex + 1 }
        var atEnd: Bool { i >= text.endIndex }
        func peek(_ ahead: Int = 0) -> UInt8? { i + ahead < text.endIndex ? text[i + ahead] : nil }
        mutating func next() -> UInt8? {
            guard i < text.endIndex else { return nil }
            defer { i += 1 }
            return text[i]
        }
        mutating func expect(_ c: UInt8, _ what: String) throws(TimestampError) {
            guard next() == c else { throw TimestampError("expected \(what) at character \(index - 1)") }
        }
        mutating func digits(_ n: Int, _ what: String) throws(TimestampError) -> Int {
            var v = 0
            for _ in 0..<n {
                guard let c = peek(), Timestamp.isDigit(c) else {
                    throw TimestampError("expected \(n == 4 ? "four" : "two")-digit \(what) at character \(index)")
                }
                v = v * 10 + Int(c &- 48)
                i += 1
            }
            return v
        }
    }

    // MARK: - Epoch numbers

    /// Epoch text: `-?digits(.digits)?([eE][+-]?digits)?`, scaled exactly.
    public static func parse(epoch text: ArraySlice<UInt8>, unit: TimestampUnit?) throws(TimestampError) -> Timestamp {
        guard let number = DecimalText(text) else { throw TimestampError("not a timestamp (neither ISO-8601 nor an epoch number)") }
        let resolved: TimestampUnit
        if let unit { resolved = unit } else {
            switch number.integerDigits {
            case ...11: resolved = .seconds
            case ...14: resolved = .milliseconds
            case ...17: resolved = .microseconds
            default: resolved = .nanoseconds
            }
        }
        guard let ms = number.floorScaled(by: 3 - resolved.decimalShift) else {
            throw TimestampError("outside the years 0001-9999")
        }
        return try Timestamp(epochMilliseconds: ms)
    }

    public static func parse(epoch text: String, unit: TimestampUnit? = nil) throws(TimestampError) -> Timestamp {
        try parse(epoch: ArraySlice(text.utf8), unit: unit)
    }
}
