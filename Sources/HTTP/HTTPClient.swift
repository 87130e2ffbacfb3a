import Posix
import Synchronization

/// A blocking HTTP/1.1 client for one origin with a small keep-alive pool.
///
/// Meant for dedicated threads (blocking I/O never runs on the cooperative pool): `send` blocks in `poll(2)` until
/// the response arrives or the request timeout passes; never call it on Swift's cooperative pool.
/// Thread safe: any number of threads may `send` at once; each borrows its own connection.
///
/// | situation | what `send` does |
/// | --- | --- |
/// | an idle connection exists | reuses it (after a zero-timeout check that the server has not closed it) |
/// | none idle | connects: resolve, try each address (IPv6/IPv4), TCP_NODELAY, proxy CONNECT, TLS |
/// | reused connection closed/reset before any response byte | one immediate retry on a fresh connection, with a fresh request timeout |
/// | response complete, server keeps the connection | back to the pool (at most `poolSize` idle) |
/// | any error | the connection is closed; the error is thrown |
///
/// A POST may thus reach the server twice only if the server closed the connection without
/// answering — the delivery contract is at-least-once anyway.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let tls: TLSContext?
    private let hostHeader: String
    private let pool = Locked(Pool())
    private let opened = Atomic<Int>(0)

    private struct Pool: ~Copyable {
        var idle: [HTTPConnection] = []
        var shutDown = false
    }

    /// Builds the TLS context (system CA store + `caFile`) once, so a bad `caFile` is reported at
    /// start-up rather than at the first request.
    public init(_ configuration: HTTPClientConfiguration) throws(HTTPError) {
        self.configuration = configuration
        tls = configuration.url.isHTTPS ? try TLSContext(caFile: configuration.caFile) : nil
        hostHeader = configuration.url.authority
        if let proxy = configuration.proxy, proxy.isHTTPS {
            throw .invalidURL(proxy.description, reason: "only http:// proxies are supported")
        }
    }

    deinit {
        close()
    }

    /// Sends `request` (its `path` is relative to the configured origin) and returns the response,
    /// whatever its status. Throws only when no complete response arrived.
    ///
    /// For https origins the calling thread gets `SIGPIPE` blocked (see
    /// `Socket.blockBrokenPipeSignalOnCurrentThread`): OpenSSL writes without `MSG_NOSIGNAL`.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        if tls != nil { Socket.blockBrokenPipeSignalOnCurrentThread() }
        let deadline = SystemClock.monotonicNanoseconds() + configuration.requestTimeoutNanoseconds
        let (connection, reused) = try borrow(deadline: deadline)
        do {
            return try exchange(request, on: connection, deadline: deadline)
        } catch {
            guard reused, error == .closed(beforeResponse: true) else { throw error }
        }
        let retryDeadline = SystemClock.monotonicNanoseconds() + configuration.requestTimeoutNanoseconds
        return try exchange(request, on: try connect(deadline: retryDeadline), deadline: retryDeadline)
    }

    /// Closes idle connections; later `send`s fail with `.shutDown`. Connections in use are closed
    /// when their `send` returns.
    public func close() {
        let idle = pool.withLock { pool -> [HTTPConnection] in
            pool.shutDown = true
            defer { pool.idle.removeAll() }
            return pool.idle
        }
        for connection in idle { connection.close() }
    }

    /// Idle connections now in the pool (for tests and metrics).
    public var idleConnections: Int { pool.withLock { $0.idle.count } }

    /// Connections opened since the client was made (for tests and metrics: with keep-alive
    /// working, this stays near `poolSize`).
    public var connectionsOpened: Int { opened.load(ordering: .relaxed) }

    // MARK: Internals

    private func exchange(_ request: HTTPRequest, on connection: HTTPConnection, deadline: Int64) throws(HTTPError) -> HTTPResponse {
        let target: String
        if configuration.proxy != nil && !configuration.url.isHTTPS {
            target = "http://\(hostHeader)\(request.path)" // absolute-form for a forward proxy
        } else {
            target = request.path
        }
        do {
            let response = try connection.exchange(request, target: target, hostHeader: hostHeader,
                                                    userAgent: configuration.userAgent, deadline: deadline)
            giveBack(connection)
            return response
        } catch {
            connection.close()
            throw error
        }
    }

    /// An idle connection that still looks open, or a new one.
    private func borrow(deadline: Int64) throws(HTTPError) -> (HTTPConnection, reused: Bool) {
        let now = SystemClock.monotonicNanoseconds()
        while true {
            enum Borrowed { case idle(HTTPConnection), none, shutDown }
            let next: Borrowed = pool.withLock { pool in
                if pool.shutDown { return .shutDown }
                return pool.idle.popLast().map(Borrowed.idle) ?? .none
            }
            guard case .idle(let connection) = next else {
                if case .shutDown = next { throw .shutDown }
                break
            }
            if now - connection.idleSince > configuration.maxIdleNanoseconds || connection.looksClosed() {
                connection.close()
                continue
            }
            return (connection, true)
        }
        return (try connect(deadline: deadline), false)
    }

    private func connect(deadline: Int64) throws(HTTPError) -> HTTPConnection {
        let now = SystemClock.monotonicNanoseconds()
        opened.add(1, ordering: .relaxed)
        return try HTTPConnection.open(
            to: configuration.url, proxy: configuration.proxy, tls: tls, userAgent: configuration.userAgent,
            maxBodyBytes: configuration.maxResponseBodyBytes,
            connectDeadline: now + configuration.connectTimeoutNanoseconds,
            deadline: deadline)
    }

    private func giveBack(_ connection: HTTPConnection) {
        guard connection.reusable else {
            connection.close()
            return
        }
        connection.idleSince = SystemClock.monotonicNanoseconds()
        let kept = pool.withLock { pool -> Bool in
            guard !pool.shutDown, pool.idle.count < configuration.poolSize else { return false }
            pool.idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }
}
