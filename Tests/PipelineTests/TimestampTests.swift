import Testing
@testable import Pipeline

/// Every accepted source form, normalized to the wire form (docs/track-api.md, "Timestamps").
@Suite struct TimestampTests {
    static let accepted: [(String, TimestampUnit?, String)] = [
        // ISO-8601 / RFC 3339
        ("2024-10-20T15:51:36.514Z", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T15:51:36Z", nil, "2024-10-20T15:51:36.000Z"),
        ("2024-10-20T15:51:36.5Z", nil, "2024-10-20T15:51:36.500Z"),
        ("2024-10-20T15:51:36.514159Z", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T15:51:36.514159265Z", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T15:51:36.9999Z", nil, "2024-10-20T15:51:36.999Z"),       // truncated, not rounded
        ("2024-10-20T15:51:36.999999999999Z", nil, "2024-10-20T15:51:36.999Z"),
        ("2024-10-20T15:51:36,25Z", nil, "2024-10-20T15:51:36.250Z"),         // ISO decimal comma
        ("2024-10-20t15:51:36z", nil, "2024-10-20T15:51:36.000Z"),
        ("2024-10-20 15:51:36.514Z", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T15:51Z", nil, "2024-10-20T15:51:00.000Z"),               // seconds omitted
        ("2024-10-20T17:51:36.514+02:00", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T17:51:36.514+0200", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T17:51:36.514+02", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T10:21:36.514-05:30", nil, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T00:30:00+01:00", nil, "2024-10-19T23:30:00.000Z"),       // crosses midnight back
        ("2024-12-31T23:30:00-01:00", nil, "2025-01-01T00:30:00.000Z"),       // crosses the year
        ("2024-03-01T00:00:00+00:00", nil, "2024-03-01T00:00:00.000Z"),
        ("2024-02-29T12:00:00Z", nil, "2024-02-29T12:00:00.000Z"),            // leap year
        ("2000-02-29T12:00:00Z", nil, "2000-02-29T12:00:00.000Z"),            // 400-year leap
        ("2016-12-31T23:59:60Z", nil, "2016-12-31T23:59:59.999Z"),            // leap second
        ("1969-12-31T23:59:59.999Z", nil, "1969-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00Z", nil, "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", nil, "9999-12-31T23:59:59.999Z"),
        // epoch, unit by magnitude
        ("1729439496", nil, "2024-10-20T15:51:36.000Z"),
        ("1729439496514", nil, "2024-10-20T15:51:36.514Z"),
        ("1729439496514159", nil, "2024-10-20T15:51:36.514Z"),
        ("1729439496514159265", nil, "2024-10-20T15:51:36.514Z"),
        ("1729439496.5141559", nil, "2024-10-20T15:51:36.514Z"),
        ("1729439496.9999", nil, "2024-10-20T15:51:36.999Z"),
        ("1729439499.0007", nil, "2024-10-20T15:51:39.000Z"),
        ("1729439500.25", nil, "2024-10-20T15:51:40.250Z"),
        ("1729439496514.9", nil, "2024-10-20T15:51:36.514Z"),
        ("1.729439496514e12", nil, "2024-10-20T15:51:36.514Z"),
        ("1.7294394965E+9", nil, "2024-10-20T15:51:36.500Z"),
        ("0", nil, "1970-01-01T00:00:00.000Z"),
        ("-1", nil, "1969-12-31T23:59:59.000Z"),
        ("-1.5", nil, "1969-12-31T23:59:58.500Z"),
        ("-0.0001", nil, "1969-12-31T23:59:59.999Z"),                         // floor, not towards zero
        ("99999999999", nil, "5138-11-16T09:46:39.000Z"),                     // largest seconds
        ("100000000000", nil, "1973-03-03T09:46:40.000Z"),                    // smallest milliseconds
        ("00001729439496", nil, "2024-10-20T15:51:36.000Z"),                  // leading zeros
        // epoch, unit named by the rule
        ("1729439496", .seconds, "2024-10-20T15:51:36.000Z"),
        ("1729439496514", .milliseconds, "2024-10-20T15:51:36.514Z"),
        ("86400000", .milliseconds, "1970-01-02T00:00:00.000Z"),               // would read as seconds
        ("86400000", .seconds, "1972-09-27T00:00:00.000Z"),
        ("1729439496514159", .microseconds, "2024-10-20T15:51:36.514Z"),
        ("1729439496514159265", .nanoseconds, "2024-10-20T15:51:36.514Z"),
        ("1729439496514.75", .milliseconds, "2024-10-20T15:51:36.514Z"),
        ("2024-10-20T15:51:36.514Z", .milliseconds, "2024-10-20T15:51:36.514Z"), // unit ignored for ISO
    ]

    @Test(arguments: accepted)
    func accepts(_ source: String, _ unit: TimestampUnit?, _ wire: String) throws {
        let t = try Timestamp.parse(text: source, unit: unit)
        #expect(t.description == wire)
    }

    static let rejected: [(String, String)] = [
        ("20-11-23T22:28:55.111Z", "two-digit year \"20\" is ambiguous"),
        ("2024-02-30T00:00:00Z", "day 30 does not exist in 2024-02"),
        ("2023-02-29T00:00:00Z", "day 29 does not exist in 2023-02"),
        ("1900-02-29T00:00:00Z", "day 29 does not exist"),
        ("2024-13-01T00:00:00Z", "month 13 does not exist"),
        ("2024-00-01T00:00:00Z", "month 0 does not exist"),
        ("2024-04-31T00:00:00Z", "day 31 does not exist"),
        ("2024-10-20T25:00:00Z", "hour 25 does not exist"),
        ("2024-10-20T24:00:00Z", "hour 24 does not exist"),
        ("2024-10-20T23:60:00Z", "minute 60 does not exist"),
        ("2024-10-20T23:59:61Z", "second 61 does not exist"),
        ("2024-10-20T15:51:36", "no time zone"),
        ("2024-10-20T15:51:36.514", "no time zone"),
        ("2024-10-20", "a date without a time of day"),
        ("2024-10-20X15:51:36Z", "expected 'T' or a space"),
        ("2024-10-20T15:51:36.Z", "expected digits after the decimal mark"),
        ("2024-10-20T15:51:36+2", "expected two-digit offset hours"),
        ("2024-10-20T15:51:36+02:00 ", "unexpected text after the time zone"),
        ("2024-10-20T15:51:36+24:00", "offset out of range"),
        ("2024-10-20T15:51:36Q", "unexpected 'Q' where the time zone should be"),
        ("0000-01-01T00:00:00Z", "year 0000 does not exist"),
        ("0001-01-01T00:30:00+01:00", "outside the years 0001-9999"),
        ("9999-12-31T23:30:00-01:00", "outside the years 0001-9999"),
        ("12024-10-20T15:51:36Z", "expected a four-digit year"),
        ("yesterday", "not a date"),
        ("", "not a date"),
        ("1e30", "outside the years 0001-9999"),
        ("1.", "not a timestamp"),
        ("1e", "not a timestamp"),
    ]

    @Test(arguments: rejected)
    func rejects(_ source: String, _ reason: String) {
        #expect {
            _ = try Timestamp.parse(text: source, unit: nil)
        } throws: { error in
            (error as? TimestampError)?.reason.contains(reason) == true
        }
    }

    @Test func yearBoundsForEpochNumbers() throws {
        #expect(throws: TimestampError.self) { try Timestamp.parse(epoch: "253402300800", unit: .seconds) }
        #expect(try Timestamp.parse(epoch: "253402300799.9999", unit: .seconds).description == "9999-12-31T23:59:59.999Z")
        #expect(throws: TimestampError.self) { try Timestamp.parse(epoch: "-62135596801", unit: .seconds) }
        #expect(try Timestamp.parse(epoch: "-62135596800", unit: .seconds).description == "0001-01-01T00:00:00.000Z")
    }

    static let readTimes: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_729_439_496_514_999_999, "2024-10-20T15:51:36.514Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (Int64.max, "2262-04-11T23:47:16.854Z"),
    ]

