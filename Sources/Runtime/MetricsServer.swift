import Posix
import Synchronization

/// The optional local endpoint of the README ("Metrics and health"): `GET /metrics` (Prometheus text) and
/// `GET /health` (`ok`, or `degraded: <reason>`), for a scraper or a load balancer on the host.
///
/// A deliberately tiny HTTP/1.1 responder: ONE dedicated thread polls the listening socket and
/// a wake-up pipe, accepts a connection, reads the request head, answers, closes
/// (`Connection: close`), and only then looks at the next one. Nothing it does can block the
/// pipeline: it never takes a pipeline lock itself (the `metrics`/`health` closures read
/// atomics and take brief snapshots), and a client that is slow or silent costs at most
/// `ioTimeout` before it is dropped.
///
/// | request | answer |
/// |---|---|
/// | `GET /metrics` | 200, `text/plain; version=0.0.4`, the exposition |
/// | `GET /health`, healthy | 200, `ok` |
/// | `GET /health`, degraded | 503, `degraded: <reason>` |
/// | `HEAD` of either | the same status and headers, no body |
/// | another path | 404 |
/// | another method | 405 with `Allow: GET, HEAD` |
/// | not an HTTP/1.x request line | 400 |
/// | head over 8 KiB | 431 |
/// | nothing within `ioTimeout` | closed without an answer |
public final class MetricsServer: Sendable {
    /// What the endpoint shows: `metrics` renders the exposition; `health` returns nil when
    /// healthy, else the reason. Both run on the server's thread.
    public struct Content: Sendable {
        public var metrics: @Sendable () -> String
        public var health: @Sendable () -> String?
        public init(metrics: @escaping @Sendable () -> String, health: @escaping @Sendable () -> String?) {
            self.metrics = metrics
            self.health = health
        }
    }

