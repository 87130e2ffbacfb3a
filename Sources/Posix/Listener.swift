import Glibc

/// What a server thread needs beyond `Socket.listen`/`accept`: non-blocking descriptors, so
/// that a slow or silent client costs a bounded wait (`Poll.wait` against a deadline) instead
/// of a thread stuck in `recv`/`send`.
extension Socket {
    /// `fcntl(F_SETFL, O_NONBLOCK)`. On Linux an accepted socket does not inherit the
    /// listener's flag, so each one is switched on its own.
    public func setNonBlocking(_ on: Bool = true) throws(Errno) {
        let flags = fcntl(descriptor.rawValue, F_GETFL)
        if flags < 0 { throw Errno.current("fcntl F_GETFL") }
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags, fcntl(descriptor.rawValue, F_SETFL, wanted) != 0 { throw Errno.current("fcntl F_SETFL") }
    }
}

extension Errno {
    /// `bind`: another socket holds the address (a second instance, or another exporter on the port).
    public static let addressInUse = EADDRINUSE
    /// `bind`: a privileged port (< 1024) without the capability.
    public static let accessDenied = EACCES
}
