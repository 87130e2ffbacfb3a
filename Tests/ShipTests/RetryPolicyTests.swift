import Testing
import Pipeline
@testable import Ship

@Suite struct RetryPolicyTests {
    static let s: Int64 = 1_000_000_000

    @Test(arguments: [
        (0, 500_000_000), (1, 1_000_000_000), (2, 2_000_000_000), (6, 32_000_000_000),
        (7, 60_000_000_000), (8, 60_000_000_000), (1_000, 60_000_000_000),
    ] as [(Int, Int64)])
    func ceilingDoublesToTheCap(attempt: Int, ceiling: Int64) {
        #expect(RetryPolicy().ceiling(attempt: attempt) == ceiling)
    }

    @Test(arguments: [(0, 0), (.max, 2_000_000_000), (1 << 63, 1_000_000_000)] as [(UInt64, Int64)])
    func fullJitterSpansZeroToCeiling(random: UInt64, expected: Int64) {
        var r = FixedRandom(value: random)
        #expect(RetryPolicy().backoff(attempt: 2, random: &r) == expected)
    }

    @Test func jitterStaysWithinTheCeiling() {
        var r = SplitMix64(seed: 42)
        let p = RetryPolicy()
        var seen = Set<Int64>()
        for attempt in 0..<20 {
            for _ in 0..<50 {
                let d = p.backoff(attempt: attempt, random: &r)
                #expect(d >= 0 && d <= p.ceiling(attempt: attempt))
                seen.insert(d)
            }
        }
        #expect(seen.count > 900)
    }

    static let wallNow: Int64 = 784_111_777 * 1_000_000_000  // Sun, 06 Nov 1994 08:49:37 GMT

    struct RetryAfterCase: Sendable, CustomTestStringConvertible {
        var header: String
        var wait: Int64?
        var testDescription: String { header }
    }

    @Test(arguments: [
        RetryAfterCase(header: "0", wait: 0),
        RetryAfterCase(header: "120", wait: 120 * s),
        RetryAfterCase(header: " 7 ", wait: 7 * s),
        RetryAfterCase(header: "99999999999999999999", wait: Int64.max / 2),
        RetryAfterCase(header: "Sun, 06 Nov 1994 08:50:07 GMT", wait: 30 * s),
        RetryAfterCase(header: "Sunday, 06-Nov-94 08:50:37 GMT", wait: 60 * s),
        RetryAfterCase(header: "Sun Nov  6 08:49:47 1994", wait: 10 * s),
        RetryAfterCase(header: "Sun, 06 Nov 1994 08:00:00 GMT", wait: 0),
        RetryAfterCase(header: "-5", wait: nil),
        RetryAfterCase(header: "1.5", wait: nil),
        RetryAfterCase(header: "", wait: nil),
        RetryAfterCase(header: "soon", wait: nil),
        RetryAfterCase(header: "Sun, 06 Nov 1994 08:50:07 PST", wait: nil),
    ])
    func retryAfter(_ c: RetryAfterCase) {
        #expect(RetryPolicy.retryAfter(c.header, wallNow: Self.wallNow) == c.wait)
    }

    @Test(arguments: [
        // (retry-after, random, expected): Retry-After is the least wait, capped at 300 s.
        ("10", UInt64(0), 10 * s),
        ("10", UInt64.max, 10 * s),            // attempt 0 ceiling 0.5 s < 10 s
        ("100000", UInt64(0), 300 * s),        // capped
        ("garbage", UInt64.max, 500_000_000),  // unparsable: plain backoff
        ("0", UInt64.max, 500_000_000),        // 0 does not undercut the backoff
    ] as [(String, UInt64, Int64)])
    func delayHonoursRetryAfter(header: String, random: UInt64, expected: Int64) {
        var r = FixedRandom(value: random)
        #expect(RetryPolicy().delay(attempt: 0, retryAfter: header, wallNow: Self.wallNow, random: &r) == expected)
    }

    @Test func noRetryAfterMeansBackoff() {
        var r = FixedRandom(value: .max)
        #expect(RetryPolicy(base: 100, cap: 1_000).delay(attempt: 3, retryAfter: nil, wallNow: 0, random: &r) == 800)
    }
}

@Suite struct HTTPDateTests {
    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", Int64?(784_111_777)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
        ("Sun Nov  6 08:49:37 1994", 784_111_777),
        ("Sun Nov 6 08:49:37 1994", 784_111_777),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Tue, 29 Feb 2028 23:59:59 GMT", 1_835_481_599),
        ("Wed, 24 Nov 2026 19:00:00 GMT", 1_795_546_800),
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
        ("Monday, 01-Jan-35 00:00:00 GMT", 2_051_222_400),
        ("sun, 06 nov 1994 08:49:37 GMT", 784_111_777),
        ("Sun, 06 Nov 1994 08:49:37", nil),
        ("Sun, 6 Nov 1994 08:49:37 GMT", nil),
        ("Sun, 31 Nov 1994 08:49:37 GMT", nil),
        ("Sat, 29 Feb 2025 00:00:00 GMT", nil),
        ("Sun, 06 Nov 1994 24:00:00 GMT", nil),
        ("Sun, 06 Foo 1994 08:49:37 GMT", nil),
        ("Sun, 06 Nov 94 08:49:37 GMT", nil),
        ("Sun, 06 Nov 1994 8:49:37 GMT", nil),
        ("1994-11-06T08:49:37Z", nil),
        ("", nil),
    ] as [(String, Int64?)])
    func parses(text: String, seconds: Int64?) {
        #expect(HTTPDate.parse(text) == seconds)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (784_111_777_123_999_999, "1994-11-06T08:49:37.123Z"),
        (1_835_481_599_999_000_000, "2028-02-29T23:59:59.999Z"),
        (-1_000_000, "1969-12-31T23:59:59.999Z"),
    ])
    func iso8601(ns: Int64, text: String) {
        #expect(Timestamp(epochNanoseconds: ns).description == text)
        #expect(DeadLetterFile.parseTime(text) == ns / 1_000_000 * 1_000_000)
    }
}
