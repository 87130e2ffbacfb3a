/// What came back from one request: an HTTP response or a transport failure.
public enum DeliveryOutcome: Sendable, Equatable {
    case response(TrackResponse)
    case failure(TransportFailure)
}

/// Why a batch is sent again later.
public enum RetryCause: Sendable, Equatable, CustomStringConvertible {
    case status(Int)
    case transport(String)

    /// The label used by the retry counters: `4xx`, `5xx` or `transport`.
    public var statusClass: String {
        switch self {
        case .status(let s): s >= 500 ? "5xx" : "4xx"
        case .transport: "transport"
        }
    }

    public var description: String {
        switch self {
        case .status(let s): "HTTP \(s) from the Track API"
        case .transport(let m): "Track API unreachable (\(m))"
        }
    }
}

/// Why the output stopped sending: the configuration (token, scope, URL, certificate) is wrong,
/// and sending more would only repeat the refusal.
public struct HoldCause: Sendable, Equatable, CustomStringConvertible {
    public var status: Int?
    /// One line for the log and `/health`; names the status, never the token.
    public var message: String
    public var description: String { message }
}

/// The decision for one batch and one outcome: a pure function, tested as a table.
///
/// | outcome | batch of n > 1 | batch of 1 |
/// | --- | --- | --- |
/// | 2xx | `delivered` | `delivered` |
/// | 400, 422 | `split` | `deadLetter` with status and body |
/// | 413 | `split` | `deadLetter` |
/// | 408, 425, 429, 500, 502, 503, 504, transient failure | `retry` after backoff; with `Retry-After`, at least the asked time, and the whole output pauses for it (`DeliveryState`) | same |
/// | 401, 403, 404, any other 4xx, other status, `configuration` failure | `hold` | same |
///
/// Splitting in halves isolates one poison event in a batch of n with 2·⌈log2 n⌉ extra
/// requests: at each level one half passes and the other is split again.
/// Statuses outside 2xx/4xx/5xx (1xx, 3xx: a proxy or a wrong URL) hold, like a wrong URL.
public enum DeliveryDecision: Sendable, Equatable {
    case delivered
    case split
    case deadLetter(status: Int, reason: String)
    /// `retryAfter`: the wait the API asked for (`Retry-After`, capped), which pauses the whole output.
    case retry(after: Int64, cause: RetryCause, retryAfter: Int64? = nil)
    case hold(HoldCause)
}

public enum ResponsePlan {
    public static let transientStatuses: Set<Int> = [408, 425, 429, 500, 502, 503, 504]

    /// `destination`: the URL requests go to, named by the hold message when the URL is the likely fault.
    public static func decide(
        eventCount: Int, outcome: DeliveryOutcome, attempt: Int,
        policy: RetryPolicy, wallNow: Int64, random: inout some RandomNumberGenerator, destination: String = ""
    ) -> DeliveryDecision {
        switch outcome {
        case .failure(.transient(let m)):
            let cause = RetryCause.transport(m)
            return .retry(after: policy.delay(attempt: attempt, retryAfter: nil, wallNow: wallNow, random: &random), cause: cause)
        case .failure(.configuration(let m)):
            return .hold(HoldCause(status: nil, message: "Track API refused by configuration: \(m)"))
        case .response(let r):
            switch r.status {
            case 200...299:
                return .delivered
            case 400, 422, 413:
                if eventCount > 1 { return .split }
                let why = r.status == 413 ? "too large for the Track API" : "rejected by the Track API"
                return .deadLetter(status: r.status, reason: "HTTP \(r.status): event \(why)")
            case _ where transientStatuses.contains(r.status):
                let asked = r.retryAfter.flatMap { policy.asked($0, wallNow: wallNow) }
                let d = max(policy.backoff(attempt: attempt, random: &random), asked ?? 0)
                return .retry(after: d, cause: .status(r.status), retryAfter: asked)
            default:
                return .hold(HoldCause(status: r.status, message: holdMessage(status: r.status, destination: destination)))
            }
        }
    }

    /// The one clear error an operator sees while the output is held. A status that points at
    /// the URL names it (`destination`, when known) and the setting to fix.
    public static func holdMessage(status: Int, destination: String = "") -> String {
        let at = destination.isEmpty ? "" : " at \(destination)"
        return switch status {
        case 401: "HTTP 401 from the Track API: check the token"
        case 403: "HTTP 403 from the Track API: the token is not allowed to send events; check the token and its scope"
        case 404: "HTTP 404 from the Track API\(at): check output.url"
        case 300...399: "HTTP \(status) from the Track API\(at): check output.url (redirects are not followed)"
        case 500...599: "HTTP \(status) from the Track API: the server failed in an unexpected way"
        default: "HTTP \(status) from the Track API: the request was refused; check the output configuration"
        }
    }
}
