import HTTP
import Testing

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
private func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

@Suite struct HTTPRequestEncoderTests {
    @Test func postWithBody() throws {
        let request = HTTPRequest(method: "POST", path: "/api/track",
                                  headers: ["Content-Type": "application/json", "Authorization": "Bearer t",
                                            "content-length": "999", "Host": "evil", "Connection": "close"],
                                  body: bytes("[1]"))
        let wire = try HTTPRequestEncoder.encode(request, host: "api.example.com", userAgent: "tracktail/1.0")
        #expect(text(wire) == "POST /api/track HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: tracktail/1.0\r\n"
            + "Content-Type: application/json\r\nAuthorization: Bearer t\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n[1]")
    }

    @Test func getHasNoContentLengthAndKeepsOwnUserAgent() throws {
        let request = HTTPRequest(method: "GET", path: "/stats", headers: ["User-Agent": "mine"])
        let wire = try HTTPRequestEncoder.encode(request, host: "127.0.0.1:8080", userAgent: "tracktail")
        #expect(text(wire) == "GET /stats HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: mine\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func emptyPostStillSaysContentLengthZero() throws {
        let wire = try HTTPRequestEncoder.encode(HTTPRequest(path: "/"), host: "h")
        #expect(text(wire) == "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func absoluteFormTargetAndConnect() throws {
        let wire = try HTTPRequestEncoder.encode(HTTPRequest(method: "GET", path: "/x"), target: "http://h:81/x", host: "h:81")
        #expect(text(wire).hasPrefix("GET http://h:81/x HTTP/1.1\r\nHost: h:81\r\n"))
        var buffer: [UInt8] = []
        try HTTPRequestEncoder.encodeConnect(authority: "api.example.com:443", userAgent: nil, into: &buffer)
        #expect(text(buffer) == "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\nConnection: keep-alive\r\n\r\n")
    }

    static let injections: [HTTPRequest] = [
        HTTPRequest(path: "/a\r\nX: y"),
        HTTPRequest(method: "PO ST", path: "/"),
        HTTPRequest(method: "", path: "/"),
        HTTPRequest(path: "/", headers: ["X-Key": "v\r\nInjected: 1"]),
        HTTPRequest(path: "/", headers: ["Bad Name": "v"]),
        HTTPRequest(path: "/", headers: ["X": "a\nb"]),
    ]

    @Test(arguments: injections)
    func rejectsInjection(_ request: HTTPRequest) {
        #expect(throws: HTTPError.self) { try HTTPRequestEncoder.encode(request, host: "h") }
    }

    @Test func reusesBufferCapacity() throws {
        var buffer: [UInt8] = []
        try HTTPRequestEncoder.encodeHead(HTTPRequest(path: "/long/path/to/make/it/bigger"), target: "/long/path/to/make/it/bigger",
                                          host: "h", userAgent: nil, into: &buffer)
        let capacity = buffer.capacity
        try HTTPRequestEncoder.encodeHead(HTTPRequest(path: "/"), target: "/", host: "h", userAgent: nil, into: &buffer)
        #expect(buffer.capacity == capacity)
        #expect(text(buffer).hasPrefix("POST / HTTP/1.1"))
    }
}

/// A response on the wire and what the parser must make of it.
struct ParseCase: Sendable, CustomTestStringConvertible {
    var name: String
    var method = "POST"
    var wire: String
    var status: Int
    var reason = "OK"
    var body: String = ""
    var closes = false
    var headers: [(String, String)] = []
    /// Bytes that follow the response (the next response) and must be left unconsumed.
    var trailing = ""
    /// Completes only at end of input (close-delimited body).
    var atEOF = false
    var testDescription: String { name }
}

