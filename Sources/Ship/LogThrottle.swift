/// At most one log line per `interval` for a repeated event, with how many were left out.
///
/// With 5% of requests failing at several hundred requests a second, "request failed;
/// retrying later" would be tens of lines a second; the first failure after a quiet spell is
/// logged at once, the rest once per interval with their count.
///
/// | call | result |
/// | --- | --- |
/// | first, or `interval` after the last logged one | log (`.some(suppressed since)`) |
/// | sooner | `nil`; counted |
struct LogThrottle: Sendable {
    let interval: Int64
    private var lastLogged: Int64?
    private var suppressed = 0

    init(interval: Int64) { self.interval = interval }

    /// Whether to log now; when so, how many were left out since the last logged one.
    mutating func admit(now: Int64) -> Int? {
        if let last = lastLogged, now - last < interval {
            suppressed += 1
            return nil
        }
        lastLogged = now
        defer { suppressed = 0 }
        return suppressed
    }
}
