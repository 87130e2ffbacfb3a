import CSink
import Glibc

/// The parts of a request head the sink looks at.
struct RequestHead {
    var isPost = false
    var isGet = false
    /// The request target without its query.
    var path: [UInt8] = []
    var keepAlive = true
    var contentLength = 0
    var chunked = false
    var gzip = false
    var unknownEncoding = false
    var authorization: [UInt8] = []
    var expectContinue = false
}

/// One accepted socket, served by its own thread (blocking reads) until the peer closes it.
/// Bodies are never parsed as JSON: the ids are found by scanning for `"<id-key>"` followed by
/// `:` and an integer (optionally quoted), which is what keeps the sink far above the shipper.
final class Connection {
    private let fd: Int32
    private let tally: Tally
    private let options: Options
    /// Received bytes; the unread part is `buffer[start..<end]`.
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity = 1 << 20
    private var start = 0
    private var end = 0
    /// A chunked body reassembled, or a gzip body inflated.
    private var scratch = Bytes()
    private var inflated = Bytes()
    private var ids: [Int] = []
    private let needle: [UInt8]
    private let expectedAuthorization: [UInt8]
    private let eventsPath: [UInt8]

    init(fd: Int32, tally: Tally) {
        self.fd = fd
        self.tally = tally
        options = tally.options
        buffer = .allocate(capacity: capacity)
        needle = Array("\"\(options.idKey)\"".utf8)
        expectedAuthorization = Array("Bearer \(options.token)".utf8)
        eventsPath = Array(options.path.utf8)
        ids.reserveCapacity(4096)
    }

    deinit {
        buffer.deallocate()
        scratch.release()
        inflated.release()
    }

    func serve() {
        defer { close(fd) }
        while let head = readHead() {
            if head.expectContinue, head.contentLength > end - start || head.chunked {
                guard send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
            }
            guard let body = readBody(head) else { return }
            guard answer(head, body: body) else { return }
            if !head.keepAlive { return }
        }
    }

    // MARK: reading

    /// Reads more bytes after `end`, compacting or growing the buffer first when it is full.
    private func fill() -> Bool {
        if end == capacity {
            if start > 0 {
                let live = end - start
                if live > 0 { memmove(buffer, buffer + start, live) }
                start = 0
                end = live
            } else {
                grow(to: capacity * 2)
            }
        }
        while true {
            let n = recv(fd, buffer + end, capacity - end, 0)
            if n > 0 { end += n; return true }
            if n < 0, errno == EINTR { continue }
            return false
        }
    }

    private func grow(to newCapacity: Int) {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        let live = end - start
        if live > 0 { bigger.initialize(from: buffer + start, count: live) }
        buffer.deallocate()
        buffer = bigger
        capacity = newCapacity
        start = 0
        end = live
    }

    /// Makes `count` unread bytes available at `buffer + start`.
    private func need(_ count: Int) -> Bool {
        if count > capacity { grow(to: max(count, capacity * 2)) }
        while end - start < count {
            if start + count > capacity {
                let live = end - start
                memmove(buffer, buffer + start, live)
                start = 0
                end = live
            }
            guard fill() else { return false }
        }
        return true
    }

    /// Offset of `pattern` in the unread bytes from `from`, reading more until it shows up.
    private func find(_ pattern: StaticString, from: Int = 0, limit: Int = 64 << 10) -> Int? {
        var searched = from
        while true {
            let available = end - start - searched
            if available >= pattern.utf8CodeUnitCount,
               let hit = memmem(buffer + start + searched, available, pattern.utf8Start, pattern.utf8CodeUnitCount) {
                return hit.assumingMemoryBound(to: UInt8.self) - (buffer + start)
            }
            searched = max(from, end - start - pattern.utf8CodeUnitCount + 1)
            guard end - start < limit, fill() else { return nil }
        }
    }