    /// An answer before it is written to the socket.
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var contentType = "text/plain; charset=utf-8"
        public var body: String
        public var allow: String? = nil
        /// HEAD: headers only (`Content-Length` still says what GET would send).
        public var headOnly = false

        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, allow: String? = nil, headOnly: Bool = false) {
            self.status = status
            self.contentType = contentType
            self.body = body
            self.allow = allow
            self.headOnly = headOnly
        }

        /// The bytes on the wire.
        public var serialized: [UInt8] {
            var head = "HTTP/1.1 \(status) \(MetricsServer.reason(status))\r\nContent-Type: \(contentType)\r\n"
            head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\nCache-Control: no-store\r\n"
            if let allow { head += "Allow: \(allow)\r\n" }
            head += "\r\n"
            var bytes = Array(head.utf8)
            if !headOnly { bytes.append(contentsOf: body.utf8) }
            return bytes
        }
    }

    /// The largest request head read; a longer one gets 431.
    public static let maxHeadBytes = 8192

    /// The bound address (with the real port when 0 was asked for).
    public let address: SocketAddress
    private let listener: Socket
    private let wakeup: WakeupEvent
    private let ioTimeout: Int64
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<Thread?>(nil)
    private let logger: Logger

    /// Binds and listens at once, so that a port already in use is a startup error, before
    /// anything else runs. `ioTimeout` (ns) bounds reading a request and writing its answer.
    public init(listeningOn address: SocketAddress, ioTimeout: Int64 = 2_000_000_000, logger: Logger = Logger(label: "metrics")) throws(Errno) {
        let socket = try Socket.listen(on: address, backlog: 16)
        do throws(Errno) {
            try socket.setNonBlocking()
            self.address = try socket.localAddress()
        } catch {
            socket.close()
            throw error
        }
        do {
            wakeup = try WakeupEvent.create()
        } catch {
            socket.close()
            throw (error as? Errno) ?? Errno(code: 0, call: "pipe")
        }
        listener = socket
        self.ioTimeout = ioTimeout
        self.logger = logger
    }

    /// Starts the serving thread. Once only; later calls do nothing.
    public func start(_ content: Content) {
        thread.withLock { t in
            guard t == nil, !stopping.load(ordering: .relaxed) else { return }
            t = Thread(name: "metrics") { [self] in serve(content) }
        }
    }

    /// Ends the thread (an answer being written finishes or times out first) and closes the
    /// socket. Safe to call without `start`, and more than once.
    public func stop() {
        if stopping.exchange(true, ordering: .sequentiallyConsistent) { return }
        wakeup.signal()
        let t = thread.withLock { t -> Thread? in defer { t = nil }; return t }
        t?.join()
        listener.close()
        wakeup.close()
    }

    private func serve(_ content: Content) {
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let ready: [InotifyPoll.Readiness]
            do {
                ready = try InotifyPoll.wait([listener.descriptor, wakeup.descriptor], timeoutMilliseconds: -1)
            } catch {
                logger.error("metrics endpoint stopped", ["error": "\(error)"])
                return
            }
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            guard ready[0].readable else { continue }
            let connection: Socket
            do {
                connection = try listener.accept()
            } catch {
                // EAGAIN: the client gave up between poll and accept. Anything else (EMFILE) is
                // logged and retried at the next readiness, after a short pause.
                if error.code != Errno.wouldBlock {
                    logger.warning("metrics endpoint: accept failed", ["error": error.description])
                    SystemClock.sleep(nanoseconds: 100_000_000)
                }
                continue
            }
            handle(connection, content)
            connection.close()
        }
    }

    private func handle(_ connection: Socket, _ content: Content) {
        let deadline = SystemClock.monotonicNanoseconds() + ioTimeout
        do throws(Errno) {
            try connection.setNonBlocking()
            let response: Response
            switch try readHead(connection, deadline: deadline) {
            case .head(let head): response = MetricsServer.respond(to: head, content)
            case .tooLarge: response = Response(status: 431, body: "request head too large\n")
            case .incomplete: return
            }
            try write(response.serialized, to: connection, deadline: deadline)
            connection.shutdown()
        } catch {
            logger.debug("metrics request failed", ["error": error.description])
        }
    }

    private enum HeadRead { case head([UInt8]), tooLarge, incomplete }

    /// Reads until the blank line that ends the head, the size limit, the peer's close, or the deadline.
    private func readHead(_ connection: Socket, deadline: Int64) throws(Errno) -> HeadRead {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            let remaining = deadline - SystemClock.monotonicNanoseconds()
            if remaining <= 0 { return .incomplete }
            let events = try Poll.wait(connection.descriptor, for: .readable, timeoutMilliseconds: Int32(min(remaining / 1_000_000 + 1, 60_000)))
            if events.isEmpty { continue }
            let received = chunk.withUnsafeMutableBytes { buffer in Result { () throws(Errno) in try connection.receive(into: buffer) } }
            guard let n = try received.get() else { continue }
            if n == 0 { return .incomplete }
            let scanFrom = max(0, head.count - 3)
            head.append(contentsOf: chunk[0..<n])
            if let end = MetricsServer.endOfHead(head, from: scanFrom) {
                return end > MetricsServer.maxHeadBytes ? .tooLarge : .head(Array(head[0..<end]))
            }
            if head.count > MetricsServer.maxHeadBytes { return .tooLarge }
        }
    }

    private func write(_ bytes: [UInt8], to connection: Socket, deadline: Int64) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { all in Result { () throws(Errno) in try connection.send(UnsafeRawBufferPointer(rebasing: all[done...])) } }
            if let n = try sent.get() {
                done += n
                continue
            }
            let remaining = deadline - SystemClock.monotonicNanoseconds()
            if remaining <= 0 { throw Errno(code: Errno.timedOut, call: "send") }
            _ = try Poll.wait(connection.descriptor, for: .writable, timeoutMilliseconds: Int32(min(remaining / 1_000_000 + 1, 60_000)))
        }
    }

    /// The index just past `\r\n\r\n` (or a bare `\n\n`), searching from `from`.
    static func endOfHead(_ bytes: [UInt8], from: Int) -> Int? {
        let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var i = from
        while i < bytes.count {
            if bytes[i] == lf {
                if i >= 1 && bytes[i - 1] == lf { return i + 1 }
                if i >= 2 && bytes[i - 1] == cr && bytes[i - 2] == lf { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    /// The routing decision, a pure function of the request head (see the type's table).
    public static func respond(to head: [UInt8], _ content: Content) -> Response {
        let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) ?? head.count
        var line = head[0..<lineEnd]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].first == UInt8(ascii: "/"),
              parts[2].starts(with: "HTTP/1.".utf8) else {
            return Response(status: 400, body: "bad request\n")
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        guard method == "GET" || method == "HEAD" else {
            return Response(status: 405, body: "only GET and HEAD\n", allow: "GET, HEAD")
        }
        let target = parts[1]
        let path = String(decoding: target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
        var response: Response
        switch path {
        case "/metrics":
            response = Response(status: 200, contentType: PrometheusText.contentType, body: content.metrics())
        case "/health":
            if let reason = content.health() {
                response = Response(status: 503, body: "degraded: \(reason)\n")
            } else {
                response = Response(status: 200, body: "ok\n")
            }
        default:
            response = Response(status: 404, body: "not found: try /metrics or /health\n")
        }
        response.headOnly = method == "HEAD"
        return response
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// `[metrics] listen`: where the endpoint listens, as written in the configuration.
///
/// | text | result |
/// |---|---|
/// | `127.0.0.1:9464` | IPv4 host and port |
/// | `[::1]:9464` | IPv6 host (brackets required) and port |
/// | `localhost:9464` | the C library's first address for localhost |
/// | `0.0.0.0:9464` | every interface (allowed; `check` warns: no authentication) |
/// | `::1:9464`, `host`, `:9464`, `x:0`, `x:65536` | error, saying why |
/// | `example.com:9464` | error: a name would need DNS at startup |
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses and checks `text`; the error is a message for a person (the caller adds where).
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        func fail(_ m: String) -> Result<ListenAddress, ListenAddressError> { .failure(ListenAddressError(message: m)) }
        let example = "expected host:port, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\""
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return fail("unclosed \"[\": \(example)") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return fail("no port after \"]\": \(example)") }
            portText = rest.dropFirst()
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), host.contains(":") else {
                return fail("\"\(host)\" is not an IPv6 address")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return fail("no port: \(example)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return fail("an IPv6 address needs brackets, e.g. \"[::1]:9464\"") }
            if host.isEmpty { return fail("no host: \(example) (\"0.0.0.0:9464\" for every interface)") }
            guard host == "localhost" || isIPv4(host) else {
                return fail("\"\(host)\" is not an IP address or localhost (a name would need DNS at startup)")
            }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
              (1...65535).contains(port) else {
            return fail("port \"\(portText)\" is not a number from 1 to 65535")
        }
        return .success(ListenAddress(host: String(host), port: port))
    }

    /// Whether only this host can connect (127.0.0.0/8, `::1`, `localhost`).
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    /// The socket address to bind (numeric hosts and `/etc/hosts` only, never DNS).
    public func resolve() throws(ListenAddressError) -> SocketAddress {
        let found: [SocketAddress]
        do {
            found = try Resolver.resolve(host: host, port: port)
        } catch {
            throw ListenAddressError(message: error.message)
        }
        guard let first = found.first else { throw ListenAddressError(message: "\(host) has no address") }
        return first
    }

    /// As it would be written back: `127.0.0.1:9464`, `[::1]:9464`.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy { $0.isASCII && $0.isNumber } && Int(p)! <= 255
        }
    }
}

/// Why a `[metrics] listen` value is not usable.
public struct ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
