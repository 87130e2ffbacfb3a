import HTTP
import Testing

struct URLCase: Sendable, CustomTestStringConvertible {
    var text: String
    var scheme: String
    var host: String
    var port: Int
    var path: String
    var authority: String
    var loopback: Bool
    var testDescription: String { text }
}

@Suite struct HTTPURLTests {
    static let valid: [URLCase] = [
        URLCase(text: "https://api.app.thrivestack.ai", scheme: "https", host: "api.app.thrivestack.ai", port: 443, path: "/", authority: "api.app.thrivestack.ai", loopback: false),
        URLCase(text: "HTTPS://API.Example.COM:443/api/track", scheme: "https", host: "api.example.com", port: 443, path: "/api/track", authority: "api.example.com", loopback: false),
        URLCase(text: "http://127.0.0.1:8080/api/track?x=1#frag", scheme: "http", host: "127.0.0.1", port: 8080, path: "/api/track?x=1", authority: "127.0.0.1:8080", loopback: true),
        URLCase(text: "http://[::1]:9000/", scheme: "http", host: "::1", port: 9000, path: "/", authority: "[::1]:9000", loopback: true),
        URLCase(text: "http://[2001:db8::1]", scheme: "http", host: "2001:db8::1", port: 80, path: "/", authority: "[2001:db8::1]", loopback: false),
        URLCase(text: "http://localhost:80", scheme: "http", host: "localhost", port: 80, path: "/", authority: "localhost", loopback: true),
        URLCase(text: "http://app.localhost:3000?q", scheme: "http", host: "app.localhost", port: 3000, path: "/?q", authority: "app.localhost:3000", loopback: true),
        URLCase(text: "http://127.10.0.3", scheme: "http", host: "127.10.0.3", port: 80, path: "/", authority: "127.10.0.3", loopback: true),
        URLCase(text: "https://10.0.0.1:8443/v1", scheme: "https", host: "10.0.0.1", port: 8443, path: "/v1", authority: "10.0.0.1:8443", loopback: false),
        URLCase(text: "http://127.0.0.1.example.com", scheme: "http", host: "127.0.0.1.example.com", port: 80, path: "/", authority: "127.0.0.1.example.com", loopback: false),
    ]

    @Test(arguments: valid)
    func parses(_ c: URLCase) throws {
        let url = try HTTPURL(c.text)
        #expect(url.scheme == c.scheme)
        #expect(url.host == c.host)
        #expect(url.port == c.port)
        #expect(url.path == c.path)
        #expect(url.authority == c.authority)
        #expect(url.isLoopback == c.loopback)
    }

    static let invalid: [(String, String)] = [
        ("api.example.com", "expected http:// or https://"),
        ("ftp://example.com", "scheme must be http or https"),
        ("https://", "missing host"),
        ("https://:443/x", "missing host"),
        ("https://user:pw@example.com", "user info is not allowed in the URL"),
        ("http://example.com:0", "port must be 1-65535"),
        ("http://example.com:65536", "port must be 1-65535"),
        ("http://example.com:", "port must be 1-65535"),
        ("http://example.com:8o", "port must be 1-65535"),
        ("http://[::1", "unclosed [ in IPv6 address"),
        ("http://[::1]x", "unexpected characters after ]"),
        ("http://[example.com]", "brackets are only for IPv6 addresses"),
        ("http://exa mple.com", "invalid character in host"),
        ("http://example.com/a b", "space or control character in path (percent-encode it)"),
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String, _ reason: String) {
        #expect(throws: HTTPError.invalidURL(text, reason: reason)) { try HTTPURL(text) }
    }

    @Test(arguments: [
        ("https://h", "/api/track", "/api/track"),
        ("https://h/", "/api/track", "/api/track"),
        ("https://h/base/", "api/track", "/base/api/track"),
        ("https://h/base?k=v", "/api/track", "/base/api/track?k=v"),
    ])
    func appendsPath(_ base: String, _ suffix: String, _ expected: String) throws {
        #expect(try HTTPURL(base).appendingPath(suffix).path == expected)
    }

    @Test func hostAndPortAlwaysHasThePort() throws {
        #expect(try HTTPURL("https://api.example.com").hostAndPort == "api.example.com:443")
        #expect(try HTTPURL("http://[::1]").hostAndPort == "[::1]:80")
        #expect(try HTTPURL("https://1.2.3.4").hostIsIPAddress)
        #expect(try !HTTPURL("https://localhost").hostIsIPAddress)
    }

    @Test func headersLookUpIgnoringCase() {
        var h: HTTPHeaders = ["Content-Type": "application/json", "X-A": "1", "x-a": "2"]
        #expect(h["content-type"] == "application/json")
        #expect(h.values(for: "X-A") == ["1", "2"])
        h["X-A"] = "3"
        #expect(h.values(for: "x-a") == ["3"])
        h["x-a"] = nil
        #expect(h["X-A"] == nil)
        #expect(h["Content-Typf"] == nil)
        #expect(h["Content-Typ"] == nil)
        let c: HTTPHeaders = ["Connection": "keep-alive, Close"]
        #expect(c.containsToken("close", in: "connection"))
        #expect(!c.containsToken("clos", in: "connection"))
    }
}
