/// Everything the HTTP client can fail with, worded for a log line and classified for the shipper.
///
/// | case | typical cause | shipper's reading |
/// | --- | --- | --- |
/// | `invalidURL` | a typo in `output.url` or `output.proxy` | configuration error |
/// | `resolve` | DNS name unknown or resolver down | transient |
/// | `connect` | refused, unreachable, every address failed | transient |
/// | `timeout` | connect, TLS handshake, send or receive took too long | transient |
/// | `tls` with `isCertificateError` | untrusted, expired or wrong-host certificate | held like 401: never accepted |
/// | `tls` otherwise | handshake failure, protocol mismatch | transient |
/// | `proxy` | the proxy refused `CONNECT` | transient (or configuration) |
/// | `protocol` | the server sent something that is not HTTP/1.1 | transient |
/// | `closed` | the peer closed the connection | transient |
/// | `io` | another socket error (`ECONNRESET` mid-response, …) | transient |
/// | `shutDown` | `send` after `close()` | — |
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String, reason: String)
    case resolve(host: String, reason: String)
    case connect(host: String, port: Int, reason: String)
    case timeout(HTTPPhase, host: String)
    case tls(reason: String, host: String, certificate: Bool)
    case proxy(String)
    case `protocol`(String)
    /// The peer closed the connection: before any byte of the response, or in the middle of it.
    case closed(beforeResponse: Bool)
    case io(String)
    case shutDown

    /// A certificate that failed verification (untrusted chain, expired, wrong host name).
    /// Retrying will not help until someone fixes the certificate or `ca_file`.
    public var isCertificateError: Bool {
        if case .tls(_, _, true) = self { return true }
        return false
    }

    /// True for a timeout in any phase.
    public var isTimeout: Bool {
        if case .timeout = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case let .invalidURL(text, reason): return "invalid URL \"\(text)\": \(reason)"
        case let .resolve(host, reason): return "cannot resolve \(host): \(reason)"
        case let .connect(host, port, reason):
            // The reason names the address tried; drop it when it only repeats host and port.
            var r = Substring(reason)
            for prefix in ["\(host):\(port): ", "[\(host)]:\(port): "] where r.hasPrefix(prefix) { r = r.dropFirst(prefix.count) }
            return "cannot connect to \(host) port \(port): \(r)"
        case let .timeout(phase, host): return "timeout during \(phase.rawValue) with \(host)"
        case let .tls(reason, host, certificate):
            return certificate ? "TLS certificate verify failed: \(reason) (host \(host))" : "TLS error: \(reason) (host \(host))"
        case let .proxy(reason): return "proxy: \(reason)"
        case let .protocol(reason): return "HTTP protocol error: \(reason)"
        case let .closed(before):
            return before ? "connection closed by the server before any response" : "connection closed by the server in the middle of a response"
        case let .io(reason): return "I/O error: \(reason)"
        case .shutDown: return "HTTP client is closed"
        }
    }
}

/// The step of an exchange that ran out of time.
public enum HTTPPhase: String, Sendable, Equatable {
    case connect = "connect"
    case tlsHandshake = "TLS handshake"
    case proxyConnect = "proxy CONNECT"
    case send = "sending the request"
    case receive = "waiting for the response"
}
