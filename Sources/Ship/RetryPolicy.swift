/// How long to wait before sending a batch again after a transient failure.
///
/// Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the
/// ceiling doubles per attempt from `base` up to `cap`, and the wait is uniform in
/// `0 … ceiling`, so many senders that failed together do not come back together.
///
/// | attempt (0 = first retry) | ceiling with the defaults |
/// | --- | --- |
/// | 0 | 0.5 s |
/// | 1 | 1 s |
/// | 2 | 2 s |
/// | … | … |
/// | 7 and later | 60 s |
///
/// A `Retry-After` (delta seconds or an HTTP date, relative to the clock's wall time) is the
/// least the wait will be, cut to `retryAfterCap`; the jittered backoff still applies when it
/// is longer, so a server answering `Retry-After: 0` to everything is not hammered. There is
/// no retry limit: data waits on disk, not in memory.
public struct RetryPolicy: Sendable, Equatable {
    public var base: Int64
    public var cap: Int64
    public var retryAfterCap: Int64

    /// The defaults come from `ShipConfiguration`, where each is declared once.
    public init(base: Int64, cap: Int64, retryAfterCap: Int64 = ShipConfiguration().retryAfterCap) {
        self.base = max(1, base)
        self.cap = max(self.base, cap)
        self.retryAfterCap = max(0, retryAfterCap)
    }

    public init(configuration c: ShipConfiguration = ShipConfiguration()) {
        self.init(base: c.backoffBase, cap: c.backoffCap, retryAfterCap: c.retryAfterCap)
    }

    /// The backoff ceiling for an attempt (no jitter).
    public func ceiling(attempt: Int) -> Int64 {
        var c = base
        var i = 0
        while i < attempt && c < cap {
            c = c > cap / 2 ? cap : c * 2
            i += 1
        }
        return min(c, cap)
    }

    /// Full jitter: a uniform wait in `0 … ceiling(attempt)`.
    public func backoff(attempt: Int, random: inout some RandomNumberGenerator) -> Int64 {
        let c = UInt64(ceiling(attempt: attempt))
        let r = random.next()
        // (c + 1) * r / 2^64: uniform in 0...c without modulo bias worth caring about.
        return Int64((c &+ 1).multipliedFullWidth(by: r).high)
    }

    /// The wait before retry number `attempt`, honouring a `Retry-After` value when given.
    public func delay(attempt: Int, retryAfter: String?, wallNow: Int64, random: inout some RandomNumberGenerator) -> Int64 {
        let jittered = backoff(attempt: attempt, random: &random)
        guard let retryAfter, let asked = asked(retryAfter, wallNow: wallNow) else { return jittered }
        return max(jittered, asked)
    }

    /// The wait a `Retry-After` value asks for, cut to `retryAfterCap`; nil when it does not parse.
    public func asked(_ retryAfter: String, wallNow: Int64) -> Int64? {
        Self.retryAfter(retryAfter, wallNow: wallNow).map { min($0, retryAfterCap) }
    }

    /// A `Retry-After` value as a wait in nanoseconds from `wallNow` (never negative); `nil`
    /// when it is neither delta seconds nor an HTTP date.
    public static func retryAfter(_ value: String, wallNow: Int64) -> Int64? {
        var trimmed = Substring(value)
        while trimmed.first == " " || trimmed.first == "\t" { trimmed.removeFirst() }
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Huge delta-seconds saturate rather than overflow; the cap cuts them anyway.
            guard trimmed.utf8.count <= 9, let s = Int64(trimmed) else { return Int64.max / 2 }
            return s * 1_000_000_000
        }
        guard let at = HTTPDate.parse(trimmed) else { return nil }
        let (ns, overflow) = at.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return at > 0 ? Int64.max / 2 : 0 }
        return max(0, ns - wallNow)
    }
}
