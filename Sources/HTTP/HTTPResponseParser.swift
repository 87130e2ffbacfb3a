/// An incremental HTTP/1.1 response parser: fed whatever bytes arrived, it answers "need more" or
/// "complete, and this many of the bytes were mine". Pure (no I/O), so it is tested by feeding
/// every response split at every possible point.
///
/// | what | handling |
/// | --- | --- |
/// | status line | `HTTP/1.0` or `HTTP/1.1`, three-digit status, optional reason |
/// | 1xx (e.g. `100 Continue`) | skipped; the final response follows. `101` is an error (never asked for) |
/// | header lines | `name: value`, value trimmed; obsolete folding, a space before the colon or a bad name is rejected |
/// | head size | at most `maxHeadBytes` (64 KiB) for status line + headers, and again for trailers |
/// | no body | responses to `HEAD`, `204`, `304`, and `2xx` to `CONNECT` |
/// | `Transfer-Encoding: chunked` | chunk extensions ignored, trailers appended to the headers; wins over `Content-Length` |
/// | other `Transfer-Encoding` | body runs to the end of the connection |
/// | `Content-Length` | digits only; repeated values must agree |
/// | neither | body runs to the end of the connection (`finish()` completes it) |
/// | body size | bytes beyond `maxBodyBytes` (1 MiB) are read and dropped; `bodyTruncated` is set |
/// | keep-alive | `closesConnection` from `Connection: close`, HTTP/1.0 without `keep-alive`, close-delimited bodies |
///
/// Lines may end in CRLF or a bare LF (lenient, as most clients are).
public struct HTTPResponseParser: Sendable {
    public enum Outcome: Sendable, Equatable {
        case needMore
        /// The response is complete; `consumed` bytes of the last `feed` belonged to it (any
        /// others belong to whatever the server sends next).
        case complete(HTTPResponse, consumed: Int)
    }

    public let maxHeadBytes: Int
    public let maxBodyBytes: Int
    static let maxChunkLineBytes = 4096

    private enum State: Sendable, Equatable {
        case statusLine, headerLine
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailer
        case untilClose
        case done
    }

    private var state: State = .statusLine
    private var requestMethod: String = "GET"
    private var line: [UInt8] = []
    private var headBytes = 0
    private var status = 0
    private var reason = ""
    private var minorVersion = 1
    private var headers = HTTPHeaders()
    private var body: [UInt8] = []
    private var truncated = false
    private var closeDelimited = false
    /// Any byte arrived since `reset`: tells a stale kept-alive connection (closed before
    /// answering, safe to retry) from one that died mid-response.
    public private(set) var hasReceivedBytes = false

