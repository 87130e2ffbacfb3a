import Glibc

/// Command-line options of `track-sink`. Every flag takes one value (`--flag value` or `--flag=value`).
struct Options: Sendable {
    /// TCP port on 127.0.0.1; 0 picks a free one (written to `readyFile`).
    var port: UInt16 = 0
    /// The only path that takes events.
    var path = "/api/track"
    /// Expected `Authorization: Bearer` token; empty accepts any request.
    var token = "bench-token"
    /// The key whose integer value identifies an event (found anywhere in the event, first hit).
    var idKey = "seq"
    /// Ids 0..<expect are expected; `complete_at` is stamped when all of them have arrived.
    var expect = 0
    /// Fraction of POSTs answered 503 without Retry-After.
    var failRate = 0.0
    /// Fraction of POSTs answered 429 with `Retry-After: retryAfter`.
    var rate429 = 0.0
    var retryAfter = 1
    /// Delay before every answer, in milliseconds.
    var latencyMs = 0.0
    /// Seed of the fault dice, so that a run's faults are repeatable.
    var seed: UInt64 = 1
    /// Counters as JSON, written when every expected event has arrived and again at exit.
    var statsFile = ""
    /// The bound port, written once the socket listens.
    var readyFile = ""
    /// At exit: the first-arrival time of each expected id (little-endian Int64 nanoseconds since
    /// the epoch, 0 = never), for the runner's lag percentiles.
    var arrivalsFile = ""
    /// The first accepted body (decoded, up to 64 KiB), to see what a shipper sends.
    var sampleFile = ""
    /// Safety net: exit by itself after this many seconds (0 = never).
    var maxSeconds = 0.0

    static let usage = """
        usage: track-sink [--port N] [--path /api/track] [--token T] [--id-key seq] [--expect N]
                          [--fail-rate P] [--429-rate P] [--retry-after S] [--latency-ms MS] [--seed N]
                          [--stats-file F] [--ready-file F] [--arrivals-file F] [--sample-file F]
                          [--max-seconds S]
        A loopback fake Track API for benchmarks: POST <path> with a JSON array of events (gzip
        allowed), answers 200; counts requests, events, unique ids, duplicates and lost ids.
        GET /stats returns the counters as JSON. SIGTERM or SIGINT writes the final stats and exits.
        """

    init(arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            var name = flag
            var value: String
            if let eq = flag.firstIndex(of: "=") {
                name = String(flag[..<eq])
                value = String(flag[flag.index(after: eq)...])
            } else {
                if name == "--help" || name == "-h" { throw UsageError(message: nil) }
                guard let next = rest.popFirst() else { throw UsageError(message: "\(flag) needs a value") }
                value = next
            }
            func number<T: LosslessStringConvertible>(_ type: T.Type) throws(UsageError) -> T {
                guard let v = T(value) else { throw UsageError(message: "\(name): not a number: \(value)") }
                return v
            }
            switch name {
            case "--port": port = try number(UInt16.self)
            case "--path": path = value
            case "--token": token = value
            case "--id-key": idKey = value
            case "--expect": expect = try number(Int.self)
            case "--fail-rate": failRate = try number(Double.self)
            case "--429-rate": rate429 = try number(Double.self)
            case "--retry-after": retryAfter = try number(Int.self)
            case "--latency-ms": latencyMs = try number(Double.self)
            case "--seed": seed = try number(UInt64.self)
            case "--stats-file": statsFile = value
            case "--ready-file": readyFile = value
            case "--arrivals-file": arrivalsFile = value
            case "--sample-file": sampleFile = value
            case "--max-seconds": maxSeconds = try number(Double.self)
            default: throw UsageError(message: "unknown option \(name)")
            }
        }
        guard expect >= 0, !idKey.isEmpty else { throw UsageError(message: "--expect and --id-key need sensible values") }
    }
}

struct UsageError: Error {
    /// nil for `--help`.
    let message: String?
}
