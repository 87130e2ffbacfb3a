import Posix
import Synchronization

/// What the shipper has done, for `/metrics` and the systemd status line. Updated with relaxed
/// atomics from the shipper's threads; read at any time.
public final class ShipCounters: Sendable {
    /// Events the API accepted (2xx).
    public let eventsShipped = Atomic<Int>(0)
    /// Requests sent, including retries and split halves.
    public let requests = Atomic<Int>(0)
    /// Events the API rejected (400/422/413 on a single event).
    public let rejected = Atomic<Int>(0)
    /// Records written to the dead letter (mapper rejections, oversized events, API rejections).
    public let deadLettered = Atomic<Int>(0)
    /// Batches split to isolate rejected events.
    public let splits = Atomic<Int>(0)
    /// Retries by status class.
    public let retries4xx = Atomic<Int>(0)
    public let retries5xx = Atomic<Int>(0)
    public let retriesTransport = Atomic<Int>(0)
    /// Outcomes that held the output (401/403/404/…, configuration failures).
    public let holds = Atomic<Int>(0)
    /// How long each `transport.post` took (successful or not), for `request_duration_seconds`.
    public let requestDuration = LatencyHistogram()
    private let lastErrorText = Mutex<String?>(nil)

    public init() {}

    /// The most recent failure, as logged (never holds the token).
    public var lastError: String? { lastErrorText.withLock { $0 } }
    func setLastError(_ s: String) { lastErrorText.withLock { $0 = s } }

    func countRetry(_ cause: RetryCause) {
        switch cause.statusClass {
        case "4xx": retries4xx.add(1, ordering: .relaxed)
        case "5xx": retries5xx.add(1, ordering: .relaxed)
        default: retriesTransport.add(1, ordering: .relaxed)
        }
    }

    /// A plain copy of the numbers.
    public struct Snapshot: Sendable, Equatable {
        public var eventsShipped, requests, rejected, deadLettered, splits: Int
        public var retries4xx, retries5xx, retriesTransport, holds: Int
        public var lastError: String?
    }

    public var snapshot: Snapshot {
        Snapshot(
            eventsShipped: eventsShipped.load(ordering: .relaxed), requests: requests.load(ordering: .relaxed),
            rejected: rejected.load(ordering: .relaxed), deadLettered: deadLettered.load(ordering: .relaxed),
            splits: splits.load(ordering: .relaxed), retries4xx: retries4xx.load(ordering: .relaxed),
            retries5xx: retries5xx.load(ordering: .relaxed), retriesTransport: retriesTransport.load(ordering: .relaxed),
            holds: holds.load(ordering: .relaxed), lastError: lastError)
    }
}

/// A fixed-bucket histogram of durations, recorded once per request by the sender threads and
/// read by the metrics endpoint. One `Mutex` around a few integers: a request takes
/// milliseconds, so the lock is never contended long enough to matter, and a snapshot is one
/// copy of thirteen numbers.
///
/// | bucket upper bounds (seconds) |
/// |---|
/// | 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, then +Inf |
public final class LatencyHistogram: Sendable {
    /// Upper bounds in nanoseconds, increasing.
    public static let bounds: [Int64] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000].map { $0 * 1_000_000 }

    /// Per-bucket counts (not cumulative); the last one counts durations above every bound.
    public struct Snapshot: Sendable, Equatable {
        public var counts: [Int]
        public var sumNanoseconds: Int64
        public var count: Int
    }

    /// A pthread mutex (`Posix.Locked`), not `Mutex`: senders record at once, and ThreadSanitizer
    /// cannot see a contended `Mutex` hand over (Tests/tsan.supp).
    private let state = Locked(Snapshot(counts: Array(repeating: 0, count: LatencyHistogram.bounds.count + 1), sumNanoseconds: 0, count: 0))

    public init() {}

    /// Counts one duration (negative values, from a clock that stepped, count as 0).
    public func record(nanoseconds: Int64) {
        let d = max(0, nanoseconds)
        var i = 0
        while i < LatencyHistogram.bounds.count && d > LatencyHistogram.bounds[i] { i += 1 }
        state.withLock { s in
            s.counts[i] += 1
            s.sumNanoseconds &+= d
            s.count += 1
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}

/// The output's health for `/health` and the systemd status line.
public enum ShipHealth: Sendable, Equatable, CustomStringConvertible {
    case ok
    case degraded(String)

    public var description: String {
        switch self {
        case .ok: "ok"
        case .degraded(let why): "degraded: \(why)"
        }
    }
}

/// `1500` → `1,500`, for messages people read.
func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}