    @Test(arguments: readTimes)
    func formatsReadTime(_ ns: Int64, _ wire: String) {
        #expect(Timestamp(epochNanoseconds: ns).description == wire)
    }

    /// The civil-date arithmetic round-trips every day of four centuries around the epoch.
    @Test func civilRoundTrip() {
        var days: Int64 = Timestamp.days(fromCivil: 1800, 1, 1)
        var failures = 0
        for year in Int64(1800)...2200 {
            for month in 1...12 {
                for day in 1...Timestamp.daysIn(month: month, year: year) {
                    let c = Timestamp.civil(fromDays: days)
                    if Timestamp.days(fromCivil: year, month, day) != days || c.year != year || c.month != month || c.day != day {
                        failures += 1
                    }
                    days += 1
                }
            }
        }
        #expect(failures == 0)
        #expect(Timestamp.days(fromCivil: 1970, 1, 1) == 0)
    }

    static let zones: [(String, Int?)] = [
        ("UTC", 0), ("Z", 0), ("+02:00", 120), ("+0200", 120), ("+02", 120), ("-05:30", -330), ("+23:59", 1439),
        ("Europe/Berlin", nil), ("+24:00", nil), ("2", nil), ("+2", nil), ("+02:00x", nil), ("", nil),
    ]

    @Test(arguments: zones)
    func fixedOffsets(_ name: String, _ minutes: Int?) {
        #expect(Timestamp.offsetMinutes(named: name) == minutes)
    }

    @Test func assumedOffsetOnlyForZonelessText() throws {
        #expect(try Timestamp.parse(text: "2024-10-20 17:51:36,514", assumedOffset: 120).description == "2024-10-20T15:51:36.514Z")
        #expect(try Timestamp.parse(text: "2024-10-20T15:51:36.514", assumedOffset: 0).description == "2024-10-20T15:51:36.514Z")
        // A zone in the text wins over the assumed one.
        #expect(try Timestamp.parse(text: "2024-10-20T15:51:36.514Z", assumedOffset: 120).description == "2024-10-20T15:51:36.514Z")
        #expect(try Timestamp.parse(text: "2024-10-20T16:51:36.514+01:00", assumedOffset: 120).description == "2024-10-20T15:51:36.514Z")
    }

    @Test func units() {
        #expect(TimestampUnit(name: "ms") == .milliseconds)
        #expect(TimestampUnit(name: "µs") == .microseconds)
        #expect(TimestampUnit(name: "us") == .microseconds)
        #expect(TimestampUnit(name: "ns") == .nanoseconds)
        #expect(TimestampUnit(name: "s") == .seconds)
        #expect(TimestampUnit(name: "minutes") == nil)
    }
}
