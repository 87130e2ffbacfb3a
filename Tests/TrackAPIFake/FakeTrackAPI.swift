import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An in-process fake of the ThriveStack Track API, for the end-to-end tests and the HTTP client's
/// tests (a support target under `Tests/`: only test targets depend on it, the executable never
/// links it).
///
/// The real `tracktail` binary is pointed at `url` (`http://127.0.0.1:<port>/api/track`); the
/// test then asks what arrived. The fake is a real HTTP/1.1 server on plain POSIX sockets (one
/// accept thread, one thread per connection, keep-alive, `Content-Length` and chunked request
/// bodies, `Content-Encoding: gzip`, `Expect: 100-continue`), so tracktail's own client is exercised on the wire exactly
/// as against the real API, including its keep-alive pool and its reaction to dropped sockets.
///
/// Every request is checked against the contract in `docs/track-api.md` whatever the fake answers; breaches
/// land in `violations`, so a test ends with `#expect(api.violations.isEmpty)`.
///
/// How one request is answered (first matching row wins):
///
/// | step | condition | answer |
/// | --- | --- | --- |
/// | 1 | `latency` / `Response.delay` | wait first (the connection stays open) |
/// | 2 | a scripted action is queued (`enqueue`) | that action: a canned response, a dropped connection, a stall, a truncated answer |
/// | 3 | `failAll` is active (outage window, "401 until further notice") | its response |
/// | 4 | `dropRate` draws true (seeded RNG) | close the socket without answering |
/// | 5 | `failureRate` draws true (seeded RNG) | `failureResponse` (503 by default) |
/// | 6 | not `POST /api/track` | 404 / 405 |
/// | 7 | authentication missing or wrong | 401 |
/// | 8 | body (decompressed) over `bodyLimit` bytes (default 2,000,000) | 413 |
/// | 9 | `Content-Encoding` other than gzip / deflate / identity | 415 (a gzip body that does not decode: 400 at step 10) |
/// | 10 | not a JSON array of 1…`eventLimit` valid events | 400 with a JSON error naming the index |
/// | 11 | an event matches `poison` | `poisonStatus` (400) naming the first poison event |
/// | 12 | otherwise | 200 `{"accepted":N}`; the events are recorded as accepted |
///
/// A canned 2xx (steps 2, 3, 5) also accepts the events when they are valid; any other canned
/// answer accepts nothing. Steps 6–11 answer what the real API might. Contract violations are
/// recorded independently of the answer: wrong method or path, `Content-Type` not
/// `application/json`, `User-Agent` not `tracktail/…`, step 10's event checks, and the hard limits
/// (1,000 events, 2,000,000 bytes) — not the fake's own lower `setLimits`, not authentication.
///
/// Events count as accepted when the answer is chosen, before `latency` and before the answer is
/// written — like a real API that ingested a batch whose answer the client then never saw; so a
/// client that times out on a slow 200 and resends produces duplicates (at-least-once), visible
/// in `duplicateSeqs`.
///
/// All setters are thread-safe and may be called while tracktail is sending.
///
/// ```swift
/// let api = try FakeTrackAPI(auth: .bearer("secret"))
/// defer { api.stop() }
/// api.enqueue(.status(503, retryAfter: "1"), .status(429, retryAfter: FakeTrackAPI.httpDate(secondsFromNow: 1)))
/// api.setPoison { $0.int("properties.seq") == 42 }
/// // … start tracktail with url = api.url, write 1,000 lines with props.seq 0..<1000 …
/// #expect(api.wait(timeout: 60) { $0.acceptedCount >= 999 }, "\(api.summary)")
/// #expect(api.missingSeqs(0..<1000) == [42])
/// #expect(api.maxEventsPerRequest <= 1_000 && api.violations.isEmpty)
/// ```
package final class FakeTrackAPI: @unchecked Sendable {
    // MARK: Types

    /// How tracktail must authenticate.
    package enum Auth: Sendable, Equatable {
        /// `Authorization: Bearer <token>` (the contract's default).
        case bearer(String)
        /// A header with a chosen name (`x-api-key`, `KEY`) carrying the token as its value.
        case apiKey(header: String, token: String)
        /// Anything goes (for tests that are not about authentication).
        case none
    }

    /// One canned HTTP answer.
    package struct Response: Sendable {
        package var status: Int
        package var headers: [(name: String, value: String)]
        package var body: String
        /// Send the body with `Transfer-Encoding: chunked` (in `chunkSize` pieces) instead of `Content-Length`.
        package var chunked: Bool
        package var chunkSize: Int
        /// Seconds to wait before answering, on top of the fake's `latency`.
        package var delay: Double

        package init(status: Int, headers: [(name: String, value: String)] = [], body: String = "", chunked: Bool = false,
             chunkSize: Int = 7, delay: Double = 0) {
            self.status = status
            self.headers = headers
            self.body = body
            self.chunked = chunked
            self.chunkSize = max(1, chunkSize)
            self.delay = delay
        }

        /// A status with an optional `Retry-After` (use `FakeTrackAPI.httpDate(secondsFromNow:)` for the date form)
        /// and a small JSON body naming the status.
        package static func status(_ status: Int, retryAfter: String? = nil, body: String? = nil, delay: Double = 0) -> Response {
            var headers: [(name: String, value: String)] = []
            if let retryAfter { headers.append((name: "Retry-After", value: retryAfter)) }
            return Response(status: status, headers: headers, body: body ?? #"{"error":"fake \#(status)"}"#, delay: delay)
        }
    }

    /// What to do with one of the next requests. Only `respond` with a 2xx status accepts events; the others
    /// record the request with `status == nil`.
    package enum Action: Sendable {
        case respond(Response)
        /// Read the request, then close the socket without answering.
        case dropConnection
        /// Read the request and never answer; the socket closes when the client gives up (its request timeout) or
        /// the fake stops.
        case stall
        /// Send the status line, the headers and half the body of `Response`, then close (a broken answer).
        case truncate(Response)
    }

    /// One event as the fake parsed it. `object` is the `JSONSerialization` dictionary.
    package struct Event: @unchecked Sendable {
        package let object: [String: Any]
        /// Index of the request that carried it (into `requests`) and its position in that batch.
        package let requestIndex: Int
        package let position: Int

        /// The value at a dotted path such as `properties.seq` or `context.group_id`.
        package subscript(path: String) -> Any? { FakeTrackAPI.value(at: path, in: object) }

        package func string(_ path: String) -> String? { self[path] as? String }

        /// An integer at `path`; integral numbers and digit strings both count.
        package func int(_ path: String) -> Int? {
            switch self[path] {
            case let n as NSNumber:
                let d = n.doubleValue
                return d == d.rounded() && abs(d) < 9e15 ? Int(d) : nil
            case let s as String: return Int(s)
            default: return nil
            }
        }

        package var eventName: String? { string("event_name") }
        package var userID: String? { string("user_id") }
        package var timestamp: String? { string("timestamp") }
    }

    /// One request as received, with what the fake answered.
    package struct Request: Sendable {
        /// Position in `requests`.
        package let index: Int
        /// Which TCP connection carried it (1, 2, …) and how many requests that connection carried before it.
        package let connectionID: Int
        package let indexOnConnection: Int
        package let method: String
        package let target: String
        package let version: String
        package let headers: [(name: String, value: String)]
        /// The body after de-chunking and decompression (empty when `keepsBodies` is false), and its length in bytes.
        package let body: Data
        package let bodyBytes: Int
        /// The body's length as sent (compressed, when `contentEncoding` says so) and its `Content-Encoding`.
        package let wireBytes: Int
        package let contentEncoding: String?
        package let wasChunked: Bool
        /// Top-level events in the body (0 when it was not a JSON array or object).
        package let eventCount: Int
        /// The `seqPath` values (`properties.seq` by default) of its events, in body order, whatever the answer.
        package let seqs: [Int]
        /// The status answered, or nil when the fake dropped the connection, stalled, or truncated its answer.
        package let status: Int?
        /// Why that answer (the step of the table on `FakeTrackAPI`): "scripted", "failAll", "dropRate", "failureRate",
        /// "path", "method", "auth", "tooLarge", "encoding", "invalid", "tooMany", "poison", "accepted".
        package let reason: String
        /// Seconds since the fake started, when the request was complete.
        package let receivedAt: Double

        /// The first value of a header, matched case-insensitively.
        package func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name.lowercased() == lower }?.value
        }

        package var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// A breach of the Track API contract (`docs/track-api.md`) by the client.
    package struct Violation: Sendable, CustomStringConvertible {
        package let requestIndex: Int
        package let reason: String
        package var description: String { "request \(requestIndex): \(reason)" }
    }

    // MARK: Construction

    /// The listening port and the URL to configure as tracktail's `url` (`https://` when serving TLS).
    package let port: Int
    package var url: String { url(host: "127.0.0.1") }
    /// The base URL (without `/api/track`), for configurations that take a base.
    package var baseURL: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)" }
    /// The URL with another host name for the same listener, e.g. `localhost` to match a TLS certificate by name.
    package func url(host: String) -> String { "\(tls == nil ? "http" : "https")://\(host):\(port)/api/track" }
    /// TLS handshakes that failed (the client rejected the certificate or spoke plain HTTP): evidence that a refusal
    /// happened at the TLS layer. A client that checks the host name only after the handshake (curl does) shows up as a
    /// connection with no request instead.
    package var tlsHandshakeFailures: Int { lock.withLock { state.tlsHandshakeFailures } }

    /// Starts listening on `127.0.0.1:0` at once; call `stop()` when done (a `defer` right after creating it), as
    /// the fake's own threads keep it alive until then.
    ///
    /// | parameter | effect |
    /// | --- | --- |
    /// | `auth` | credentials to demand (default `Authorization: Bearer test-token`) |
    /// | `keepsRequests` | false: `requests` stays empty (100k-request runs keep memory flat; counters still count) |
    /// | `keepsBodies` | false: `Request.body` stays empty (long runs keep memory flat; `bodyBytes` still counts) |
    /// | `keepsEvents` | false: `acceptedEvents` stays empty (counts and `seqPath` values are still recorded) |
    /// | `seqPath` | dotted path of the integer recorded per event for `acceptedSeqs` / `Request.seqs` |
    /// | `fastChecks` | true: bodies are checked by a byte scanner instead of `JSONSerialization` (same rules, no event objects, ~230k instead of ~35k events/s in a debug build; a poison predicate switches back to full parsing) |
    /// | `seed` | seed of the RNG behind `setFailureRate` / `setDropRate` |
    /// | `tls` | serve HTTPS with these files (from `makeTestCertificates`; needs the `COpenSSL` dependency) |
    package init(auth: Auth = .bearer("test-token"), keepsRequests: Bool = true, keepsBodies: Bool = true, keepsEvents: Bool = true,
         seqPath: String? = "properties.seq", fastChecks: Bool = false, seed: UInt64 = 0x5EED, tls: TLSFiles? = nil) throws {
        self.tls = try tls.map { try FakeTLSContext($0) }
        // OpenSSL writes to the socket without MSG_NOSIGNAL: a client that hangs up must not kill the test process.
        if tls != nil { signal(SIGPIPE, SIG_IGN) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FakeError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { let e = errno; close(fd); throw FakeError.system("bind", e) }
        guard listen(fd, 128) == 0 else { let e = errno; close(fd); throw FakeError.system("listen", e) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { let e = errno; close(fd); throw FakeError.system("getsockname", e) }
        listenFD = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        state = State(auth: auth, keepsBodies: keepsBodies, keepsEvents: keepsEvents && !fastChecks, seqPath: seqPath,
                      fastChecks: fastChecks, rng: SplitMix64(seed: seed), keepsRequests: keepsRequests)
        threads.enter()
        let acceptor = Thread { [self] in acceptLoop(); threads.leave() }
        acceptor.name = "FakeTrackAPI.accept"
        acceptor.start()
    }

    deinit { stop() }

    /// Closes the listener and every connection and waits (up to 10 s) for all threads. Idempotent.
    package func stop() {
        // Only the first call shuts anything down, and only under the lock (connection threads leave `connections`
        // under it before closing): a closed descriptor number may already belong to someone else.
        let first: Bool = lock.withLock {
            if stopping { return false }
            stopping = true
            for connection in connections.values { shutdown(connection.fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        _ = threads.wait(timeout: .now() + 10)
        close(listenFD)
    }

    // MARK: Scripting faults (thread-safe, any time)

    /// Queues actions for the next requests, one each, before any other rule applies.
    package func enqueue(_ actions: [Action]) { lock.withLock { state.script.append(contentsOf: actions) } }
    package func enqueue(_ action: Action, times: Int = 1) { enqueue(Array(repeating: action, count: times)) }
    /// Queues canned responses for the next `responses.count` requests.
    package func enqueue(_ responses: Response...) { enqueue(responses.map { .respond($0) }) }
    /// Scripted actions not yet used.
    package var pendingScript: Int { lock.withLock { state.script.count } }
    package func clearScript() { lock.withLock { state.script.removeAll() } }

    /// Answers every request with `response` until `stopFailingAll()` or, with `seconds`, until that many seconds
    /// have passed (an outage window). Example: `failAll(.status(401))` for "401 until further notice".
    package func failAll(_ response: Response, seconds: Double? = nil) {
        lock.withLock {
            state.failAll = response
            state.failAllUntil = seconds.map { now() + $0 }
        }
    }
    package func stopFailingAll() { lock.withLock { state.failAll = nil; state.failAllUntil = nil } }
    /// Switches "401 for everything" on or off.
    package func setUnauthorized(_ on: Bool) { on ? failAll(.status(401, body: #"{"error":"invalid api key"}"#)) : stopFailingAll() }

    /// Answers a random share of requests with `response` (RNG seeded in `init`, so a run is repeatable for a given
    /// request order). 0 switches it off.
    package func setFailureRate(_ rate: Double, response: Response = .status(503, retryAfter: "1")) {
        lock.withLock { state.failureRate = rate; state.failureResponse = response }
    }
    /// Drops the connection without answering for a random share of requests.
    package func setDropRate(_ rate: Double) { lock.withLock { state.dropRate = rate } }

    /// Events for which `predicate` holds make their whole batch fail with `status` (400 by default, or 422), the body
    /// naming the first one, so that the shipper must split the batch to isolate them. nil switches it off.
    package func setPoison(status: Int = 400, _ predicate: (@Sendable (Event) -> Bool)?) {
        lock.withLock { state.poison = predicate; state.poisonStatus = status }
    }

    /// Seconds every answer waits (a slow API). 0 switches it off.
    package func setLatency(_ seconds: Double) { lock.withLock { state.latency = seconds } }

    /// Changes the accepted credentials (e.g. after a test rotates the token file).
    package func setAuth(_ auth: Auth) { lock.withLock { state.auth = auth } }

    /// The fake's own size limits (lower them to provoke 413 / 400 on valid batches). Exceeding the contract's hard
    /// limits (1,000 events, 2,000,000 bytes) is a violation whatever these are.
    package func setLimits(bodyBytes: Int = 2_000_000, events: Int = 1_000) {
        lock.withLock { state.bodyLimit = bodyBytes; state.eventLimit = events }
    }

    /// Closes every open kept-alive connection as soon as it waits for its next request (at once when it already
    /// does; after its answer when a request is in progress), as a server's idle timeout does. tracktail must notice on
    /// its next request and retry once on a fresh connection. Connections opened later are not affected.
    package func closeIdleConnections() {
        lock.withLock {
            for (id, connection) in connections {
                if connection.isIdle { shutdown(connection.fd, Int32(SHUT_RDWR)) } else { connections[id]?.closeWhenIdle = true }
            }
        }
    }
    /// Closes kept-alive connections idle for longer than `seconds` (nil: never).
    package func setIdleTimeout(_ seconds: Double?) { lock.withLock { state.idleTimeout = seconds } }
    /// After `count` answers on one connection, close it. With `announce` the last answer says `Connection: close`
    /// (a polite server); without, the socket just closes after the answer (the race a pooled client must survive).
    package func setMaxRequestsPerConnection(_ count: Int?, announce: Bool = false) {
        lock.withLock { state.maxRequestsPerConnection = count; state.announceClose = announce }
    }
    /// Send every answer with `Transfer-Encoding: chunked`, to exercise the client's chunked parser.
    package func setChunkedResponses(_ on: Bool) { lock.withLock { state.chunkedResponses = on } }

    // MARK: What arrived (thread-safe snapshots)

    /// Every request (empty when `keepsRequests` is false; the counters below still count).
    package var requests: [Request] { lock.withLock { state.requests } }
    package var requestCount: Int { lock.withLock { state.requestCount } }
    package var acceptedEvents: [Event] { lock.withLock { state.accepted } }
    package var acceptedCount: Int { lock.withLock { state.acceptedCount } }
    /// Distinct `seqPath` values among the accepted events: the events that arrived at least once.
    package var uniqueCount: Int { lock.withLock { state.seenSeqs.count } }
    /// Accepted events whose `seqPath` value had been accepted before (the at-least-once resends).
    package var duplicateCount: Int { lock.withLock { state.duplicateCount } }
    /// Accepted events without an integer at `seqPath`: events no test line produced, i.e. invented ones.
    package var noSeqCount: Int { lock.withLock { state.acceptedCount - state.seqs.count } }
    package var violations: [Violation] { lock.withLock { state.violations } }
    /// Largest event count and (decompressed) body size seen in any request (answered or not).
    package var maxEventsPerRequest: Int { lock.withLock { state.maxEventsPerRequest } }
    package var maxBodyBytes: Int { lock.withLock { state.maxBodyBytes } }
    /// Requests answered with each status (dropped connections are not counted).
    package var statusCounts: [Int: Int] {
        lock.withLock { state.statusCounts }
    }
    /// Requests that got no answer (dropped, stalled, truncated).
    package var unansweredCount: Int { lock.withLock { state.unansweredCount } }
    /// TCP connections accepted so far and open now.
    package var connectionCount: Int { lock.withLock { nextConnectionID } }
    package var openConnectionCount: Int { lock.withLock { connections.count } }

    /// One line for failure messages: requests per status, accepted events, violations.
    package var summary: String {
        lock.withLock {
            var parts = state.statusCounts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }
            if state.unansweredCount > 0 { parts.append("unanswered×\(state.unansweredCount)") }
            let byStatus = parts.joined(separator: " ")
            return "\(state.requestCount) requests (\(byStatus)), \(state.acceptedCount) events accepted, "
                + "\(state.violations.count) violations\(state.violations.first.map { ", first: \($0)" } ?? "")"
        }
    }

    /// Integer values at `path` (default: `seqPath` given in `init`) of every accepted event, in acceptance order
    /// (duplicates kept). Other paths than `seqPath` need `keepsEvents`.
    package func acceptedSeqs(path: String? = nil) -> [Int] {
        lock.withLock {
            guard let path, path != state.seqPath else { return state.seqs }
            return state.accepted.compactMap { $0.int(path) }
        }
    }
    /// Values of `acceptedSeqs` that arrived more than once, and values of `expected` that never arrived.
    package func duplicateSeqs(path: String? = nil) -> [Int] {
        var seen = Set<Int>(), dup = Set<Int>()
        for s in acceptedSeqs(path: path) where !seen.insert(s).inserted { dup.insert(s) }
        return dup.sorted()
    }
    package func missingSeqs(_ expected: Range<Int>, path: String? = nil) -> [Int] {
        let got = Set(acceptedSeqs(path: path))
        return expected.filter { !got.contains($0) }
    }

    /// Polls (every 20 ms) until `condition` holds or `timeout` seconds pass; returns whether it held.
    @discardableResult
    package func wait(timeout: Double = 30, until condition: (FakeTrackAPI) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition(self)
    }
    @discardableResult
    package func waitForAccepted(_ count: Int, timeout: Double = 30) -> Bool { wait(timeout: timeout) { $0.acceptedCount >= count } }

    /// Forgets recorded requests, events and violations (faults and settings stay).
    package func resetRecords() {
        lock.withLock {
            state.requests.removeAll(); state.accepted.removeAll(); state.seqs.removeAll()
            state.seenSeqs.removeAll(); state.duplicateCount = 0
            state.requestCount = 0; state.maxEventsPerRequest = 0; state.maxBodyBytes = 0
            state.statusCounts.removeAll(); state.unansweredCount = 0
            state.acceptedCount = 0; state.violations.removeAll()
        }
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for a `Retry-After` date.
    package static func httpDate(secondsFromNow: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: Date().addingTimeInterval(secondsFromNow))
    }

    /// The value at a dotted path in a `JSONSerialization` object.
    package static func value(at path: String, in object: [String: Any]) -> Any? {
        var current: Any? = object
        for key in path.split(separator: ".") {
            guard let dictionary = current as? [String: Any] else { return nil }
            current = dictionary[String(key)]
        }
        return current
    }

    package enum FakeError: Error, CustomStringConvertible {
        case system(String, Int32)
        case message(String)
        package var description: String {
            switch self {
            case let .system(call, code): "\(call): \(String(cString: strerror(code)))"
            case let .message(text): text
            }
        }
    }

    // MARK: Internals shared with the connection code

    struct State {
        var auth: Auth
        var keepsBodies: Bool
        var keepsEvents: Bool
        var seqPath: String?
        var fastChecks: Bool
        var rng: SplitMix64
        var script: [Action] = []
        var failAll: Response?
        var failAllUntil: Double?
        var failureRate = 0.0
        var failureResponse = Response.status(503, retryAfter: "1")
        var dropRate = 0.0
        var poison: (@Sendable (Event) -> Bool)?
        var poisonStatus = 400
        var latency = 0.0
        var bodyLimit = 2_000_000
        var eventLimit = 1_000
        var idleTimeout: Double?
        var maxRequestsPerConnection: Int?
        var announceClose = false
        var chunkedResponses = false
        var keepsRequests: Bool
        var requests: [Request] = []
        var requestCount = 0
        var maxEventsPerRequest = 0
        var maxBodyBytes = 0
        var statusCounts: [Int: Int] = [:]
        var unansweredCount = 0
        var tlsHandshakeFailures = 0
        var accepted: [Event] = []
        var acceptedCount = 0
        var seqs: [Int] = []
        var seenSeqs: Set<Int> = []
        var duplicateCount = 0
        var violations: [Violation] = []
    }

    struct ConnectionEntry {
        let fd: Int32
        var isIdle: Bool
        var closeWhenIdle = false
    }

    /// Recursive, so that a poison predicate may itself look at the fake.
    let lock = NSRecursiveLock()
    var state: State
    var connections: [Int: ConnectionEntry] = [:]
    var nextConnectionID = 0
    var stopping = false
    let listenFD: Int32
    let tls: FakeTLSContext?
    let threads = DispatchGroup()
    let started = Date()

    func now() -> Double { Date().timeIntervalSince(started) }
    var isStopping: Bool { lock.withLock { stopping } }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // shut down by stop(), or a fatal listener error
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let id: Int? = lock.withLock {
                if stopping { return nil }
                nextConnectionID += 1
                connections[nextConnectionID] = ConnectionEntry(fd: fd, isIdle: true)
                return nextConnectionID
            }
            guard let id else { close(fd); return }
            threads.enter()
            let thread = Thread { [self] in
                if let tls {
                    if let channel = tls.accept(fd) {
                        serve(Connection(fd: fd, id: id, server: self, secure: channel))
                    } else {
                        lock.withLock { state.tlsHandshakeFailures += 1 }
                    }
                } else {
                    serve(Connection(fd: fd, id: id, server: self, secure: nil))
                }
                lock.withLock { _ = connections.removeValue(forKey: id) }
                close(fd)
                threads.leave()
            }
            thread.name = "FakeTrackAPI.connection.\(id)"
            thread.start()
        }
    }
}

extension FakeTrackAPI {
    /// A small seeded generator (SplitMix64) so that fault rates are repeatable.
    package struct SplitMix64: RandomNumberGenerator, Sendable {
        package var state: UInt64
        package init(seed: UInt64) { state = seed }
        package mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
