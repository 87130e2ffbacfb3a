import HTTP
import Ship
import Synchronization

/// The `http` output's transport: our HTTP/1.1 client, with the headers CONTRACT.md requires.
///
/// The token sits behind a mutex so that SIGHUP can install a re-read one (a rotated key file or
/// credential) without a restart. It is only ever put into a request header.
final class HTTPTrackTransport: TrackTransport {
    private let client: HTTPClient
    private let path: String
    private let bearer: Bool
    private let apiKeyHeader: String?
    private let gzip: Bool
    private let token: Mutex<String>

    init(_ output: Configuration.Output, token: String) throws(CommandFailure) {
        let url: HTTPURL
        do {
            url = try HTTPURL(output.url)
        } catch {
            throw CommandFailure("[output] url: \(error)", code: .config)
        }
        var c = HTTPClientConfiguration(url: url, caFile: output.caFile)
        if let p = output.proxy {
            do {
                c.proxy = try HTTPURL(p)
            } catch {
                throw CommandFailure("[output] proxy: \(error)", code: .config)
            }
        }
        c.connectTimeoutNanoseconds = output.connectTimeout
        c.requestTimeoutNanoseconds = output.requestTimeout
        c.poolSize = output.maxInFlight
        c.userAgent = "tracktail/\(Help.version)"
        do {
            client = try HTTPClient(c)
        } catch {
            throw CommandFailure("[output]: \(error)", code: .config)
        }
        longestPost = 2 * (output.connectTimeout + output.requestTimeout) + 10_000_000_000
        path = url.path
        bearer = output.bearer
        apiKeyHeader = output.apiKeyHeader
        gzip = output.gzip
        self.token = Mutex(token)
    }

    func replaceToken(_ new: String) { token.withLock { $0 = new } }

    /// The client may retry once on a fresh connection with a fresh request time-out; the
    /// margin covers gzip and a slow resolver.
    let longestPost: Int64

    func post(_ body: [UInt8]) throws(TransportFailure) -> TrackResponse {
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
            switch error {
            case .invalidURL, .shutDown: throw .configuration(error.description)
            case .tls where error.isCertificateError: throw .configuration(error.description)
            default: throw .transient(error.description)
            }
        }
        return TrackResponse(status: response.status, retryAfter: response.headers["Retry-After"], body: response.body)
    }

    func close() { client.close() }
}