@Suite struct HTTPResponseParserTests {
    static let cases: [ParseCase] = [
        ParseCase(name: "content-length", wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
                  status: 200, body: "hello", headers: [("Content-Length", "5"), ("Content-Type", "text/plain")]),
        ParseCase(name: "empty body", wire: "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", status: 202, reason: "Accepted"),
        ParseCase(name: "bare LF and no reason", wire: "HTTP/1.1 200\nContent-Length: 2\n\nok", status: 200, reason: "", body: "ok"),
        ParseCase(name: "chunked with extension and trailer",
                  wire: "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5;name=x\r\nhello\r\n"
                      + "1B\r\n, world, in chunks of hex!!\r\n0\r\nX-Trailer: t\r\n\r\n",
                  status: 400, reason: "Bad Request", body: "hello, world, in chunks of hex!!",
                  headers: [("Transfer-Encoding", "chunked"), ("X-Trailer", "t")]),
        ParseCase(name: "chunked wins over content-length and closes",
                  wire: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                  status: 200, body: "ok", closes: true),
        ParseCase(name: "100 continue skipped",
                  wire: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
                  status: 201, reason: "Created", body: "x", headers: [("Content-Length", "1")]),
        ParseCase(name: "HEAD has no body", method: "HEAD", wire: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", status: 200),
        ParseCase(name: "204 has no body", wire: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, reason: "No Content"),
        ParseCase(name: "304 has no body", method: "GET", wire: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                  status: 304, reason: "Not Modified"),
        ParseCase(name: "CONNECT 200 has no body", method: "CONNECT", wire: "HTTP/1.1 200 Connection established\r\n\r\n",
                  status: 200, reason: "Connection established"),
        ParseCase(name: "connection close noted", wire: "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n",
                  status: 503, reason: "Service Unavailable", closes: true),
        ParseCase(name: "HTTP/1.0 closes", wire: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", closes: true),
        ParseCase(name: "HTTP/1.0 keep-alive", wire: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
                  status: 200, body: "ok"),
        ParseCase(name: "close-delimited body", wire: "HTTP/1.1 500 Internal Server Error\r\n\r\nsomething broke",
                  status: 500, reason: "Internal Server Error", body: "something broke", closes: true, atEOF: true),
        ParseCase(name: "next response left over", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok",
                  trailing: "HTTP/1.1 200 OK\r\n"),
        ParseCase(name: "repeated equal content-length", wire: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok",
                  status: 200, body: "ok"),
        ParseCase(name: "header value trimmed", wire: "HTTP/1.1 429 Too Many Requests\r\nRetry-After: \t 7 \t\r\nContent-Length: 0\r\n\r\n",
                  status: 429, reason: "Too Many Requests", headers: [("Retry-After", "7"), ("Content-Length", "0")]),
    ]

    /// Feeds `input` in two parts split at `split` (and, for a third of the points, byte by byte
    /// after it) and returns the response and how many bytes it consumed.
    static func parse(_ c: ParseCase, split: Int, byteWise: Bool) throws -> (HTTPResponse, Int)? {
        var parser = HTTPResponseParser()
        parser.reset(requestMethod: c.method)
        let input = bytes(c.wire + c.trailing)
        var pieces: [ArraySlice<UInt8>] = [input[..<split]]
        if byteWise { pieces += input[split...].map { [$0][...] } } else { pieces.append(input[split...]) }
        var offset = 0
        for piece in pieces {
            let outcome = try parser.feed(Array(piece))
            if case .complete(let response, let consumed) = outcome { return (response, offset + consumed) }
            offset += piece.count
        }
        if c.atEOF { return (try parser.finish(), input.count) }
        return nil
    }

    @Test(arguments: cases)
    func parsesAtEverySplitPoint(_ c: ParseCase) throws {
        let total = c.wire.utf8.count + c.trailing.utf8.count
        for split in 0...total {
            let result = try Self.parse(c, split: split, byteWise: split % 3 == 0)
            guard let (response, consumed) = result else {
                Issue.record("incomplete at split \(split)")
                return
            }
            #expect(response.status == c.status, "split \(split)")
            #expect(response.reason == c.reason)
            #expect(text(response.body) == c.body, "split \(split)")
            #expect(response.closesConnection == c.closes)
            #expect(consumed == c.wire.utf8.count, "split \(split)")
            for (name, value) in c.headers { #expect(response.headers[name] == value, "\(name)") }
            if !c.headers.isEmpty { #expect(response.headers.count == c.headers.count) }
        }
    }

    static let malformed: [(String, String)] = [
        ("HTTP/2 200 OK\r\n\r\n", "bad status line"),
        ("HTTP/1.1 20 OK\r\n\r\n", "bad status code"),
        ("HTTP/1.1 2x0 OK\r\n\r\n", "bad status code"),
        ("HTTP/1.1 200OK\r\n\r\n", "bad status line"),
        ("SSH-2.0-OpenSSH_9.0\r\n", "bad status line"),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected 101"),
        ("HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n", "folded header"),
        ("HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", "invalid header name"),
        ("HTTP/1.1 200 OK\r\nName : 1\r\n\r\n", "invalid header name"),
        ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "without a name and colon"),
        ("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "without a name and colon"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting Content-Length"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size line"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n", "missing CRLF after chunk data"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", "chunk size too large"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformed(_ wire: String, _ reason: String) {
        var parser = HTTPResponseParser()
        parser.reset(requestMethod: "POST")
        do {
            let outcome = try parser.feed(bytes(wire))
            Issue.record("accepted: \(outcome)")
        } catch {
            guard case .protocol(let message) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(message.contains(reason), "\(message)")
        }
    }

    @Test func headLimit() throws {
        var parser = HTTPResponseParser(maxBodyBytes: 1 << 20, maxHeadBytes: 64 << 10)
        parser.reset(requestMethod: "POST")
        _ = try parser.feed(bytes("HTTP/1.1 200 OK\r\n"))
        let big = "X-Big: " + String(repeating: "a", count: 1000) + "\r\n"
        #expect(throws: HTTPError.protocol("response head longer than 65536 bytes")) {
            for _ in 0..<70 { _ = try parser.feed(bytes(big)) }
        }
        // A head of exactly the limit passes; one byte less fails.
        let head = bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        var exact = HTTPResponseParser(maxBodyBytes: 10, maxHeadBytes: head.count)
        exact.reset(requestMethod: "GET")
        #expect(try exact.feed(head) == .complete(HTTPResponse(status: 200, reason: "OK", headers: ["Content-Length": "0"]), consumed: head.count))
        var short = HTTPResponseParser(maxBodyBytes: 10, maxHeadBytes: head.count - 1)
        short.reset(requestMethod: "GET")
        #expect(throws: HTTPError.protocol("response head longer than \(head.count - 1) bytes")) { try short.feed(head) }
    }

    @Test func chunkSizeLineLimit() throws {
        var parser = HTTPResponseParser()
        parser.reset(requestMethod: "POST")
        _ = try parser.feed(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"))
        #expect(throws: HTTPError.self) { _ = try parser.feed([UInt8](repeating: 0x61, count: 5000)) }
    }

    @Test func bodyCappedButConsumed() throws {
        var parser = HTTPResponseParser(maxBodyBytes: 4)
        parser.reset(requestMethod: "POST")
        let outcome = try parser.feed(bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\n\r\n0123456789"))
        guard case .complete(let response, let consumed) = outcome else {
            Issue.record("incomplete")
            return
        }
        #expect(text(response.body) == "0123")
        #expect(response.bodyTruncated)
        #expect(consumed == 58)
        // Chunked: the cap applies across chunks.
        parser.reset(requestMethod: "POST")
        let chunked = try parser.feed(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"))
        guard case .complete(let r2, _) = chunked else {
            Issue.record("incomplete")
            return
        }
        #expect(text(r2.body) == "abcd")
        #expect(r2.bodyTruncated)
    }

    @Test func endOfInputBeforeOrDuringResponse() throws {
        var parser = HTTPResponseParser()
        parser.reset(requestMethod: "POST")
        #expect(throws: HTTPError.closed(beforeResponse: true)) { _ = try parser.finish() }
        parser.reset(requestMethod: "POST")
        _ = try parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        #expect(parser.hasReceivedBytes)
        #expect(throws: HTTPError.closed(beforeResponse: false)) { _ = try parser.finish() }
        parser.reset(requestMethod: "POST")
        _ = try parser.feed(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"))
        #expect(throws: HTTPError.closed(beforeResponse: false)) { _ = try parser.finish() }
    }

    @Test func parserIsReusable() throws {
        var parser = HTTPResponseParser()
        for i in 0..<3 {
            parser.reset(requestMethod: "POST")
            let outcome = try parser.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\(i)"))
            guard case .complete(let response, _) = outcome else {
                Issue.record("incomplete")
                return
            }
            #expect(text(response.body) == "\(i)")
            #expect(response.headers.count == 1)
        }
    }
}
