/// Everything the `http` output can tune, with the defaults docs/track-api.md names.
///
/// | setting | default | bound |
/// | --- | --- | --- |
/// | `maxEvents` | 500 | 1 … 1,000 (API limit) |
/// | `maxBytes` | 1,000,000 | 64 … 2,000,000 (API limit; brackets and commas included) |
/// | `linger` | 1 s | ≥ 0 |
/// | `idleLinger` | 50 ms | 0 … `linger`: a batch leaves this early when the output is idle (see `BatchBuilder`) |
/// | `maxInFlight` | 2 | 1 … 64 |
/// | `backoffBase` / `backoffCap` | 0.5 s / 60 s | base > 0, cap ≥ base |
/// | `retryAfterCap` | 300 s | a `Retry-After` longer than this is shortened to it |
/// | `holdRetryInterval` | 60 s | how often a held output (401/403/404) tries again |
///
/// Durations are nanoseconds. `clamped()` applies the bounds, so a configuration can never
/// produce a request the API refuses for its size. Each default is written here once: the
/// configuration decoder, `check`, `RetryPolicy`, `BatchBuilder` and `DeliveryState` take them
/// from here.
public struct ShipConfiguration: Sendable, Equatable {
    public static let apiMaxEvents = 1_000
    public static let apiMaxBytes = 2_000_000

    public var maxEvents: Int = 500
    public var maxBytes: Int = 1_000_000
    public var linger: Int64 = 1_000_000_000
    public var idleLinger: Int64 = 50_000_000
    public var maxInFlight: Int = 2
    public var backoffBase: Int64 = 500_000_000
    public var backoffCap: Int64 = 60_000_000_000
    public var retryAfterCap: Int64 = 300_000_000_000
    public var holdRetryInterval: Int64 = 60_000_000_000
    /// Response bodies kept in a dead-letter record (a 400 may echo the whole batch).
    public var responseBodyLimit: Int = 4_096
    /// Mapped batches waiting between the mapper and the batcher, ~200 KB of events each
    /// during a backlog. 500k-line backlog (2 cores, shared): 8 → 4 costs no events/s and
    /// saves ~1 MB; 2 cost about a fifth of the events/s.
    public var inputCapacity: Int = 4

    public init() {}

    /// The dead-letter directory for a state directory.
    public static func deadLetterDirectory(stateDirectory: String) -> String {
        stateDirectory.hasSuffix("/") ? stateDirectory + "dead-letter" : stateDirectory + "/dead-letter"
    }

    /// The same configuration with every value inside its bounds.
    public func clamped() -> ShipConfiguration {
        var c = self
        c.maxEvents = min(max(1, maxEvents), Self.apiMaxEvents)
        c.maxBytes = min(max(64, maxBytes), Self.apiMaxBytes)
        c.linger = max(0, linger)
        c.idleLinger = min(c.linger, max(0, idleLinger))
        c.maxInFlight = min(max(1, maxInFlight), 64)
        c.backoffBase = max(1, backoffBase)
        c.backoffCap = max(c.backoffBase, backoffCap)
        c.retryAfterCap = max(0, retryAfterCap)
        c.holdRetryInterval = max(1, holdRetryInterval)
        c.responseBodyLimit = max(0, responseBodyLimit)
        c.inputCapacity = max(1, inputCapacity)
        return c
    }
}
