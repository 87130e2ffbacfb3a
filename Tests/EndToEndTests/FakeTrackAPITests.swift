import Foundation
import Testing
import TrackAPIFake
#if canImport(Glibc)
import Glibc
#endif

/// Self-tests of the fake Track API, with a raw-socket client so that keep-alive and dropped
/// connections are visible exactly as tracktail's client sees them.
@Suite struct FakeTrackAPITests {
    /// A minimal blocking HTTP/1.1 client on one TCP connection (5 s receive timeout, so no test can hang).
    final class RawClient {
        let fd: Int32
        var buffer: [UInt8] = []

        struct Reply {
            var status: Int
            var headers: [String: String]
            var body: String
        }

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if result != 0 { close(fd); throw FakeTrackAPI.FakeError.system("connect", errno) }
        }

        deinit { close(fd) }

        @discardableResult
        func write(_ text: String) -> Bool { write(Array(text.utf8)) }
        @discardableResult
        func write(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }

        private func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            buffer += chunk[0..<n]
            return true
        }

        private func line() -> String? {
            while true {
                if let i = (0..<max(0, buffer.count - 1)).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                    let text = String(decoding: buffer[0..<i], as: UTF8.self)
                    buffer.removeFirst(i + 2)
                    return text
                }
                guard fill() else { return nil }
            }
        }

        private func take(_ n: Int) -> [UInt8]? {
            while buffer.count < n { guard fill() else { return nil } }
            defer { buffer.removeFirst(n) }
            return Array(buffer[0..<n])
        }

        /// Reads one response; nil when the server closed the connection instead of answering.
        func readReply() -> Reply? {
            guard let statusLine = line() else { return nil }
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            var headers: [String: String] = [:]
            while let l = line(), !l.isEmpty {
                let pair = l.split(separator: ":", maxSplits: 1)
                headers[pair[0].lowercased()] = pair.count > 1 ? pair[1].trimmingCharacters(in: .whitespaces) : ""
            }
            var body: [UInt8] = []
            if headers["transfer-encoding"] == "chunked" {
                while let sizeLine = line(), let size = Int(sizeLine, radix: 16) {
                    if size == 0 { _ = line(); break }
                    guard let data = take(size), take(2) != nil else { return nil }
                    body += data
                }
            } else if let length = Int(headers["content-length"] ?? "0"), length > 0 {
                guard let data = take(length) else { return nil }
                body = data
            }
            return Reply(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
        }

        /// Sends a tracktail-like POST and reads the answer.
        func post(_ body: String, token: String? = "test-token", extraHeaders: [String] = [], path: String = "/api/track") -> Reply? {
            var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
            head += "User-Agent: tracktail/0.0.0-test\r\n"
            if let token { head += "Authorization: Bearer \(token)\r\n" }
            for h in extraHeaders { head += h + "\r\n" }
            head += "Content-Length: \(body.utf8.count)\r\n\r\n"
            guard write(head + body) else { return nil }
            return readReply()
        }
    }

    static func event(_ seq: Int, name: String = "feature_used", timestamp: String = "2024-10-20T15:51:36.514Z") -> String {
        #"{"event_name":"\#(name)","user_id":"u_\#(seq)","timestamp":"\#(timestamp)","properties":{"seq":\#(seq),"feature_name":"export"},"context":{"group_id":"acct_1"}}"#
    }

    static func batch(_ seqs: Range<Int>) -> String { "[" + seqs.map { event($0) }.joined(separator: ",") + "]" }

    @Test func acceptsValidBatchesOnOneKeptAliveConnection() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<3))?.status == 200)
        #expect(client.post(Self.batch(3..<10))?.status == 200)
        #expect(api.acceptedSeqs() == Array(0..<10))
        #expect(api.acceptedEvents.first?.string("context.group_id") == "acct_1")
        #expect(api.acceptedEvents.last?.userID == "u_9")
        #expect(api.requestCount == 2)
        #expect(api.requests.map(\.connectionID) == [1, 1])
        #expect(api.requests.map(\.indexOnConnection) == [0, 1])
        #expect(api.maxEventsPerRequest == 7)
        #expect(api.maxBodyBytes == Self.batch(3..<10).utf8.count)
        #expect(api.missingSeqs(0..<11) == [10])
        #expect(api.duplicateSeqs().isEmpty)
        #expect(api.violations.isEmpty, "\(api.violations)")
        #expect(api.url == "http://127.0.0.1:\(api.port)/api/track")
    }

    @Test func acceptsSingleObjectButRecordsTheViolation() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.event(7))?.status == 200)
        #expect(api.acceptedSeqs() == [7])
        #expect(api.violations.count == 1)
    }

    @Test(arguments: [
        (nil as String?, [String](), 401),
        ("wrong", [], 401),
        ("test-token", [], 200),
    ])
    func bearerAuthentication(token: String?, headers: [String], expected: Int) throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let reply = try RawClient(port: api.port).post(Self.batch(0..<1), token: token, extraHeaders: headers)
        #expect(reply?.status == expected)
        #expect(api.acceptedCount == (expected == 200 ? 1 : 0))
        #expect(api.violations.isEmpty)
    }

    @Test func apiKeyAuthentication() throws {
        let api = try FakeTrackAPI(auth: .apiKey(header: "x-api-key", token: "k1"))
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1), token: "k1")?.status == 401)
        #expect(client.post(Self.batch(0..<1), token: nil, extraHeaders: ["X-Api-Key: k1"])?.status == 200)
        #expect(client.post(Self.batch(0..<1), token: nil, extraHeaders: ["X-Api-Key: k2"])?.status == 401)
        #expect(api.statusCounts == [401: 2, 200: 1])
    }

    @Test func unauthorizedUntilFurtherNotice() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        api.setUnauthorized(true)
        #expect(client.post(Self.batch(0..<2))?.status == 401)
        #expect(client.post(Self.batch(0..<2))?.status == 401)
        #expect(api.acceptedCount == 0)
        api.setUnauthorized(false)
        #expect(client.post(Self.batch(0..<2))?.status == 200)
        #expect(api.acceptedCount == 2)
        #expect(api.requests.map(\.reason) == ["failAll", "failAll", "accepted"])
    }

    @Test func cannedRetryAfterResponsesThenNormal() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let date = FakeTrackAPI.httpDate(secondsFromNow: 2)
        api.enqueue(.status(503, retryAfter: "1"), .status(429, retryAfter: date))
        let client = try RawClient(port: api.port)
        let first = client.post(Self.batch(0..<2))
        #expect(first?.status == 503)
        #expect(first?.headers["retry-after"] == "1")
        let second = client.post(Self.batch(0..<2))
        #expect(second?.status == 429)
        #expect(second?.headers["retry-after"] == date)
        #expect(date.hasSuffix(" GMT") && date.count == 29)
        #expect(api.acceptedCount == 0)
        #expect(api.pendingScript == 0)
        #expect(client.post(Self.batch(0..<2))?.status == 200)
        #expect(api.acceptedSeqs() == [0, 1])
    }

    @Test func cannedSuccessAcceptsTheEvents() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.enqueue(FakeTrackAPI.Response(status: 202, body: "{}", chunked: true))
        let reply = try RawClient(port: api.port).post(Self.batch(0..<3))
        #expect(reply?.status == 202)
        #expect(reply?.body == "{}")
        #expect(api.acceptedSeqs() == [0, 1, 2])
    }

    @Test func poisonEventRejectsItsBatchAndIsNamed() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setPoison { $0.int("properties.seq") == 5 }
        let client = try RawClient(port: api.port)
        let rejected = client.post(Self.batch(0..<8))
        #expect(rejected?.status == 400)
        let body = try JSONSerialization.jsonObject(with: Data((rejected?.body ?? "").utf8)) as? [String: Any]
        #expect(body?["index"] as? Int == 5)
        #expect(body?["seq"] as? Int == 5)
        #expect(body?["event_name"] as? String == "feature_used")
        #expect(api.acceptedCount == 0)
        #expect(client.post(Self.batch(0..<5))?.status == 200)
        #expect(client.post(Self.batch(6..<8))?.status == 200)
        #expect(client.post(Self.batch(5..<6))?.status == 400)
        #expect(api.acceptedSeqs() == [0, 1, 2, 3, 4, 6, 7])
        #expect(api.requests.map(\.seqs) == [Array(0..<8), Array(0..<5), [6, 7], [5]])
        #expect(api.requests.map(\.reason) == ["poison", "accepted", "accepted", "poison"])
        #expect(api.summary.hasPrefix("4 requests (200×2 400×2), 7 events accepted, 0 violations"), "\(api.summary)")
        #expect(api.violations.isEmpty)
    }

    @Test func tooLargeBodiesGet413() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        api.setLimits(bodyBytes: 300)
        #expect(client.post(Self.batch(0..<3))?.status == 413)
        #expect(api.violations.isEmpty)  // the fake's own lower limit is no contract breach
        api.setLimits()
        let huge = "[" + Self.event(0).dropLast() + #","pad":""# + String(repeating: "x", count: 2_000_001) + "\"}]"
        #expect(client.post(huge)?.status == 413)
        #expect(api.violations.count == 1)
        #expect(api.maxBodyBytes > 2_000_000)
        #expect(api.acceptedCount == 0)
    }

    @Test(arguments: [
        (#"[]"#, "batch is empty"),
        (#"not json"#, "body is not JSON"),
        (#"[{"user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"}]"#, "event_name is missing"),
        (#"[{"event_name":"","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"}]"#, "event_name must be"),
        (#"[{"event_name":"e","user_id":7,"timestamp":"2024-10-20T15:51:36.514Z"}]"#, "user_id must be"),
        (#"[{"event_name":"e","user_id":"u","timestamp":"2024-10-20T15:51:36Z"}]"#, "timestamp \"2024"),
        (#"[{"event_name":"e","user_id":"u","timestamp":"20-11-23T22:28:55.111Z"}]"#, "timestamp \"20-"),
        (#"[{"event_name":"e","user_id":"u","timestamp":"2024-10-20T15:51:36.514+00:00"}]"#, "is not YYYY"),
        (#"[{"event_name":"e","user_id":"u"}]"#, "timestamp is missing"),
        (#"[{"event_name":"e","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":[]}]"#, "properties must be"),
        (#"[1]"#, "not a JSON object"),
    ])
    func invalidBodiesGet400AndAreViolations(body: String, message: String) throws {
        for fast in [false, true] {
            try invalidBody(body, message, fast: fast)
        }
    }

    func invalidBody(_ body: String, _ message: String, fast: Bool) throws {
        let api = try FakeTrackAPI(fastChecks: fast)
        defer { api.stop() }
        let reply = try RawClient(port: api.port).post(body)
        #expect(reply?.status == 400)
        let answer = try JSONSerialization.jsonObject(with: Data((reply?.body ?? "").utf8)) as? [String: Any]
        #expect((answer?["error"] as? String)?.contains(message) == true, "\(reply?.body ?? "nil")")
        #expect(api.violations.contains { $0.reason.contains(message) }, "\(api.violations)")
        #expect(api.acceptedCount == 0)
    }

    @Test(arguments: [
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{"seq":1,"x":[1,{"seq":9}]}}]"#,
        #" [ {"timestamp":"2024-10-20T15:51:36.514Z", "user_id":"u\"q\u00e9","event_name":"a\\","properties":{"seq":"12"}} ,"#
            + #"{"event_name":"b","user_id":"v","timestamp":"2024-10-20T15:51:36.514Z","context":{"seq":3},"properties":{"seq":-4.0,"t":true,"n":null,"f":false,"e":1.5e3}} ]"#,
        #"{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{"seq":5}}"#,
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"},{"event_name":"a"}]"#,
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"}"#,
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z"}] x"#,
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{"seq":7}},"x"]"#,
        #"[{"event_name":"a","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","context":"c"}]"#,
    ])
    func fastScannerAgreesWithFullParse(body: String) {
        let head = FakeTrackAPI.Head(method: "POST", target: "/api/track", version: "HTTP/1.1", headers: [])
        let full = FakeTrackAPI.checkBody(Array(body.utf8), head: head, seqPath: "properties.seq", fast: false)
        let fast = FakeTrackAPI.checkBody(Array(body.utf8), head: head, seqPath: "properties.seq", fast: true)
        #expect((full.problem == nil) == (fast.problem == nil), "full: \(String(describing: full.problem)) fast: \(String(describing: fast.problem))")
        #expect(full.problem?.index == fast.problem?.index)
        if full.problem == nil {
            #expect(full.eventCount == fast.eventCount)
            #expect(full.seqs == fast.seqs)
            #expect(full.violations == fast.violations)
        }
    }

    /// Compresses with the system's `gzip` (the test target links no zlib).
    static func gzip(_ data: [UInt8], level: Int) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-c", "-\(level)"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread { try? input.fileHandleForWriting.write(contentsOf: Data(data)); try? input.fileHandleForWriting.close() }
        writer.start()
        let compressed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(compressed)
    }

    @Test(arguments: [1, 6, 9])
    func gzipBodiesAreDecoded(level: Int) throws {
        var rng = FakeTrackAPI.SplitMix64(seed: UInt64(level))
        // Repetitive events (dynamic Huffman, long matches) plus random bytes (stored blocks at level 1).
        let noise = (0..<70_000).map { _ in String(UnicodeScalar(UInt8(97 + rng.next() % 26))) }.joined()
        let json = "[" + (0..<300).map { Self.event($0) }.joined(separator: ",") + "," + Self.event(300).dropLast()
            + #","noise":"\#(noise)"}]"#
        let compressed = try Self.gzip(Array(json.utf8), level: level)
        #expect(try FakeTrackAPI.gunzip(compressed) == Array(json.utf8))
        let random = (0..<40_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }  // stored blocks
        #expect(try FakeTrackAPI.gunzip(Self.gzip(random, level: level)) == random)
        #expect(try FakeTrackAPI.gunzip(Self.gzip([], level: level)) == [])
        // The same deflate data without the gzip wrapper (10-byte header, 8-byte trailer).
        #expect(try FakeTrackAPI.inflateZlib(Array(compressed[10..<(compressed.count - 8)])) == Array(json.utf8))

        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        var head = "POST /api/track HTTP/1.1\r\nContent-Type: application/json\r\nUser-Agent: tracktail/0\r\n"
        head += "Authorization: Bearer test-token\r\nContent-Encoding: gzip\r\nContent-Length: \(compressed.count)\r\n\r\n"
        client.write(Array(head.utf8) + compressed)
        #expect(client.readReply()?.status == 200)
        #expect(api.acceptedSeqs() == Array(0...300))
        #expect(api.requests.first?.bodyBytes == json.utf8.count)
        #expect(api.requests.first?.wireBytes == compressed.count)
        #expect(api.requests.first?.contentEncoding == "gzip")

        var broken = compressed
        broken[broken.count - 9] ^= 0xFF  // the last deflate byte, or the CRC catches it
        let head2 = head.replacingOccurrences(of: "Content-Length: \(compressed.count)", with: "Content-Length: \(broken.count)")
        client.write(Array(head2.utf8) + broken)
        #expect(client.readReply()?.status == 400)
        client.write(head2.replacingOccurrences(of: "gzip", with: "br") + String(repeating: "x", count: broken.count))
        #expect(client.readReply()?.status == 415)
        #expect(api.violations.count == 1, "\(api.violations)")
    }

    @Test func tooManyEventsIsAViolation() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        #expect(try RawClient(port: api.port).post(Self.batch(0..<1001))?.status == 400)
        #expect(api.maxEventsPerRequest == 1001)
        #expect(api.violations.map(\.reason) == ["batch has 1001 events, over the contract's 1,000"])
    }

    @Test func headerAndPathViolations() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1), path: "/track")?.status == 404)
        client.write("POST /api/track HTTP/1.1\r\nAuthorization: Bearer test-token\r\nContent-Length: 2\r\n\r\n[]")
        #expect(client.readReply()?.status == 400)
        let reasons = api.violations.map(\.reason)
        #expect(reasons.contains { $0.hasPrefix("path is /track") })
        #expect(reasons.contains { $0.hasPrefix("Content-Type is missing") })
        #expect(reasons.contains { $0.hasPrefix("User-Agent is missing") })
    }

    @Test func droppedConnectionThenFreshOneWorks() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.enqueue(.dropConnection)
        let first = try RawClient(port: api.port)
        #expect(first.post(Self.batch(0..<2)) == nil)
        #expect(api.requests.first?.status == nil)
        #expect(api.requests.first?.reason == "scripted")
        #expect(api.acceptedCount == 0)
        let second = try RawClient(port: api.port)
        #expect(second.post(Self.batch(0..<2))?.status == 200)
        #expect(api.requests.map(\.connectionID) == [1, 2])
    }

    @Test func stalledAndTruncatedAnswers() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.enqueue([.stall, .truncate(.status(200, body: #"{"accepted":1,"padding":"xxxxxxxx"}"#))])
        let stalled = try RawClient(port: api.port)
        var quick = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(stalled.fd, SOL_SOCKET, SO_RCVTIMEO, &quick, socklen_t(MemoryLayout<timeval>.size))
        #expect(stalled.post(Self.batch(0..<1)) == nil)  // the client's "request timeout"
        #expect(api.openConnectionCount == 1)
        let truncated = try RawClient(port: api.port)
        #expect(truncated.post(Self.batch(0..<1)) == nil)
        #expect(api.requests.map(\.status) == [nil, nil])
        #expect(api.unansweredCount == 2)
        #expect(api.acceptedCount == 0)
        #expect(try RawClient(port: api.port).post(Self.batch(0..<1))?.status == 200)
    }

    @Test func idleKeptAliveConnectionIsClosed() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 200)
        #expect(api.wait(timeout: 5) { $0.openConnectionCount == 1 })
        api.closeIdleConnections()
        #expect(api.wait(timeout: 5) { $0.openConnectionCount == 0 })
        #expect(client.post(Self.batch(1..<2)) == nil)
        #expect(try RawClient(port: api.port).post(Self.batch(1..<2))?.status == 200)
        #expect(api.acceptedSeqs() == [0, 1])
        #expect(api.connectionCount == 2)
    }

    @Test func idleTimeoutClosesConnections() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setIdleTimeout(0.1)
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 200)
        #expect(api.wait(timeout: 5) { $0.openConnectionCount == 0 })
        #expect(client.post(Self.batch(1..<2)) == nil)
    }

    @Test func maxRequestsPerConnectionClosesAfterTheAnswer() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setMaxRequestsPerConnection(2, announce: true)
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.headers["connection"] == nil)
        let second = client.post(Self.batch(1..<2))
        #expect(second?.status == 200)
        #expect(second?.headers["connection"] == "close")
        #expect(client.post(Self.batch(2..<3)) == nil)
        #expect(api.acceptedSeqs() == [0, 1])
    }

    @Test func chunkedRequestAndChunkedResponse() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setChunkedResponses(true)
        let client = try RawClient(port: api.port)
        let body = Array(Self.batch(0..<4).utf8)
        var wire = "POST /api/track HTTP/1.1\r\nContent-Type: application/json\r\nUser-Agent: tracktail/0\r\n"
        wire += "Authorization: Bearer test-token\r\nTransfer-Encoding: chunked\r\n\r\n"
        var bytes = Array(wire.utf8)
        for piece in stride(from: 0, to: body.count, by: 100) {
            let part = body[piece..<min(piece + 100, body.count)]
            bytes += Array("\(String(part.count, radix: 16));ext=1\r\n".utf8) + part + [13, 10]
        }
        bytes += Array("0\r\n\r\n".utf8)
        client.write(bytes)
        let reply = client.readReply()
        #expect(reply?.status == 200)
        #expect(reply?.headers["transfer-encoding"] == "chunked")
        #expect(reply?.body == #"{"accepted":4}"#)
        #expect(api.requests.first?.wasChunked == true)
        #expect(api.acceptedSeqs() == [0, 1, 2, 3])
    }

    @Test func failureAndDropRates() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setFailureRate(1, response: .status(503, retryAfter: "0"))
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 503)
        api.setFailureRate(0)
        api.setDropRate(1)
        #expect(client.post(Self.batch(0..<1)) == nil)
        api.setDropRate(0)
        #expect(try RawClient(port: api.port).post(Self.batch(0..<1))?.status == 200)
        #expect(api.requests.map(\.reason) == ["failureRate", "dropRate", "accepted"])
    }

    @Test func outageWindowEnds() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.failAll(.status(503, retryAfter: "1"), seconds: 0.2)
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 503)
        #expect(api.wait(timeout: 5) { _ in client.post(Self.batch(0..<1))?.status == 200 })
        #expect(api.acceptedCount == 1)
    }

    @Test func slowResponsesStillArrive() throws {
        let api = try FakeTrackAPI()
        defer { api.stop() }
        api.setLatency(0.05)
        api.enqueue(FakeTrackAPI.Response(status: 200, body: "{}", delay: 0.05))
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 200)
        #expect(client.post(Self.batch(1..<2))?.status == 200)
        #expect(api.acceptedSeqs() == [0, 1])
    }

    @Test func concurrentConnectionsLoseNothing() throws {
        let api = try FakeTrackAPI(keepsRequests: false, keepsEvents: false)
        defer { api.stop() }
        let port = api.port
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            guard let client = try? RawClient(port: port) else { return }
            for round in 0..<10 {
                let first = worker * 1000 + round * 10
                _ = client.post(Self.batch(first..<(first + 10)))
            }
        }
        #expect(api.requestCount == 80)
        #expect(api.connectionCount == 8)
        #expect(api.acceptedCount == 800)
        #expect(api.acceptedEvents.isEmpty && api.requests.isEmpty)
        #expect(api.maxEventsPerRequest == 10)
        #expect(api.statusCounts == [200: 80])
        let seqs = api.acceptedSeqs()
        #expect(seqs.count == 800 && Set(seqs).count == 800)
        #expect(api.duplicateSeqs().isEmpty)
    }

    @Test func stopClosesOpenConnections() throws {
        let api = try FakeTrackAPI()
        let client = try RawClient(port: api.port)
        #expect(client.post(Self.batch(0..<1))?.status == 200)
        api.stop()
        #expect(api.openConnectionCount == 0)
        #expect(client.post(Self.batch(1..<2)) == nil)
        api.stop()  // idempotent
    }

    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        try stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fakeapi-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func testCertificatesVerifyAgainstTheirCA() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try FakeTrackAPI.makeTestCertificates(in: directory)
        let verified = try Self.run(["openssl", "verify", "-CAfile", files.caCertificate, files.certificate])
        #expect(verified.status == 0 && verified.output.contains("OK"))
        let named = try Self.run(["openssl", "x509", "-in", files.certificate, "-noout", "-ext", "subjectAltName"])
        #expect(named.output.contains("DNS:localhost") && named.output.contains("IP Address:127.0.0.1"))
    }

    /// `openssl s_client` as the TLS client: it verifies like tracktail must (CA file, host name).
    @Test func servesHTTPSWithTheTestCertificate() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = try FakeTrackAPI.makeTestCertificates(in: directory + "/good")
        let api = try FakeTrackAPI(tls: good)
        defer { api.stop() }
        #expect(api.url.hasPrefix("https://127.0.0.1:"))
        /// One POST over a verified TLS connection to `host`; the exit status and the status code answered.
        func post(_ api: FakeTrackAPI, host: String, ca: String?) throws -> (status: Int32, code: String) {
            var arguments = ["openssl", "s_client", "-connect", "127.0.0.1:\(api.port)", "-quiet", "-verify_return_error",
                             "-ignore_unexpected_eof"]  // the fake closes without close_notify
            arguments += host == "127.0.0.1" ? ["-verify_ip", host] : ["-servername", host, "-verify_hostname", host]
            if let ca { arguments += ["-CAfile", ca] }
            let body = Self.batch(0..<3)
            let request = "POST /api/track HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer test-token\r\n"
                + "Content-Type: application/json\r\nUser-Agent: tracktail/0\r\nConnection: close\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let (status, output) = try Self.run(arguments, input: request)
            let code = output.hasPrefix("HTTP/1.1 ") ? String(output.dropFirst(9).prefix(3)) : ""
            return (status, code)
        }
        #expect(try post(api, host: "localhost", ca: good.caCertificate) == (0, "200"))
        #expect(try post(api, host: "127.0.0.1", ca: good.caCertificate) == (0, "200"))
        #expect(api.acceptedSeqs() == [0, 1, 2, 0, 1, 2])
        #expect(try post(api, host: "localhost", ca: nil).status != 0)  // not in the system store
        #expect(api.wait(timeout: 5) { $0.tlsHandshakeFailures == 1 })

        let wrong = try FakeTrackAPI.makeTestCertificates(in: directory + "/wrong", hosts: ["wrong.example"])
        let misnamed = try FakeTrackAPI(tls: wrong)
        defer { misnamed.stop() }
        #expect(try post(misnamed, host: "localhost", ca: wrong.caCertificate).status != 0)
        #expect(misnamed.wait(timeout: 5) { $0.connectionCount == 1 && $0.openConnectionCount == 0 })
        #expect(misnamed.requestCount == 0)
        #expect(api.violations.isEmpty)
    }

    /// `Harness.Sink`, the adapter for tests written against the old Python sink: its options and counter names.
    @Test func harnessSinkSpeaksTheOldSinkVocabulary() throws {
        let directory = URL(fileURLWithPath: Self.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: directory) }
        let sink = try Harness.Sink(directory: directory, extra: ["--poison-path", "properties.poison", "--max-events", "5"])
        defer { sink.stop() }
        let client = try RawClient(port: sink.port)
        let poisoned = "[" + Self.event(0) + "," + Self.event(1).replacingOccurrences(of: #""seq":1"#, with: #""seq":1,"poison":true"#) + "]"
        #expect(client.post(poisoned)?.status == 400)
        #expect(client.post(Self.batch(0..<6))?.status == 400)  // over --max-events
        #expect(client.post(Self.batch(0..<3))?.status == 200)
        #expect(client.post(Self.batch(2..<4))?.status == 200)
        #expect(client.post(Self.batch(0..<1), token: "wrong")?.status == 401)
        #expect(sink.int("requests") == 5)
        #expect(sink.int("events") == 5 && sink.int("unique") == 4 && sink.int("dupes") == 1 && sink.int("no_seq") == 0)
        #expect(sink.int("rejected_400") == 2 && sink.int("unauthorized") == 1 && sink.int("accepted") == 2)
        #expect(throws: FakeTrackAPI.FakeError.self) { try Harness.Sink(directory: directory, extra: ["--tls-cert", "x.pem"]) }
    }

    @Test(arguments: [
        ("2024-10-20T15:51:36.514Z", true),
        ("2024-10-20T15:51:36.5140Z", false),
        ("2024-10-20 15:51:36.514Z", false),
        ("2024-10-20T15:51:36.514z", false),
        ("", false),
    ])
    func wireTimestampPattern(text: String, valid: Bool) {
        #expect(FakeTrackAPI.isWireTimestamp(text) == valid)
    }
}
