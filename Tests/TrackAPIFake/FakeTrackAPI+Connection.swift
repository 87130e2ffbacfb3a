import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The wire side of `FakeTrackAPI`: one thread per TCP connection reads HTTP/1.1 requests
/// (keep-alive, `Content-Length` or chunked bodies) and writes the answers `FakeTrackAPI.answer` picks.
extension FakeTrackAPI {
    /// A parsed request head.
    package struct Head {
        package var method: String
        package var target: String
        package var version: String
        package var headers: [(name: String, value: String)]

        package init(method: String, target: String, version: String, headers: [(name: String, value: String)]) {
            self.method = method
            self.target = target
            self.version = version
            self.headers = headers
        }

        package func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name.lowercased() == lower }?.value
        }
    }

    /// One accepted socket with its read buffer. Used only by its own thread.
    final class Connection {
        let fd: Int32
        let id: Int
        unowned let server: FakeTrackAPI
        var buffer: [UInt8] = []
        var start = 0
        var served = 0
        /// The TLS session when the fake serves HTTPS.
        let secure: FakeSecureChannel?

        init(fd: Int32, id: Int, server: FakeTrackAPI, secure: FakeSecureChannel?) {
            self.fd = fd
            self.id = id
            self.server = server
            self.secure = secure
        }

        var available: Int { buffer.count - start }

        /// Reads more bytes; false on EOF, error, stop, or idle timeout (only while `idle`).
        func fill(idle: Bool) -> Bool {
            if start > 0 && start * 2 > buffer.count {
                buffer.removeSubrange(0..<start)
                start = 0
            }
            var waited = 0.0
            while true {
                if server.isStopping { return false }
                if let secure, secure.hasPending { break }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, 50)
                if ready < 0 { if errno == EINTR { continue }; return false }
                if ready == 0 {
                    waited += 0.05
                    if idle, let limit = server.lock.withLock({ server.state.idleTimeout }), waited >= limit { return false }
                    continue
                }
                break
            }
            while true {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { bytes in
                    if let secure { return secure.read(bytes) }
                    return recv(fd, bytes.baseAddress, bytes.count, 0)
                }
                if n < 0 { if secure == nil && (errno == EINTR || errno == EAGAIN) { continue }; return false }
                if n == 0 { return false }
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
        }

        /// The next `\r\n`-terminated line (without it), reading as needed; nil on EOF or a line over `limit`.
        func line(limit: Int = 65536, idle: Bool = false) -> [UInt8]? {
            var scanned = start
            while true {
                var i = scanned
                while i + 1 < buffer.count {
                    if buffer[i] == 13 && buffer[i + 1] == 10 {
                        let line = Array(buffer[start..<i])
                        start = i + 2
                        return line
                    }
                    i += 1
                }
                scanned = max(start, buffer.count - 1)
                if buffer.count - start > limit { return nil }
                let offset = scanned - start
                guard fill(idle: idle && available == 0) else { return nil }
                scanned = start + offset
            }
        }

        /// Exactly `count` bytes, reading as needed.
        func bytes(_ count: Int) -> [UInt8]? {
            while available < count { guard fill(idle: false) else { return nil } }
            let out = Array(buffer[start..<(start + count)])
            start += count
            return out
        }

        func send(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { all in
                    let rest = UnsafeRawBufferPointer(rebasing: all[sent...])
                    if let secure { return secure.write(rest) }
                    return Glibc.send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL))
                }
                if n < 0 { if secure == nil && errno == EINTR { continue }; return false }
                sent += n
            }
            return true
        }

        /// Reads a request head; nil when the peer closed (or sent garbage, which closes the connection).
        func readHead() -> Head? {
            // Tolerate empty lines before a request line (RFC 9112 §2.2).
            var requestLine: [UInt8] = []
            repeat {
                guard let l = line(idle: true) else { return nil }
                requestLine = l
            } while requestLine.isEmpty
            let parts = String(decoding: requestLine, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            var head = Head(method: String(parts[0]), target: String(parts[1]), version: String(parts[2]), headers: [])
            while true {
                guard let l = line() else { return nil }
                if l.isEmpty { break }
                guard let colon = l.firstIndex(of: 58) else { return nil }
                let name = String(decoding: l[..<colon], as: UTF8.self)
                let value = String(decoding: l[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                head.headers.append((name: name, value: value))
            }
            return head
        }

        /// Reads the body the head announces. nil on EOF or a malformed framing.
        func readBody(_ head: Head) -> (body: [UInt8], chunked: Bool)? {
            if let te = head.header("Transfer-Encoding"), te.lowercased().contains("chunked") {
                var body: [UInt8] = []
                while true {
                    guard let sizeLine = line() else { return nil }
                    let hex = String(decoding: sizeLine, as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
                    guard let size = Int(hex.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { return nil }
                    if size == 0 {
                        while true {  // trailers up to the empty line
                            guard let t = line() else { return nil }
                            if t.isEmpty { return (body, true) }
                        }
                    }
                    guard size <= 64 << 20, let data = bytes(size), let crlf = bytes(2), crlf == [13, 10] else { return nil }
                    body.append(contentsOf: data)
                }
            }
            guard let lengthText = head.header("Content-Length") else { return ([], false) }
            guard let length = Int(lengthText), length >= 0, length <= 64 << 20, let body = bytes(length) else { return nil }
            return (body, false)
        }
    }

    /// Serves one connection until the peer closes, the fake stops, or a fault closes it.
    func serve(_ connection: Connection) {
        while true {
            guard setIdle(connection.id) else { return }
            guard let head = connection.readHead() else { return }
            lock.withLock { connections[connection.id]?.isIdle = false }
            if head.header("Expect")?.lowercased() == "100-continue" {
                guard connection.send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
            }
            guard let (body, chunked) = connection.readBody(head) else { return }
            let index = connection.served
            connection.served += 1

            let (action, latency, limitReached, announce, chunkedOut) = decideAndRecord(
                head: head, body: body, chunked: chunked, connection: connection.id, indexOnConnection: index)

            if latency > 0 { sleepUnlessStopping(latency) }
            let response: Response
            switch action {
            case let .respond(r): response = r
            case .dropConnection: return
            case .stall:
                while connection.fill(idle: false) {}  // until the client closes or the fake stops
                return
            case let .truncate(r):
                let bytes = encode(r, close: false, chunked: chunkedOut || r.chunked)
                _ = connection.send(Array(bytes[0..<(bytes.count - max(1, r.body.utf8.count / 2))]))
                return
            }

            let clientCloses = head.header("Connection")?.lowercased() == "close" || head.version == "HTTP/1.0"
            let announceClose = clientCloses || (limitReached && announce)
            guard connection.send(encode(response, close: announceClose, chunked: chunkedOut || response.chunked)) else { return }
            if clientCloses || limitReached { return }
        }
    }

    /// Marks the connection as waiting for a request; false when `closeIdleConnections` asked it to close instead.
    private func setIdle(_ id: Int) -> Bool {
        lock.withLock {
            if connections[id]?.closeWhenIdle == true { return false }
            connections[id]?.isIdle = true
            return true
        }
    }

    private func sleepUnlessStopping(_ seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && !isStopping { Thread.sleep(forTimeInterval: min(0.02, max(0, deadline.timeIntervalSinceNow))) }
    }

    /// Validates, picks the answer per the table on `FakeTrackAPI`, and records the request (and accepted events)
    /// under the lock, so that a test polling the records never sees half a request.
    private func decideAndRecord(head: Head, body wire: [UInt8], chunked: Bool, connection: Int, indexOnConnection: Int)
        -> (Action, Double, Bool, Bool, Bool) {
        // Decode, parse and check outside the lock; that is the slow part.
        let (fast, seqPath) = lock.withLock { (state.fastChecks && state.poison == nil, state.seqPath) }
        var body = wire
        var unsupportedEncoding: String?
        var decodeProblem: String?
        let encoding = head.header("Content-Encoding").map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
        switch encoding {
        case nil, "identity": break
        case "gzip", "x-gzip":
            do { body = try Self.gunzip(wire) } catch { decodeProblem = "body is not valid gzip: \(error)" }
        case "deflate":
            do { body = try Self.inflateZlib(wire) } catch { decodeProblem = "body is not valid deflate: \(error)" }
        case let other?:
            unsupportedEncoding = other
        }
        var check = unsupportedEncoding == nil && decodeProblem == nil
            ? Self.checkBody(body, head: head, seqPath: seqPath, fast: fast)
            : Self.checkBody([], head: head, seqPath: nil, fast: true, headersOnly: true)
        if let decodeProblem {
            check.problem = (decodeProblem, nil)
            check.violations.append(decodeProblem)
        }

        return lock.withLock {
            let requestIndex = state.requestCount
            var violations = check.violations
            if body.count > 2_000_000 { violations.append("body is \(body.count) bytes, over the contract's 2,000,000") }
            if check.eventCount > 1_000 { violations.append("batch has \(check.eventCount) events, over the contract's 1,000") }

            var latency = state.latency
            var action: Action
            var reason: String
            var acceptIfValid = false

            func answer(_ status: Int, _ message: String, _ extra: [String: Any] = [:]) -> Action {
                var object = extra
                object["error"] = message
                object["status"] = status
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                return .respond(Response(status: status, headers: [(name: "Content-Type", value: "application/json")],
                                         body: String(decoding: data, as: UTF8.self)))
            }

            if !state.script.isEmpty {
                action = state.script.removeFirst()
                reason = "scripted"
            } else if let failing = state.failAll, state.failAllUntil.map({ now() < $0 }) ?? true {
                action = .respond(failing)
                reason = "failAll"
            } else if state.dropRate > 0 && Double.random(in: 0..<1, using: &state.rng) < state.dropRate {
                action = .dropConnection
                reason = "dropRate"
            } else if state.failureRate > 0 && Double.random(in: 0..<1, using: &state.rng) < state.failureRate {
                action = .respond(state.failureResponse)
                reason = "failureRate"
            } else if head.target.split(separator: "?").first.map(String.init) != "/api/track" {
                action = answer(404, "no such path: \(head.target)")
                reason = "path"
            } else if head.method != "POST" {
                action = answer(405, "method \(head.method) not allowed")
                reason = "method"
            } else if let problem = Self.authProblem(head, state.auth) {
                action = answer(401, problem)
                reason = "auth"
            } else if body.count > state.bodyLimit {
                action = answer(413, "request body is \(body.count) bytes, limit is \(state.bodyLimit)")
                reason = "tooLarge"
            } else if let unsupportedEncoding {
                action = answer(415, "content encoding \(unsupportedEncoding) is not supported")
                reason = "encoding"
            } else if let problem = check.problem {
                action = answer(400, problem.message, problem.index.map { ["index": $0] } ?? [:])
                reason = "invalid"
            } else if check.eventCount > state.eventLimit {
                action = answer(400, "batch has \(check.eventCount) events, limit is \(state.eventLimit)")
                reason = "tooMany"
            } else if let poison = state.poison,
                      let position = check.events.indices.first(where: {
                          poison(Event(object: check.events[$0], requestIndex: requestIndex, position: $0))
                      }) {
                let event = check.events[position]
                var extra: [String: Any] = ["index": position]
                if let name = event["event_name"] { extra["event_name"] = name }
                if let path = state.seqPath, let seq = Self.value(at: path, in: event) { extra["seq"] = seq }
                action = answer(state.poisonStatus, "event rejected", extra)
                reason = "poison"
            } else {
                action = .respond(Response(status: 200, headers: [(name: "Content-Type", value: "application/json")],
                                           body: #"{"accepted":\#(check.eventCount)}"#))
                reason = "accepted"
                acceptIfValid = true
            }
            if reason == "scripted" || reason == "failAll" || reason == "failureRate",
               case let .respond(r) = action, (200..<300).contains(r.status) {
                acceptIfValid = true
            }
            if case let .respond(r) = action { latency += r.delay }
            if case let .truncate(r) = action { latency += r.delay }

            var status: Int? = nil
            if case let .respond(r) = action { status = r.status }
            state.requestCount += 1
            state.maxEventsPerRequest = max(state.maxEventsPerRequest, check.eventCount)
            state.maxBodyBytes = max(state.maxBodyBytes, body.count)
            if let status { state.statusCounts[status, default: 0] += 1 } else { state.unansweredCount += 1 }
            if state.keepsRequests { state.requests.append(Request(
                index: requestIndex, connectionID: connection, indexOnConnection: indexOnConnection,
                method: head.method, target: head.target, version: head.version, headers: head.headers,
                body: state.keepsBodies ? Data(body) : Data(), bodyBytes: body.count, wireBytes: wire.count,
                contentEncoding: encoding, wasChunked: chunked,
                eventCount: check.eventCount, seqs: check.seqs,
                status: status, reason: reason, receivedAt: now())) }
            for v in violations { state.violations.append(Violation(requestIndex: requestIndex, reason: v)) }

            if acceptIfValid && check.problem == nil && unsupportedEncoding == nil {
                state.acceptedCount += check.eventCount
                state.seqs += check.seqs
                for seq in check.seqs where !state.seenSeqs.insert(seq).inserted { state.duplicateCount += 1 }
                if state.keepsEvents {
                    for (position, object) in check.events.enumerated() {
                        state.accepted.append(Event(object: object, requestIndex: requestIndex, position: position))
                    }
                }
            }

            var limitReached = false
            if let limit = state.maxRequestsPerConnection, indexOnConnection + 1 >= limit { limitReached = true }
            return (action, latency, limitReached, state.announceClose, state.chunkedResponses)
        }
    }

    private func encode(_ response: Response, close: Bool, chunked: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        var hasContentType = false
        for (name, value) in response.headers {
            if name.lowercased() == "content-type" { hasContentType = true }
            text += "\(name): \(value)\r\n"
        }
        if !hasContentType && !response.body.isEmpty { text += "Content-Type: application/json\r\n" }
        if close { text += "Connection: close\r\n" }
        let body = Array(response.body.utf8)
        if chunked {
            text += "Transfer-Encoding: chunked\r\n\r\n"
            var bytes = Array(text.utf8)
            var i = 0
            while i < body.count {
                let n = min(response.chunkSize, body.count - i)
                bytes += Array("\(String(n, radix: 16))\r\n".utf8) + body[i..<(i + n)] + [13, 10]
                i += n
            }
            return bytes + Array("0\r\n\r\n".utf8)
        }
        text += "Content-Length: \(body.count)\r\n\r\n"
        return Array(text.utf8) + body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}
