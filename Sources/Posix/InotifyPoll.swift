import Glibc

/// `poll(2)` for the tailer's watch thread: the inotify descriptor, FIFOs and a wake-up event.
public enum InotifyPoll {
    /// What `poll` reported for one descriptor.
    public struct Readiness: Sendable, Equatable {
        public var readable: Bool
        /// `POLLHUP`/`POLLERR`: the peer went away or the descriptor failed.
        public var hangUp: Bool
    }

    /// Waits until one of `descriptors` is readable or `timeoutMilliseconds` passes
    /// (-1: no time-out). Returns one `Readiness` per descriptor, in order. A signal (`EINTR`)
    /// returns early with nothing ready: the caller's loop re-checks its deadlines.
    public static func wait(_ descriptors: [FileDescriptor], timeoutMilliseconds: Int32) throws -> [Readiness] {
        var fds = descriptors.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        let rc = fds.withUnsafeMutableBufferPointer { buffer in
            Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), timeoutMilliseconds)
        }
        if rc < 0 {
            if errno == EINTR { return descriptors.map { _ in Readiness(readable: false, hangUp: false) } }
            throw Errno.current("poll")
        }
        return fds.map {
            Readiness(readable: $0.revents & Int16(POLLIN) != 0,
                      hangUp: $0.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0)
        }
    }
}

/// A self-pipe (`pipe(2)`, non-blocking, close-on-exec) used to wake a thread blocked in `InotifyPoll.wait`
/// (for `stop()`). `descriptor` is the end to poll.
public struct WakeupEvent: Sendable {
    public let descriptor: FileDescriptor
    private let writeEnd: FileDescriptor

    public static func create() throws -> WakeupEvent {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { throw Errno.current("pipe") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return WakeupEvent(descriptor: FileDescriptor(rawValue: fds[0]), writeEnd: FileDescriptor(rawValue: fds[1]))
    }

    /// Makes `descriptor` readable (safe from any thread; a full pipe is already readable).
    public func signal() {
        LockAudit.syscall("write")
        var one: UInt8 = 1
        _ = Glibc.write(writeEnd.rawValue, &one, 1)
    }

    /// Empties the pipe.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ Glibc.read(descriptor.rawValue, $0.baseAddress, 64) }) > 0 {}
    }

    public func close() {
        descriptor.close()
        writeEnd.close()
    }
}

extension FileDescriptor {
    /// A non-blocking `read(2)`: `nil` when nothing is available now (`EAGAIN`), 0 at end of file.
    public func readIfAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let n = retryingOnInterrupt { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw Errno.current("read")
        }
        return n
    }
}
