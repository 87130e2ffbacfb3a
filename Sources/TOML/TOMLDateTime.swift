/// A TOML date, time or date-time, kept as the calendar fields that were written.
///
/// TOML has four kinds; which fields are meaningful depends on the kind:
///
/// | kind              | example                        | date | time | offset |
/// |-------------------|--------------------------------|------|------|--------|
/// | `offsetDateTime`  | `1979-05-27T07:32:00-07:00`    | yes  | yes  | yes    |
/// | `localDateTime`   | `1979-05-27T07:32:00`          | yes  | yes  | no     |
/// | `localDate`       | `1979-05-27`                   | yes  | no   | no     |
/// | `localTime`       | `07:32:00.999`                 | no   | yes  | no     |
///
/// Fields that do not apply are zero (`offsetMinutes` is `nil`). No time zone arithmetic is
/// done here: a configuration that needs an instant can compute it from these fields. Fractional
/// seconds beyond nanoseconds are truncated, as the TOML specification allows.
public struct TOMLDateTime: Hashable, Sendable, CustomStringConvertible {
    /// Which of the four TOML date/time forms was written.
    public enum Kind: String, Hashable, Sendable {
        case offsetDateTime = "offset date-time"
        case localDateTime = "local date-time"
        case localDate = "local date"
        case localTime = "local time"
    }

    public var kind: Kind
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    /// 0...60: RFC 3339 allows a leap second.
    public var second: Int
    public var nanosecond: Int
    /// How many fraction digits were written (0...9), so `text` keeps the written precision.
    public var fractionDigits: Int
    /// Offset from UTC in minutes (`Z` is 0); `nil` for the local kinds.
    public var offsetMinutes: Int?

    public init(
        kind: Kind, year: Int = 0, month: Int = 0, day: Int = 0, hour: Int = 0, minute: Int = 0,
        second: Int = 0, nanosecond: Int = 0, fractionDigits: Int = 0, offsetMinutes: Int? = nil
    ) {
        self.kind = kind
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
        self.fractionDigits = fractionDigits
        self.offsetMinutes = offsetMinutes
    }

    /// The RFC 3339 form (`T` separator, upper-case `Z` for a zero offset, fraction digits as
    /// written): `1979-05-27T00:32:00.999-07:00`, `1979-05-27`, `07:32:00`.
    public var text: String {
        var out = ""
        if kind != .localTime {
            out += Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2)
        }
        if kind == .localDate { return out }
        if kind != .localTime { out += "T" }
        out += Self.pad(hour, 2) + ":" + Self.pad(minute, 2) + ":" + Self.pad(second, 2)
        let digits = min(max(fractionDigits, 0), 9)
        if digits > 0 {
            var scaled = nanosecond
            for _ in digits..<9 { scaled /= 10 }
            out += "." + Self.pad(scaled, digits)
        }
        if let offset = offsetMinutes {
            if offset == 0 {
                out += "Z"
            } else {
                let magnitude = abs(offset)
                out += (offset < 0 ? "-" : "+") + Self.pad(magnitude / 60, 2) + ":" + Self.pad(magnitude % 60, 2)
            }
        }
        return out
    }

    public var description: String { text }

    /// Whether `year` is a leap year in the proleptic Gregorian calendar.
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// Days in `month` (1...12) of `year`; 0 for a month out of range.
    public static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
