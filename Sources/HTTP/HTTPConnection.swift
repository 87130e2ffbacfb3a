import COpenSSL
import Posix

/// One TCP (optionally TLS) connection to the origin or through the proxy, with the buffers it
/// reuses for every request it carries. Borrowed by one thread at a time from `HTTPClient`'s pool,
/// hence `@unchecked Sendable`: the pool's mutex hands it over, nothing shares it.
///
/// Every operation takes an absolute deadline on the monotonic clock; waits use `poll(2)`, so a
/// silent server costs a timeout, never a hung thread.
final class HTTPConnection: @unchecked Sendable {
    private let socket: Socket
    private var tls: TLSSession?
    /// Host named in errors (the origin, or the proxy while talking to it).
    private let host: String
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var head: [UInt8] = []
    private var parser: HTTPResponseParser
    private var closed = false
    /// False once the server said `Connection: close`, sent extra bytes, or an exchange failed.
    private(set) var reusable = true
    /// The last response was followed by bytes nobody asked for.
    private var receivedExtraBytes = false
    /// Monotonic time the connection was last returned to the pool.
    var idleSince: Int64 = 0
    private(set) var exchanges = 0

    static let readBufferSize = 16 << 10
    /// Bodies up to this size are copied behind the head and sent in one write.
    static let coalesceLimit = 16 << 10

    private init(socket: Socket, host: String, maxBodyBytes: Int) {
        self.socket = socket
        self.host = host
        self.readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        self.parser = HTTPResponseParser(maxBodyBytes: maxBodyBytes)
    }

    deinit {
        close()
        readBuffer.deallocate()
    }

