/// How an `HTTPClient` reaches one origin.
///
/// | field | default | note |
/// | --- | --- | --- |
/// | `url` | — | the origin (`https://api.app.thrivestack.ai`); requests carry their own path |
/// | `connectTimeout` | 10 s | resolving + TCP connect, per `send` |
/// | `requestTimeout` | 30 s | the whole exchange (connect, TLS, send, response) |
/// | `caFile` | nil | PEM CA certificates trusted in addition to the system store |
/// | `proxy` | nil | `http://host:port`; https targets are tunnelled with `CONNECT`, http targets get absolute-form requests |
/// | `poolSize` | 2 | idle keep-alive connections kept (match the shipper's requests in flight) |
/// | `maxIdleSeconds` | 30 | an idle connection older than this is closed rather than reused |
/// | `maxResponseBodyBytes` | 1 MiB | longer bodies are read to the end but truncated |
/// | `userAgent` | `tracktail` | sent unless the request has its own `User-Agent` |
///
/// Not supported, on purpose or for now: redirects (a 3xx is returned as is — a moved API is a
/// configuration error), proxy authentication (`Proxy-Authorization`), https proxies, HTTP/2,
/// request compression (the caller sets `Content-Encoding` and compresses the body itself).
public struct HTTPClientConfiguration: Sendable {
    public var url: HTTPURL
    public static let defaultConnectTimeout: Int64 = 10_000_000_000
    public static let defaultRequestTimeout: Int64 = 30_000_000_000
    public var connectTimeoutNanoseconds = defaultConnectTimeout
    public var requestTimeoutNanoseconds = defaultRequestTimeout
    public var caFile: String?
    public var proxy: HTTPURL?
    public var poolSize: Int = 2
    public var maxIdleNanoseconds: Int64 = 30_000_000_000
    public var maxResponseBodyBytes: Int = 1 << 20
    public var userAgent: String = "tracktail"

    public init(url: HTTPURL, caFile: String? = nil, proxy: HTTPURL? = nil) {
        self.url = url
        self.caFile = caFile
        self.proxy = proxy
    }

    /// Timeouts in seconds (fractions allowed), as configuration files state them.
    public var connectTimeout: Double {
        get { Double(connectTimeoutNanoseconds) / 1e9 }
        set { connectTimeoutNanoseconds = Int64(newValue * 1e9) }
    }
    public var requestTimeout: Double {
        get { Double(requestTimeoutNanoseconds) / 1e9 }
        set { requestTimeoutNanoseconds = Int64(newValue * 1e9) }
    }
}
