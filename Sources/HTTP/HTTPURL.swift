/// An `http://` or `https://` URL reduced to what an HTTP/1.1 client needs.
///
/// | input | scheme | host | port | path |
/// | --- | --- | --- | --- | --- |
/// | `https://api.app.thrivestack.ai` | https | api.app.thrivestack.ai | 443 | `/` |
/// | `http://127.0.0.1:8080/api/track?x=1#f` | http | 127.0.0.1 | 8080 | `/api/track?x=1` |
/// | `http://[::1]:9000/` | http | ::1 | 9000 | `/` |
///
/// User info (`user:pass@`) is rejected: secrets belong in headers read from files, not in URLs
/// that end up in logs. The host is lower-cased; the fragment is dropped.
public struct HTTPURL: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// `"http"` or `"https"`.
    public var scheme: String
    /// A DNS name or an IP literal (IPv6 without brackets).
    public var host: String
    public var port: Int
    /// Path and query, always starting with `/`.
    public var path: String

    public init(_ text: String) throws(HTTPError) {
        func fail(_ reason: String) -> HTTPError { .invalidURL(text, reason: reason) }
        var rest = Substring(text)
        guard let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") else {
            throw fail("expected http:// or https://")
        }
        let scheme = rest[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { throw fail("scheme must be http or https") }
        rest = rest[rest.index(colon, offsetBy: 3)...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty { path = "/" } else if path.first == "?" { path = "/" + path }
        guard !authority.contains("@") else { throw fail("user info is not allowed in the URL") }
        var host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unclosed [ in IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw fail("unexpected characters after ]") }
                portText = after.dropFirst()
            }
            guard host.contains(":") else { throw fail("brackets are only for IPv6 addresses") }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
        }
        guard !host.isEmpty else { throw fail("missing host") }
        for c in host.unicodeScalars where c.value <= 0x20 || c.value >= 0x7F || c == "%" || c == "/" {
            throw fail("invalid character in host")
        }
        var port = scheme == "https" ? 443 : 80
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portText), (1...65535).contains(p) else { throw fail("port must be 1-65535") }
            port = p
        }
        for c in path.unicodeScalars where c.value <= 0x20 || c.value == 0x7F {
            throw fail("space or control character in path (percent-encode it)")
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.path = path
    }

    public var isHTTPS: Bool { scheme == "https" }

    /// `localhost`, `*.localhost`, `127.0.0.0/8` or `::1`: traffic that never leaves the host, so
    /// plain `http://` is acceptable there.
    public var isLoopback: Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in UInt8(p) != nil }
    }

    /// Whether `host` is an IP literal rather than a DNS name (no SNI is sent for those, and the
    /// certificate is checked for an IP subjectAltName).
    public var hostIsIPAddress: Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in UInt8(p) != nil }
    }

    /// `host[:port]` as the `Host` header wants it: the port only when it is not the scheme's
    /// default; IPv6 in brackets.
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (isHTTPS ? 443 : 80) ? h : "\(h):\(port)"
    }

    /// `host:port`, always with the port (the `CONNECT` request target).
    public var hostAndPort: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// The same URL with `suffix` appended to the path, with exactly one `/` between them
    /// (`https://h/base/` + `/api/track` → `https://h/base/api/track`). A query stays at the end.
    public func appendingPath(_ suffix: String) -> HTTPURL {
        var copy = self
        var base = path
        var query = ""
        if let q = base.firstIndex(of: "?") {
            query = String(base[q...])
            base = String(base[..<q])
        }
        while base.hasSuffix("/") { base.removeLast() }
        let tail = suffix.hasPrefix("/") ? suffix : "/" + suffix
        copy.path = base + tail + query
        return copy
    }

    public var description: String { "\(scheme)://\(authority)\(path)" }
}
