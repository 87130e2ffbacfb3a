/// Serializes a request head. Pure, so it is table-tested byte for byte.
///
/// ```
/// POST /api/track HTTP/1.1\r\n
/// Host: api.example.com\r\n           ← from the target URL (port only when not the default)
/// User-Agent: tracktail/1.0\r\n       ← only when the request has none
/// <request headers, in order>\r\n     ← except Host, Content-Length, Transfer-Encoding, Connection
/// Content-Length: 42\r\n              ← always for POST/PUT/PATCH, and whenever there is a body
/// Connection: keep-alive\r\n
/// \r\n
/// ```
///
/// CR, LF or NUL in the method, target or any header is rejected (header injection).
public enum HTTPRequestEncoder {
    /// Writes the head into `buffer` (cleared first, capacity kept, so a long-lived buffer does
    /// not allocate per request). `target` is the request target: the origin-form path, or the
    /// absolute-form URL when talking to a proxy.
    public static func encodeHead(_ request: HTTPRequest, target: String, host: String, userAgent: String?,
                                  into buffer: inout [UInt8]) throws(HTTPError) {
        buffer.removeAll(keepingCapacity: true)
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(isTokenByte) else {
            throw .protocol("invalid request method \"\(request.method)\"")
        }
        try check(target, "request target")
        append(request.method, to: &buffer)
        buffer.append(0x20)
        append(target, to: &buffer)
        append(" HTTP/1.1\r\nHost: ", to: &buffer)
        try check(host, "Host")
        append(host, to: &buffer)
        append("\r\n", to: &buffer)
        if let userAgent, request.headers["User-Agent"] == nil {
            try check(userAgent, "User-Agent")
            append("User-Agent: ", to: &buffer)
            append(userAgent, to: &buffer)
            append("\r\n", to: &buffer)
        }
        for (name, value) in request.headers {
            if HTTPHeaders.equalIgnoringCase(name, "Host") || HTTPHeaders.equalIgnoringCase(name, "Content-Length")
                || HTTPHeaders.equalIgnoringCase(name, "Connection") || HTTPHeaders.equalIgnoringCase(name, "Transfer-Encoding") {
                continue
            }
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { throw .protocol("invalid header name \"\(name)\"") }
            try check(value, name)
            append(name, to: &buffer)
            append(": ", to: &buffer)
            append(value, to: &buffer)
            append("\r\n", to: &buffer)
        }
        let method = request.method
        if !request.body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" {
            append("Content-Length: ", to: &buffer)
            append(String(request.body.count), to: &buffer)
            append("\r\n", to: &buffer)
        }
        append("Connection: keep-alive\r\n\r\n", to: &buffer)
    }

    /// Head and body in one array (for tests and small requests).
    public static func encode(_ request: HTTPRequest, target: String? = nil, host: String, userAgent: String? = nil) throws(HTTPError) -> [UInt8] {
        var buffer: [UInt8] = []
        try encodeHead(request, target: target ?? request.path, host: host, userAgent: userAgent, into: &buffer)
        buffer.append(contentsOf: request.body)
        return buffer
    }

    /// The head of a `CONNECT` request that asks a proxy for a tunnel to `authority` (`host:port`).
    public static func encodeConnect(authority: String, userAgent: String?, into buffer: inout [UInt8]) throws(HTTPError) {
        try encodeHead(HTTPRequest(method: "CONNECT", path: authority), target: authority, host: authority,
                       userAgent: userAgent, into: &buffer)
    }

    private static func check(_ text: String, _ what: String) throws(HTTPError) {
        for b in text.utf8 where b == 0x0D || b == 0x0A || b == 0 {
            throw .protocol("CR, LF or NUL in \(what)")
        }
    }

    private static func append(_ text: String, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: text.utf8)
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
