import Runtime

/// What the Track API answered to one `POST /api/track`.
public struct TrackResponse: Sendable, Equatable {
    public var status: Int
    /// The raw `Retry-After` header value, when there was one (seconds or an HTTP date).
    public var retryAfter: String?
    public var body: [UInt8]

    public init(status: Int, retryAfter: String? = nil, body: [UInt8] = []) {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
    }
}

/// A request that got no HTTP answer.
///
/// | case | examples | what the shipper does |
/// | --- | --- | --- |
/// | `transient` | connection refused, reset, time-out, DNS failure | retry with backoff |
/// | `configuration` | TLS certificate refused, bad URL, proxy refused CONNECT | hold, like a 401 |
public enum TransportFailure: Error, Sendable, Equatable {
    case transient(String)
    case configuration(String)
}

/// The seam between the shipper and the network: one blocking request.
///
/// Called from the shipper's dedicated sender threads, one call per in-flight request, never
/// from the cooperative pool. The body is a complete JSON array of events; the transport adds
/// headers (authentication, content type, compression) and owns connections and time-outs.
/// A transport's own request time-out bounds how long `Shipper.stop(deadline:)` can wait.
public protocol TrackTransport: Sendable {
    func post(_ body: [UInt8]) throws(TransportFailure) -> TrackResponse
    /// Where requests go, for messages that ask to check it (`""`: nowhere to name).
    var destination: String { get }
    /// The longest one `post` can take by its own time-outs (nanoseconds): a sender inside
    /// `post` for longer is stuck, and stops the watchdog (see `Heartbeats`).
    var longestPost: Int64 { get }
}

extension TrackTransport {
    public var destination: String { "" }
    public var longestPost: Int64 { Heartbeats.defaultMaxSilence }
}