    /// Resolves, connects (trying every address in turn, IPv6 and IPv4), tunnels through the proxy
    /// when one is configured and the target is https, and performs the TLS handshake.
    /// `getaddrinfo` itself cannot be interrupted: the resolver's own timeouts (resolv.conf) bound it.
    static func open(to target: HTTPURL, proxy: HTTPURL?, tls: TLSContext?, userAgent: String,
                     maxBodyBytes: Int, connectDeadline: Int64, deadline: Int64) throws(HTTPError) -> HTTPConnection {
        let endpoint = proxy ?? target
        let addresses: [SocketAddress]
        do {
            addresses = try Resolver.resolve(host: endpoint.host, port: endpoint.port)
        } catch {
            throw .resolve(host: endpoint.host, reason: error.message)
        }
        guard !addresses.isEmpty else { throw .resolve(host: endpoint.host, reason: "no IPv4 or IPv6 address") }
        let connectBy = min(connectDeadline, deadline)
        var lastReason = ""
        var lastTimedOut = false
        var connection: HTTPConnection?
        for (index, address) in addresses.enumerated() {
            // Share the remaining connect time so that one black-holed address family cannot use
            // it all before the next address gets a chance.
            let now = SystemClock.monotonicNanoseconds()
            let attemptBy = index == addresses.count - 1 ? connectBy : now + (connectBy - now) / Int64(addresses.count - index)
            do throws(HTTPError) {
                connection = try connect(address, endpoint: endpoint, deadline: attemptBy, maxBodyBytes: maxBodyBytes)
                break
            } catch {
                if case .connect(_, _, let reason) = error {
                    lastReason = reason
                    lastTimedOut = false
                } else if error.isTimeout {
                    lastTimedOut = true
                } else {
                    throw error
                }
                if SystemClock.monotonicNanoseconds() >= connectBy {
                    throw .timeout(.connect, host: endpoint.host)
                }
            }
        }
        guard let connection else {
            throw lastTimedOut ? .timeout(.connect, host: endpoint.host)
                : .connect(host: endpoint.host, port: endpoint.port, reason: lastReason)
        }
        do throws(HTTPError) {
            if let proxy, target.isHTTPS {
                try connection.tunnel(to: target, via: proxy, userAgent: userAgent, deadline: deadline)
            }
            if target.isHTTPS {
                guard let tls else { throw .tls(reason: "no TLS context", host: target.host, certificate: false) }
                try connection.handshake(context: tls, host: target.host, hostIsIPAddress: target.hostIsIPAddress,
                                         deadline: deadline)
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private static func connect(_ address: SocketAddress, endpoint: HTTPURL, deadline: Int64, maxBodyBytes: Int) throws(HTTPError) -> HTTPConnection {
        let socket: Socket
        do {
            socket = try Socket.stream(family: address.family)
        } catch {
            throw .connect(host: endpoint.host, port: endpoint.port, reason: "\(address): \(error.message)")
        }
        let connection = HTTPConnection(socket: socket, host: endpoint.host, maxBodyBytes: maxBodyBytes)
        do throws(HTTPError) {
            let done: Bool
            do {
                done = try socket.beginConnect(to: address)
            } catch {
                throw .connect(host: endpoint.host, port: endpoint.port, reason: "\(address): \(error.message)")
            }
            if !done {
                try connection.wait(for: .writable, deadline: deadline, phase: .connect)
                let code: Int32
                do { code = try socket.pendingError() } catch { throw .io(error.description) }
                if code != 0 {
                    throw .connect(host: endpoint.host, port: endpoint.port, reason: "\(address): \(Errno.message(for: code))")
                }
            }
            try? socket.setNoDelay()
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// `CONNECT host:port` through an HTTP proxy; anything but 2xx is a `.proxy` error.
    private func tunnel(to target: HTTPURL, via proxy: HTTPURL, userAgent: String, deadline: Int64) throws(HTTPError) {
        try HTTPRequestEncoder.encodeConnect(authority: target.hostAndPort, userAgent: userAgent, into: &head)
        try write(head, deadline: deadline, phase: .proxyConnect)
        parser.reset(requestMethod: "CONNECT")
        let response = try readResponse(deadline: deadline, phase: .proxyConnect)
        guard (200..<300).contains(response.status) else {
            throw .proxy("CONNECT \(target.hostAndPort) via \(proxy.authority) answered \(response.status) \(response.reason)")
        }
        guard !receivedExtraBytes else { throw .proxy("proxy sent data after its CONNECT response") }
    }

    private func handshake(context: TLSContext, host: String, hostIsIPAddress: Bool, deadline: Int64) throws(HTTPError) {
        let session = try TLSSession(context: context, descriptor: socket.descriptor.rawValue, host: host,
                                     hostIsIPAddress: hostIsIPAddress)
        tls = session
        while true {
            ERR_clear_error()
            Errno.clearLast()
            let rc = SSL_connect(session.ssl)
            switch session.step(rc, host: host, errnoValue: Errno.lastCode, handshake: true) {
            case .done: return
            case .wantRead: try wait(for: .readable, deadline: deadline, phase: .tlsHandshake)
            case .wantWrite: try wait(for: .writable, deadline: deadline, phase: .tlsHandshake)
            case .closed: throw .tls(reason: "connection closed during the handshake", host: host, certificate: false)
            case .failed(let error): throw error
            }
        }
    }

    /// Sends `request` and reads its response. On any error the connection is not reusable.
    func exchange(_ request: HTTPRequest, target: String, hostHeader: String, userAgent: String?,
                  deadline: Int64) throws(HTTPError) -> HTTPResponse {
        reusable = false
        exchanges += 1
        parser.reset(requestMethod: request.method)
        try HTTPRequestEncoder.encodeHead(request, target: target, host: hostHeader, userAgent: userAgent, into: &head)
        if request.body.count <= Self.coalesceLimit {
            head.append(contentsOf: request.body)
            try write(head, deadline: deadline, phase: .send)
        } else {
            try write(head, deadline: deadline, phase: .send)
            try write(request.body, deadline: deadline, phase: .send)
        }
        // A huge coalesced body must not pin its capacity for the connection's lifetime.
        if head.capacity > 4 * Self.coalesceLimit { head = [] }
        reusable = true
        return try readResponse(deadline: deadline, phase: .receive)
    }

    private func readResponse(deadline: Int64, phase: HTTPPhase) throws(HTTPError) -> HTTPResponse {
        reusable = false
        while true {
            let n = try read(deadline: deadline, phase: phase)
            if n == 0 {
                return try parser.finish() // close-delimited body; the connection is spent
            }
            switch try parser.feed(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])) {
            case .needMore:
                continue
            case .complete(let response, let consumed):
                receivedExtraBytes = consumed != n
                reusable = !receivedExtraBytes && !response.closesConnection
                return response
            }
        }
    }

    /// True when the idle connection can no longer carry a request: the server closed it (EOF is
    /// readable) or sent something unasked. Costs one `poll` with a zero timeout.
    func looksClosed() -> Bool {
        guard let events = try? Poll.wait(socket.descriptor, for: .readable, timeoutMilliseconds: 0) else { return true }
        return !events.isEmpty
    }

    func close() {
        guard !closed else { return }
        closed = true
        reusable = false
        tls?.free()
        tls = nil
        socket.close()
    }

    // MARK: I/O with deadlines

    private func write(_ bytes: [UInt8], deadline: Int64, phase: HTTPPhase) throws(HTTPError) {
        let result = bytes.withUnsafeBytes { b in Result { () throws(HTTPError) in try write(b, deadline: deadline, phase: phase) } }
        try result.get()
    }

    private func write(_ bytes: UnsafeRawBufferPointer, deadline: Int64, phase: HTTPPhase) throws(HTTPError) {
        var done = 0
        while done < bytes.count {
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[done...])
            if let tls {
                ERR_clear_error()
                Errno.clearLast()
                let rc = SSL_write(tls.ssl, chunk.baseAddress, Int32(min(chunk.count, Int(Int32.max))))
                switch tls.step(rc, host: host, errnoValue: Errno.lastCode, handshake: false) {
                case .done(let n): done += n
                case .wantRead: try wait(for: .readable, deadline: deadline, phase: phase)
                case .wantWrite: try wait(for: .writable, deadline: deadline, phase: phase)
                case .closed: throw .closed(beforeResponse: true)
                case .failed(let error): throw error
                }
            } else {
                let sent: Int?
                do { sent = try socket.send(chunk) } catch { throw closedOrIO(error) }
                if let sent {
                    done += sent
                } else {
                    try wait(for: .writable, deadline: deadline, phase: phase)
                }
            }
        }
    }

    /// Reads into `readBuffer`; 0 means the peer closed.
    private func read(deadline: Int64, phase: HTTPPhase) throws(HTTPError) -> Int {
        while true {
            if let tls {
                ERR_clear_error()
                Errno.clearLast()
                let rc = SSL_read(tls.ssl, readBuffer.baseAddress, Int32(readBuffer.count))
                switch tls.step(rc, host: host, errnoValue: Errno.lastCode, handshake: false) {
                case .done(let n): return n
                case .wantRead: try wait(for: .readable, deadline: deadline, phase: phase)
                case .wantWrite: try wait(for: .writable, deadline: deadline, phase: phase)
                case .closed: return 0
                case .failed(let error): throw error
                }
            } else {
                let n: Int?
                do { n = try socket.receive(into: readBuffer) } catch { throw closedOrIO(error) }
                if let n { return n }
                try wait(for: .readable, deadline: deadline, phase: phase)
            }
        }
    }

    /// A reset or broken pipe is the server closing on us: `closed`, remembering whether any of
    /// the response had arrived (only then is a retry on a fresh connection unsafe).
    private func closedOrIO(_ error: Errno) -> HTTPError {
        if error.code == Errno.connectionReset || error.code == Errno.brokenPipe {
            return .closed(beforeResponse: !parser.hasReceivedBytes)
        }
        return .io(error.description)
    }

    private func wait(for events: PollEvents, deadline: Int64, phase: HTTPPhase) throws(HTTPError) {
        while true {
            let remaining = deadline - SystemClock.monotonicNanoseconds()
            if remaining <= 0 { throw .timeout(phase, host: host) }
            let ms = Int32(clamping: (remaining + 999_999) / 1_000_000)
            let ready: PollEvents
            do { ready = try Poll.wait(socket.descriptor, for: events, timeoutMilliseconds: ms) } catch { throw .io(error.description) }
            if !ready.isEmpty { return } // errors and hang-ups surface in the next send/recv
        }
    }
}