    private func readHead() -> RequestHead? {
        guard let headLength = find("\r\n\r\n") else { return nil }
        let head = UnsafeBufferPointer(start: buffer + start, count: headLength)
        start += headLength + 4
        var request = RequestHead()
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: true).makeIterator()
        guard let first = lines.next() else { return nil }
        let parts = first.split(separator: 0x20)
        guard parts.count >= 3 else { return nil }
        request.isPost = parts[0].elementsEqual("POST".utf8)
        request.isGet = parts[0].elementsEqual("GET".utf8)
        request.path = Array(parts[1].prefix { $0 != 0x3F })
        let http10 = parts[2].starts(with: "HTTP/1.0".utf8)
        request.keepAlive = !http10
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let name = line[..<colon]
            var value = line[(colon + 1)...]
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 || l == 0x0D { value = value.dropLast() }
            if lowerEquals(name, "content-length") {
                request.contentLength = Int(decimal: value) ?? -1
            } else if lowerEquals(name, "transfer-encoding") {
                request.chunked = lowerEquals(value, "chunked")
            } else if lowerEquals(name, "content-encoding") {
                if lowerEquals(value, "gzip") || lowerEquals(value, "deflate") {
                    request.gzip = true
                } else if !lowerEquals(value, "identity") {
                    request.unknownEncoding = true
                }
            } else if lowerEquals(name, "authorization") {
                request.authorization = Array(value)
            } else if lowerEquals(name, "connection") {
                if lowerEquals(value, "close") { request.keepAlive = false }
                if lowerEquals(value, "keep-alive") { request.keepAlive = true }
            } else if lowerEquals(name, "expect") {
                request.expectContinue = lowerEquals(value, "100-continue")
            }
        }
        return request.contentLength < 0 || request.contentLength > 1 << 30 ? nil : request
    }

    /// The body's bytes, valid until the next read.
    private func readBody(_ head: RequestHead) -> UnsafeBufferPointer<UInt8>? {
        if !head.chunked {
            guard need(head.contentLength) else { return nil }
            defer { start += head.contentLength }
            return UnsafeBufferPointer(start: buffer + start, count: head.contentLength)
        }
        scratch.count = 0
        while true {
            guard let lineEnd = find("\r\n") else { return nil }
            var size = 0
            for i in 0..<lineEnd {
                guard let digit = hexValue(buffer[start + i]) else { break }
                size = size * 16 + digit
                guard size < 1 << 30 else { return nil }
            }
            start += lineEnd + 2
            if size == 0 {
                // Trailers, if any, up to the empty line.
                while true {
                    guard let trailerEnd = find("\r\n") else { return nil }
                    start += trailerEnd + 2
                    if trailerEnd == 0 { break }
                }
                return scratch.view
            }
            guard need(size + 2) else { return nil }
            scratch.append(buffer + start, count: size)
            start += size + 2
        }
    }

    // MARK: answering

    /// Answers one request; false when the connection must close.
    private func answer(_ head: RequestHead, body: UnsafeBufferPointer<UInt8>) -> Bool {
        if head.isGet, head.path.elementsEqual("/stats".utf8) {
            let json = tally.locked { tally.json(final: false) }
            return respond(200, body: json, keepAlive: head.keepAlive)
        }
        if head.isGet, head.path.elementsEqual("/health".utf8) {
            return respond(200, body: "ok\n", keepAlive: head.keepAlive)
        }
        let authorized = options.token.isEmpty || head.authorization == expectedAuthorization
        let verdict = tally.locked {
            tally.admit(isPost: head.isPost, pathMatches: head.path == eventsPath, authorized: authorized,
                        bodyBytes: body.count)
        }
        delay()
        switch verdict {
        case .notFound: return respond(404, body: "", keepAlive: head.keepAlive)
        case .notAllowed: return respond(405, body: "", keepAlive: head.keepAlive)
        case .unauthorized: return respond(401, body: #"{"success":false,"message":"unauthorized"}"#, keepAlive: head.keepAlive)
        case .tooMany429:
            return respond(429, extra: "Retry-After: \(options.retryAfter)\r\n",
                           body: #"{"success":false,"message":"rate limited"}"#, keepAlive: head.keepAlive)
        case .fail503:
            return respond(503, body: #"{"success":false,"message":"unavailable"}"#, keepAlive: head.keepAlive)
        case .accept:
            break
        }
        var events = body
        if head.unknownEncoding || (head.gzip && !inflate(body)) {
            tally.locked { tally.badRequest += 1 }
            return respond(400, body: #"{"success":false,"message":"bad content encoding"}"#, keepAlive: false)
        }
        if head.gzip { events = inflated.view }
        let missing = scanIDs(events)
        ids.withUnsafeBufferPointer { found in
            tally.locked {
                if tally.accepted == 0, !options.sampleFile.isEmpty {
                    writeAtomically(options.sampleFile, Array(events.prefix(64 << 10)))
                }
                if tally.record(ids: found, missingIDs: missing, decodedBytes: events.count) {
                    tally.writeStats(final: false)
                }
            }
        }
        return respond(200, body: #"{"success":true}"#, keepAlive: head.keepAlive)
    }

    private func delay() {
        guard options.latencyMs > 0 else { return }
        let nanos = Int(options.latencyMs * 1_000_000)
        var ts = timespec(tv_sec: nanos / 1_000_000_000, tv_nsec: nanos % 1_000_000_000)
        var left = timespec()
        while nanosleep(&ts, &left) != 0, errno == EINTR { ts = left }
    }

    private func respond(_ status: Int, extra: String = "", body: String, keepAlive: Bool) -> Bool {
        let reason = switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 429: "Too Many Requests"
        default: "Service Unavailable"
        }
        let type = body.isEmpty ? "" : "Content-Type: application/json\r\n"
        let text = "HTTP/1.1 \(status) \(reason)\r\n\(type)Content-Length: \(body.utf8.count)\r\n\(extra)"
            + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + body
        return send(Array(text.utf8)) && keepAlive
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + done, raw.count - done, Int32(MSG_NOSIGNAL))
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    // MARK: bodies

    /// Collects the ids of `body` into `ids`; returns how many id keys had no integer after them.
    private func scanIDs(_ body: UnsafeBufferPointer<UInt8>) -> Int {
        ids.removeAll(keepingCapacity: true)
        guard let base = body.baseAddress else { return 0 }
        let limit = base + body.count
        var missing = 0
        var cursor = base
        needle.withUnsafeBytes { key in
            while limit - cursor >= key.count,
                  let hit = memmem(cursor, limit - cursor, key.baseAddress!, key.count) {
                var p = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) + key.count
                while p < limit, p.pointee == 0x20 { p += 1 }
                guard p < limit, p.pointee == 0x3A else {  // a string value that equals the key
                    cursor = p
                    continue
                }
                p += 1
                while p < limit, p.pointee == 0x20 { p += 1 }
                if p < limit, p.pointee == 0x22 { p += 1 }
                var value = 0
                var digits = 0
                while p < limit, p.pointee &- 0x30 < 10, digits < 18 {
                    value = value &* 10 &+ Int(p.pointee &- 0x30)
                    digits += 1
                    p += 1
                }
                if digits > 0 { ids.append(value) } else { missing += 1 }
                cursor = p
            }
        }
        return missing
    }

    /// Inflates a gzip (or zlib) body into `inflated`.
    private func inflate(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        var stream = z_stream()
        guard sink_inflate_init(&stream) == Z_OK else { return false }
        defer { inflateEnd(&stream) }
        inflated.count = 0
        inflated.reserve(body.count * 8)
        stream.next_in = UnsafeMutablePointer(mutating: body.baseAddress)
        stream.avail_in = UInt32(body.count)
        while true {
            if inflated.count == inflated.capacity { inflated.reserve(inflated.capacity * 2) }
            stream.next_out = inflated.base + inflated.count
            stream.avail_out = UInt32(inflated.capacity - inflated.count)
            let status = CSink.inflate(&stream, Z_NO_FLUSH)
            inflated.count = inflated.capacity - Int(stream.avail_out)
            if status == Z_STREAM_END { return true }
            guard status == Z_OK || (status == Z_BUF_ERROR && stream.avail_out == 0) else { return false }
        }
    }
}

/// A growable byte buffer that hands out a pointer view without copying.
struct Bytes {
    private(set) var base = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
    private(set) var capacity = 1 << 16
    var count = 0

    var view: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    mutating func reserve(_ wanted: Int) {
        guard wanted > capacity else { return }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: wanted)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = wanted
    }

    func release() { base.deallocate() }

    mutating func append(_ bytes: UnsafePointer<UInt8>, count n: Int) {
        if count + n > capacity { reserve(max(count + n, capacity * 2)) }
        (base + count).initialize(from: bytes, count: n)
        count += n
    }
}

private func lowerEquals(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    var i = 0
    for b in bytes {
        let folded = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
        guard folded == lowercase.utf8Start[i] else { return false }
        i += 1
    }
    return true
}

private func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: Int(b - 0x30)
    case 0x41...0x46: Int(b - 0x41 + 10)
    case 0x61...0x66: Int(b - 0x61 + 10)
    default: nil
    }
}

extension Int {
    init?(decimal bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty, bytes.count < 19 else { return nil }
        var v = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            v = v * 10 + Int(b - 0x30)
        }
        self = v
    }
}
