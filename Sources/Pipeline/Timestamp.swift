import JSON

/// A point in time at millisecond resolution: what the Track API's `timestamp` carries.
///
/// The wire form (docs/track-api.md) is always UTC with exactly three fractional digits:
/// `YYYY-MM-DDTHH:MM:SS.sssZ`. Finer source digits are **truncated** (towards the past), never
/// rounded, so `…:36.9999Z` becomes `…:36.999Z` and an event never moves into the next second.
///
/// Years are limited to 0001–9999 (after conversion to UTC), the range the wire form can write.
/// All arithmetic is integer arithmetic on the source text: no `Double`, no Foundation.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z (negative before 1970).
    public private(set) var epochMilliseconds: Int64

    /// 0001-01-01T00:00:00.000Z
    public static let earliest = Timestamp(unchecked: -62_135_596_800_000)
    /// 9999-12-31T23:59:59.999Z
    public static let latest = Timestamp(unchecked: 253_402_300_799_999)

    init(unchecked ms: Int64) { epochMilliseconds = ms }

    /// Fails when outside 0001-01-01 … 9999-12-31 (the wire form has four year digits).
    public init(epochMilliseconds ms: Int64) throws(TimestampError) {
        guard ms >= Timestamp.earliest.epochMilliseconds, ms <= Timestamp.latest.epochMilliseconds else {
            throw TimestampError("outside the years 0001-9999")
        }
        epochMilliseconds = ms
    }

    /// From a wall-clock reading in nanoseconds since the epoch (the time a line was read).
    /// Truncated towards the past to whole milliseconds; every `Int64` is within range.
    public init(epochNanoseconds ns: Int64) {
        epochMilliseconds = Timestamp.floorDiv(ns, 1_000_000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.epochMilliseconds < b.epochMilliseconds }

    /// The wire form, e.g. `2024-10-20T15:51:36.514Z`.
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Timestamp.wireLength)
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Length of the wire form in bytes.
    public static let wireLength = 24

    /// Appends the 24-byte wire form (no quotes) to `bytes`.
    public func write(to bytes: inout [UInt8]) {
        var cache = DateCache()
        write(to: &bytes, cache: &cache)
    }

    /// The `YYYY-MM-DDT` of the last day written: log lines come in time order, so the calendar
    /// arithmetic runs once per day instead of once per event.
    struct DateCache: Sendable {
        var days: Int64 = .min
        var prefix: [UInt8] = []
    }

    func write(to bytes: inout [UInt8], cache: inout DateCache) {
        var buffer = ByteBuffer(capacity: Timestamp.wireLength)
        write(to: &buffer, cache: &cache)
        buffer.withBytes { bytes.append(contentsOf: $0) }
    }

    /// The wire form into a `ByteBuffer` (the mapping hot path): 24 bytes written in place.
    func write(to buffer: inout ByteBuffer, cache: inout DateCache) {
        let days = Timestamp.floorDiv(epochMilliseconds, 86_400_000)
        let msOfDay = Int(epochMilliseconds - days * 86_400_000)
        @inline(__always) func digit(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: 48 + v) }
        if days != cache.days {
            let (y, m, d) = Timestamp.civil(fromDays: days)
            let year = Int(y)
            cache.days = days
            cache.prefix = [
                digit(year / 1000), digit(year / 100 % 10), digit(year / 10 % 10), digit(year % 10), UInt8(ascii: "-"),
                digit(m / 10), digit(m % 10), UInt8(ascii: "-"), digit(d / 10), digit(d % 10), UInt8(ascii: "T"),
            ]
        }
        let o = buffer.reserve(Timestamp.wireLength)
        cache.prefix.withUnsafeBufferPointer { o.update(from: $0.baseAddress!, count: 11) }
        @inline(__always) func two(_ at: Int, _ v: Int) { o[at] = digit(v / 10); o[at + 1] = digit(v % 10) }
        two(11, msOfDay / 3_600_000); o[13] = UInt8(ascii: ":")
        two(14, msOfDay / 60_000 % 60); o[16] = UInt8(ascii: ":")
        two(17, msOfDay / 1000 % 60); o[19] = UInt8(ascii: ".")
        let ms = msOfDay % 1000
        o[20] = digit(ms / 100); two(21, ms % 100); o[23] = UInt8(ascii: "Z")
        buffer.commit(Timestamp.wireLength)
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, after H. Hinnant's "chrono-compatible
    // low-level date algorithms"; exact for every year in range, no tables).

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 of a valid civil date.
    public static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400                                        // 0...399
        let mp = Int64(month > 2 ? month - 3 : month + 9)              // March = 0
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1                   // 0...365
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy                // 0...146096
        return era * 146_097 + doe - 719_468
    }

    /// Civil date of a day count since 1970-01-01.
    public static func civil(fromDays z0: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    public static func daysIn(month: Int, year: Int64) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// Why a source value is not a timestamp. The reason is a phrase meant to follow the value,
/// e.g. `timestamp: "20-11-23T22:28:55.111Z": two-digit year "20" is ambiguous …`.
public struct TimestampError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The unit of an epoch number. Without one, the magnitude decides (see `Timestamp.parse`).
///
/// | name | unit | names accepted in a rule's `timestamp_unit` |
/// | --- | --- | --- |
/// | `.seconds` | s | `s`, `sec`, `seconds` |
/// | `.milliseconds` | ms | `ms`, `millis`, `milliseconds` |
/// | `.microseconds` | µs | `us`, `µs`, `micros`, `microseconds` |
/// | `.nanoseconds` | ns | `ns`, `nanos`, `nanoseconds` |
public enum TimestampUnit: Int, Sendable, CaseIterable, CustomStringConvertible {
    case seconds = 0
    case milliseconds = 3
    case microseconds = 6
    case nanoseconds = 9

    /// Decimal places between this unit and seconds.
    var decimalShift: Int { rawValue }

    public init?(name: String) {
        switch name {
        case "s", "sec", "seconds": self = .seconds
        case "ms", "millis", "milliseconds": self = .milliseconds
        case "us", "µs", "micros", "microseconds": self = .microseconds
        case "ns", "nanos", "nanoseconds": self = .nanoseconds
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .seconds: "s"
        case .milliseconds: "ms"
        case .microseconds: "us"
        case .nanoseconds: "ns"
        }
    }
}