    public init(maxBodyBytes: Int = 1 << 20, maxHeadBytes: Int = 64 << 10) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeadBytes = maxHeadBytes
    }

    /// Prepares for the response to a request with `method` (it decides whether a body follows).
    public mutating func reset(requestMethod: String) {
        self.requestMethod = requestMethod
        state = .statusLine
        line.removeAll(keepingCapacity: true)
        headBytes = 0
        status = 0
        reason = ""
        minorVersion = 1
        headers = HTTPHeaders()
        body = []
        truncated = false
        closeDelimited = false
        hasReceivedBytes = false
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPError) -> Outcome {
        let result = bytes.withUnsafeBytes { b in Result { () throws(HTTPError) -> Outcome in try feed(b) } }
        return try result.get()
    }

    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPError) -> Outcome {
        let n = input.count
        if n > 0 { hasReceivedBytes = true }
        var i = 0
        while true {
            switch state {
            case .done:
                throw .protocol("response fed after it was complete")
            case .statusLine, .headerLine, .chunkSize, .chunkEnd, .trailer:
                guard i < n else { return .needMore }
                var j = i
                while j < n && input[j] != 0x0A { j += 1 }
                let limit: Int
                switch state {
                case .chunkSize, .chunkEnd: limit = Self.maxChunkLineBytes
                default: limit = maxHeadBytes - headBytes
                }
                if line.count + (j - i) + (j < n ? 1 : 0) > limit { throw lineTooLong() }
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<j]))
                guard j < n else { return .needMore }
                i = j + 1
                if state == .statusLine || state == .headerLine || state == .trailer { headBytes += line.count + 1 }
                if line.last == 0x0D { line.removeLast() }
                try handleLine()
                line.removeAll(keepingCapacity: true)
                if state == .done { return .complete(takeResponse(), consumed: i) }
            case .body(let remaining):
                guard i < n else { return .needMore }
                let take = min(remaining, n - i)
                appendBody(UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                i += take
                if take == remaining {
                    state = .done
                    return .complete(takeResponse(), consumed: i)
                }
                state = .body(remaining: remaining - take)
            case .chunkData(let remaining):
                guard i < n else { return .needMore }
                let take = min(remaining, n - i)
                appendBody(UnsafeRawBufferPointer(rebasing: input[i..<(i + take)]))
                i += take
                state = take == remaining ? .chunkEnd : .chunkData(remaining: remaining - take)
            case .untilClose:
                appendBody(UnsafeRawBufferPointer(rebasing: input[i..<n]))
                return .needMore
            }
        }
    }

    /// The connection reached its end. Completes a body delimited by the close; otherwise the
    /// response is cut short and this throws `.closed(beforeResponse:)`.
    public mutating func finish() throws(HTTPError) -> HTTPResponse {
        if state == .untilClose {
            state = .done
            return takeResponse()
        }
        throw .closed(beforeResponse: !hasReceivedBytes)
    }

    // MARK: Lines

    private mutating func handleLine() throws(HTTPError) {
        switch state {
        case .statusLine:
            if line.isEmpty { return } // tolerate a stray empty line before the status line
            try parseStatusLine()
            state = .headerLine
        case .headerLine:
            if line.isEmpty { try endOfHead() } else { try parseHeader() }
        case .chunkSize:
            let size = try parseChunkSize()
            if size == 0 {
                headBytes = 0
                state = .trailer
            } else {
                state = .chunkData(remaining: size)
            }
        case .chunkEnd:
            guard line.isEmpty else { throw .protocol("missing CRLF after chunk data") }
            state = .chunkSize
        case .trailer:
            if line.isEmpty { state = .done } else { try parseHeader() }
        default:
            break
        }
    }

    private mutating func parseStatusLine() throws(HTTPError) {
        // "HTTP/1.1 200 OK"
        let prefix: [UInt8] = Array("HTTP/1.".utf8)
        guard line.count >= 12, line.starts(with: prefix), line[7] == 0x30 || line[7] == 0x31, line[8] == 0x20 else {
            throw .protocol("bad status line \"\(Self.printable(line))\"")
        }
        minorVersion = Int(line[7] - 0x30)
        var code = 0
        for k in 9..<12 {
            let d = line[k]
            guard d >= 0x30 && d <= 0x39 else { throw .protocol("bad status code in \"\(Self.printable(line))\"") }
            code = code * 10 + Int(d - 0x30)
        }
        guard code >= 100 else { throw .protocol("bad status code in \"\(Self.printable(line))\"") }
        if line.count > 12 {
            guard line[12] == 0x20 else { throw .protocol("bad status line \"\(Self.printable(line))\"") }
            reason = String(decoding: line[13...], as: UTF8.self)
        } else {
            reason = ""
        }
        status = code
    }

    private mutating func parseHeader() throws(HTTPError) {
        if line[0] == 0x20 || line[0] == 0x09 { throw .protocol("folded header line (obsolete line folding is not accepted)") }
        guard let colon = line.firstIndex(of: 0x3A), colon > 0 else {
            throw .protocol("header line without a name and colon: \"\(Self.printable(line))\"")
        }
        for k in 0..<colon where !HTTPRequestEncoder.isTokenByte(line[k]) {
            throw .protocol("invalid header name \"\(Self.printable(line[..<colon]))\"")
        }
        var start = colon + 1
        var end = line.count
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        for k in start..<end where line[k] == 0 || line[k] == 0x0D {
            throw .protocol("NUL or CR in the value of header \"\(Self.printable(line[..<colon]))\"")
        }
        headers.add(name: String(decoding: line[..<colon], as: UTF8.self), value: String(decoding: line[start..<end], as: UTF8.self))
    }

    private mutating func parseChunkSize() throws(HTTPError) -> Int {
        var size = 0
        var digits = 0
        var k = 0
        while k < line.count, let v = Self.hexValue(line[k]) {
            digits += 1
            guard digits <= 15 else { throw .protocol("chunk size too large") }
            size = size << 4 | v
            k += 1
        }
        guard digits > 0 else { throw .protocol("bad chunk size line \"\(Self.printable(line))\"") }
        while k < line.count && (line[k] == 0x20 || line[k] == 0x09) { k += 1 }
        guard k == line.count || line[k] == 0x3B else { throw .protocol("bad chunk size line \"\(Self.printable(line))\"") }
        return size
    }

    // MARK: Framing

    private mutating func endOfHead() throws(HTTPError) {
        if status < 200 {
            if status == 101 { throw .protocol("unexpected 101 Switching Protocols") }
            // Interim response (100 Continue, 103 Early Hints): the final one follows.
            status = 0
            reason = ""
            headers = HTTPHeaders()
            headBytes = 0
            state = .statusLine
            return
        }
        if requestMethod == "HEAD" || status == 204 || status == 304 || (requestMethod == "CONNECT" && status < 300) {
            state = .done
            return
        }
        let codings = headers.values(for: "Transfer-Encoding")
        if !codings.isEmpty {
            let last = codings.joined(separator: ",").split(separator: ",").last.map { String($0.trimmingASCIIWhitespace()) } ?? ""
            if HTTPHeaders.equalIgnoringCase(last, "chunked") {
                state = .chunkSize
            } else {
                state = .untilClose
                closeDelimited = true
            }
            return
        }
        let lengths = headers.values(for: "Content-Length")
        if lengths.isEmpty {
            state = .untilClose
            closeDelimited = true
            return
        }
        var length: Int?
        for field in lengths {
            for part in field.split(separator: ",", omittingEmptySubsequences: false) {
                let text = part.trimmingASCIIWhitespace()
                guard !text.isEmpty, text.utf8.count <= 15, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(text) else {
                    throw .protocol("invalid Content-Length \"\(field)\"")
                }
                if let length, length != v { throw .protocol("conflicting Content-Length values") }
                length = v
            }
        }
        state = length! == 0 ? .done : .body(remaining: length!)
    }

    private mutating func appendBody(_ bytes: UnsafeRawBufferPointer) {
        let room = maxBodyBytes - body.count
        if bytes.count <= room {
            body.append(contentsOf: bytes)
        } else {
            if room > 0 { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<room])) }
            truncated = true
        }
    }

    private mutating func takeResponse() -> HTTPResponse {
        let closes = headers.containsToken("close", in: "Connection")
            || (minorVersion == 0 && !headers.containsToken("keep-alive", in: "Connection"))
            || (headers["Transfer-Encoding"] != nil && headers["Content-Length"] != nil)
            || closeDelimited
        let response = HTTPResponse(status: status, reason: reason, headers: headers, body: body,
                                    bodyTruncated: truncated, closesConnection: closes)
        body = []
        headers = HTTPHeaders()
        return response
    }

    private func lineTooLong() -> HTTPError {
        switch state {
        case .chunkSize, .chunkEnd: return .protocol("chunk size line longer than \(Self.maxChunkLineBytes) bytes")
        case .trailer: return .protocol("trailers longer than \(maxHeadBytes) bytes")
        default: return .protocol("response head longer than \(maxHeadBytes) bytes")
        }
    }

    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }

    /// At most 80 bytes of a line, for an error message.
    static func printable<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes.prefix(80).map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x3F }, as: UTF8.self)
    }
}
