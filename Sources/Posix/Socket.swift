import Glibc

/// A TCP stream socket. Like `FileDescriptor`, closing is explicit (`close()`).
///
/// Client sockets are non-blocking: callers wait with `Poll.wait` against their own deadline, so
/// every connect, send and receive has a timeout. `send` uses `MSG_NOSIGNAL`, so a peer that went
/// away yields `EPIPE` instead of killing the process with `SIGPIPE`.
public struct Socket: Hashable, Sendable {
    public let descriptor: FileDescriptor

    public init(descriptor: FileDescriptor) { self.descriptor = descriptor }

    /// `socket(2)`: a non-blocking, close-on-exec TCP socket for `family` (`AF_INET`/`AF_INET6`).
    public static func stream(family: Int32, nonBlocking: Bool = true) throws(Errno) -> Socket {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = Glibc.socket(family, type, 0)
        if fd < 0 { throw Errno.current("socket") }
        return Socket(descriptor: FileDescriptor(rawValue: fd))
    }

    public func close() { descriptor.close() }

    /// Starts `connect(2)`. `true`: connected at once; `false`: in progress — wait for
    /// `.writable`, then read `pendingError()`.
    public func beginConnect(to address: SocketAddress) throws(Errno) -> Bool {
        let rc = address.withSockaddr { sa, len in retryingOnInterrupt { Glibc.connect(descriptor.rawValue, sa, len) } }
        if rc == 0 { return true }
        if errno == EINPROGRESS || errno == EINTR { return false }
        throw Errno.current("connect", path: address.description)
    }

    /// `getsockopt(SO_ERROR)`: the outcome of a non-blocking connect (0 = connected).
    public func pendingError() throws(Errno) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(descriptor.rawValue, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { throw Errno.current("getsockopt") }
        return value
    }

    /// `TCP_NODELAY`: requests are written whole, so Nagle only adds latency.
    public func setNoDelay(_ on: Bool = true) throws(Errno) {
        try setOption(Int32(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0, "setsockopt TCP_NODELAY")
    }

    /// `SO_REUSEADDR`, for listeners that restart on the same port.
    public func setReuseAddress(_ on: Bool = true) throws(Errno) {
        try setOption(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0, "setsockopt SO_REUSEADDR")
    }

    /// `SO_LINGER` with a zero timeout: `close()` then sends RST instead of FIN (used by tests
    /// to simulate a peer that resets the connection).
    public func setResetOnClose() throws(Errno) {
        var value = linger(l_onoff: 1, l_linger: 0)
        if setsockopt(descriptor.rawValue, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size)) != 0 {
            throw Errno.current("setsockopt SO_LINGER")
        }
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ call: String) throws(Errno) {
        var v = value
        if setsockopt(descriptor.rawValue, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) != 0 { throw Errno.current(call) }
    }

    /// `send(2)` with `MSG_NOSIGNAL`. Returns the bytes written, or `nil` when the socket would block.
    public func send(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int? {
        let n = retryingOnInterrupt { Glibc.send(descriptor.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        throw Errno.current("send")
    }

    /// `recv(2)`. Returns the bytes read (0 = the peer closed), or `nil` when the socket would block.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        let n = retryingOnInterrupt { Glibc.recv(descriptor.rawValue, buffer.baseAddress, buffer.count, 0) }
        if n >= 0 { return n }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        throw Errno.current("recv")
    }

    /// Blocking send of the whole buffer (for blocking sockets, e.g. test servers).
    public func sendAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            guard let n = try send(UnsafeRawBufferPointer(rebasing: bytes[done...])) else {
                _ = try Poll.wait(descriptor, for: .writable, timeoutMilliseconds: -1)
                continue
            }
            done += n
        }
    }

    /// `shutdown(2)` of the sending side (`SHUT_WR`) or both (`SHUT_RDWR`, which also wakes a
    /// thread blocked in `accept` on Linux).
    public func shutdown(both: Bool = false) {
        _ = Glibc.shutdown(descriptor.rawValue, Int32(both ? SHUT_RDWR : SHUT_WR))
    }

    /// Blocks `SIGPIPE` for the calling thread. OpenSSL writes to its socket with plain
    /// `write(2)`, without `MSG_NOSIGNAL`, so a peer that reset a TLS connection would otherwise
    /// kill the process. Blocked, the signal stays pending on this (dedicated I/O) thread and the
    /// write fails with `EPIPE`, which the caller handles. Other threads, and writes to pipes
    /// elsewhere in the process, are unaffected. Idempotent and cheap (one `pthread_sigmask`).
    public static func blockBrokenPipeSignalOnCurrentThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        _ = pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    // MARK: Listening (test servers and fake APIs)

    /// A blocking listener bound to `address` (port 0 picks a free port; see `localAddress()`).
    public static func listen(on address: SocketAddress, backlog: Int32 = 64) throws(Errno) -> Socket {
        let s = try stream(family: address.family, nonBlocking: false)
        do throws(Errno) {
            try s.setReuseAddress()
            let rc = address.withSockaddr { sa, len in Glibc.bind(s.descriptor.rawValue, sa, len) }
            if rc != 0 { throw Errno.current("bind", path: address.description) }
            if Glibc.listen(s.descriptor.rawValue, backlog) != 0 { throw Errno.current("listen", path: address.description) }
        } catch {
            s.close()
            throw error
        }
        return s
    }

    /// `accept(2)`: blocks for the next connection; the new socket is blocking and close-on-exec
    /// (`accept4` is not visible to Swift without `_GNU_SOURCE`, hence `fcntl`).
    public func accept() throws(Errno) -> Socket {
        let fd = retryingOnInterrupt { Glibc.accept(descriptor.rawValue, nil, nil) }
        if fd < 0 { throw Errno.current("accept") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return Socket(descriptor: FileDescriptor(rawValue: fd))
    }

    /// `getsockname(2)`.
    public func localAddress() throws(Errno) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor.rawValue, $0, &length) }
        }
        if rc != 0 { throw Errno.current("getsockname") }
        return SocketAddress(storage: storage, length: length)
    }
}

extension Errno {
    /// Connection-level codes that callers tell apart.
    public static let connectionRefused = ECONNREFUSED
    public static let connectionReset = ECONNRESET
    public static let brokenPipe = EPIPE
    public static let timedOut = ETIMEDOUT
    public static let networkUnreachable = ENETUNREACH
    public static let hostUnreachable = EHOSTUNREACH
    public static let addressNotAvailable = EADDRNOTAVAIL
    public static let addressFamilyNotSupported = EAFNOSUPPORT

    /// The calling thread's `errno` right now (for libraries such as OpenSSL that report
    /// "see errno"); `clearLast()` first so a stale value is not mistaken for a new one.
    public static var lastCode: Int32 { errno }
    public static func clearLast() { errno = 0 }

    /// `strerror` for any code (e.g. one read with `Socket.pendingError()`).
    public static func message(for code: Int32) -> String { String(cString: strerror(code)) }
}
