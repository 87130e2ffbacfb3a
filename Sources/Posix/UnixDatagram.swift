import Glibc

/// Sends one datagram to a Unix socket path (for systemd's `$NOTIFY_SOCKET`, without libsystemd).
/// A path starting with `@` is an abstract socket.
public enum UnixDatagram {
    public static func send(_ message: String, to path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw Errno.current("socket", path: path) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard pathBytes.count < capacity else { throw Errno(code: ENAMETOOLONG, call: "sendto", path: path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = bytes.withUnsafeBytes { body in
            withUnsafePointer(to: &addr) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    retryingOnInterrupt { sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), sa, length) }
                }
            }
        }
        if sent < 0 { throw Errno.current("sendto", path: path) }
    }
}
