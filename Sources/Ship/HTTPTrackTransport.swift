import HTTP
import Synchronization

/// Where and how the `http` output sends: the `[output]` settings of the HTTP client side.
/// Each default is written here once; the configuration decoder reads them from here.
///
/// | setting | default |
/// | --- | --- |
/// | `url` | `https://api.app.thrivestack.ai/api/track` |
/// | `bearer` | true (`Authorization: Bearer <token>`) unless `apiKeyHeader` is set |
/// | `apiKeyHeader` | none |
/// | `connectTimeout` / `requestTimeout` | the HTTP client's (10 s / 30 s) |
/// | `caFile`, `proxy` | none |
/// | `gzip` | false |
public struct TrackEndpoint: Sendable, Equatable {
    public var url = "https://api.app.thrivestack.ai/api/track"
    public var bearer = true
    public var apiKeyHeader: String?
    public var connectTimeout = HTTPClientConfiguration.defaultConnectTimeout
    public var requestTimeout = HTTPClientConfiguration.defaultRequestTimeout
    public var caFile: String?
    public var proxy: String?
    /// `Content-Encoding: gzip` on requests (off by default: it costs more CPU than it saves on a fast link).
    public var gzip = false

    public init() {}
}

/// Why an `HTTPTrackTransport` could not be built: the `[output]` key at fault and what is wrong.
public struct TrackEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `url`, `proxy`, or nil for the output as a whole (e.g. a CA file that does not load).
    public var key: String?
    public var message: String
    public var description: String { key.map { "[output] \($0): \(message)" } ?? "[output]: \(message)" }
}

/// The `http` output's transport: our HTTP/1.1 client, with the headers docs/track-api.md requires.
///
/// The token sits behind a mutex so that SIGHUP can install a re-read one (a rotated key file or
/// credential) without a restart. It is only ever put into a request header.
public final class HTTPTrackTransport: TrackTransport {
    public let destination: String
    /// The client may retry once on a fresh connection with a fresh request time-out; the
    /// margin covers gzip and a slow resolver (see `Heartbeats`).
    public let longestPost: Int64
    private let client: HTTPClient
    private let path: String
    private let bearer: Bool
    private let apiKeyHeader: String?
    private let gzip: Bool
    private let token: Mutex<String>

    public init(_ endpoint: TrackEndpoint, poolSize: Int, userAgent: String, token: String) throws(TrackEndpointError) {
        let url: HTTPURL
        do {
            url = try HTTPURL(endpoint.url)
        } catch {
            throw TrackEndpointError(key: "url", message: "\(error)")
        }
        var c = HTTPClientConfiguration(url: url, caFile: endpoint.caFile)
        if let p = endpoint.proxy {
            do {
                c.proxy = try HTTPURL(p)
            } catch {
                throw TrackEndpointError(key: "proxy", message: "\(error)")
            }
        }
        c.connectTimeoutNanoseconds = endpoint.connectTimeout
        c.requestTimeoutNanoseconds = endpoint.requestTimeout
        c.poolSize = poolSize
        c.userAgent = userAgent
        do {
            client = try HTTPClient(c)
        } catch {
            throw TrackEndpointError(key: nil, message: "\(error)")
        }
        destination = endpoint.url
        longestPost = 2 * (endpoint.connectTimeout + endpoint.requestTimeout) + 10_000_000_000
        path = url.path
        bearer = endpoint.bearer
        apiKeyHeader = endpoint.apiKeyHeader
        gzip = endpoint.gzip
        self.token = Mutex(token)
    }

    public func replaceToken(_ new: String) { token.withLock { $0 = new } }

    public func post(_ body: [UInt8]) throws(TransportFailure) -> TrackResponse {
        let secret = token.withLock { $0 }
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Accept": "application/json"]
        if bearer { headers.add(name: "Authorization", value: "Bearer " + secret) }
        if let h = apiKeyHeader { headers.add(name: h, value: secret) }
        var payload = body
        if gzip {
            do {
                payload = try Gzip.compress(body)
                headers.add(name: "Content-Encoding", value: "gzip")
            } catch {
                throw .transient("gzip: \(error)")
            }
        }
        let response: HTTPResponse
        do {
            response = try client.send(HTTPRequest(method: "POST", path: path, headers: headers, body: payload))
        } catch {
            throw TransportFailure(error)
        }
        return TrackResponse(status: response.status, retryAfter: response.headers["Retry-After"], body: response.body)
    }

    public func close() { client.close() }
}

extension TransportFailure {
    /// What an HTTP client error means for the shipper: a pure decision, tested as a table.
    ///
    /// | `HTTPError` | failure | the shipper |
    /// | --- | --- | --- |
    /// | `invalidURL`, `shutDown` | `configuration` | holds |
    /// | `tls` with a certificate that failed verification | `configuration` | holds (retrying will not fix a certificate) |
    /// | `resolve`, `connect`, `timeout`, other `tls`, `proxy`, `protocol`, `closed`, `io` | `transient` | retries with backoff |
    public init(_ error: HTTPError) {
        switch error {
        case .invalidURL, .shutDown: self = .configuration(error.description)
        case .tls where error.isCertificateError: self = .configuration(error.description)
        default: self = .transient(error.description)
        }
    }
}
