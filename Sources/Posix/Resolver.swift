import Glibc

/// An IPv4 or IPv6 socket address held by value (a `sockaddr_storage` and its length), as
/// `getaddrinfo` returns it and `connect`/`bind` take it.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// `AF_INET` or `AF_INET6`.
    public var family: Int32 { Int32(storage.ss_family) }
    public var isIPv6: Bool { family == AF_INET6 }

    /// The port in host byte order.
    public var port: Int {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// The numeric host (`127.0.0.1`, `::1`) without the port.
    public var host: String {
        var s = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok: Bool = withUnsafePointer(to: &s) { p in
            if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    var addr = a.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil
                }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var addr = a.pointee.sin_addr
                return inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil
            }
        }
        guard ok else { return "?" }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// `127.0.0.1:80` or `[::1]:80`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// A `getaddrinfo` failure. Its codes are `EAI_*`, not `errno`, hence a type of its own.
public struct ResolverError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var host: String
    public var message: String
    public var description: String { "getaddrinfo \(host): \(message)" }
}

/// Name resolution through the C library (so `/etc/hosts`, `nsswitch.conf` and numeric
/// addresses all work as they do for every other program on the host).
public enum Resolver {
    /// Stream addresses for `host`, IPv4 and IPv6, in the order the C library prefers
    /// (RFC 6724); callers try them in turn. Blocking: call from a dedicated thread.
    public static func resolve(host: String, port: Int) throws(ResolverError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        var rc: Int32
        repeat {
            rc = getaddrinfo(host, String(port), &hints, &list)
        } while rc == EAI_SYSTEM && errno == EINTR
        if rc != 0 {
            let message = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
            throw ResolverError(code: rc, host: host, message: message)
        }
        defer { freeaddrinfo(list) }
        var result: [SocketAddress] = []
        var node = list
        while let n = node {
            if let a = n.pointee.ai_addr, n.pointee.ai_family == AF_INET || n.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                let length = n.pointee.ai_addrlen
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: a, count: Int(length)))
                }
                result.append(SocketAddress(storage: storage, length: length))
            }
            node = n.pointee.ai_next
        }
        return result
    }
}
