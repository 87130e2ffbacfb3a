/// One request as the caller describes it. `Host`, `Content-Length`, `Transfer-Encoding` and
/// `Connection` are written by the encoder (fields of those names in `headers` are ignored), so
/// that framing can never disagree with the body.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// Origin-form target: path and query (`/api/track`).
    public var path: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String = "POST", path: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// A complete response. Bodies are capped (`HTTPResponseParser.maxBodyBytes`, default 1 MiB):
/// tracktail only reads them to put an API's error message in a dead letter, so a larger body is
/// read to its end (keeping the connection usable) but only its head is kept.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The body was longer than the cap and `body` holds only its first bytes.
    public var bodyTruncated: Bool
    /// The server will close the connection after this response (`Connection: close`, HTTP/1.0
    /// without keep-alive, or a body delimited by the end of the connection).
    public var closesConnection: Bool

    public init(status: Int, reason: String = "", headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
                bodyTruncated: Bool = false, closesConnection: Bool = false) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.closesConnection = closesConnection
    }
}
