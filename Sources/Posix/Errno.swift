import Glibc

/// A failed system call: the call, the path or peer it concerned, and `errno`.
///
/// Every wrapper in this module throws this, so a log line can say
/// `open /var/log/app.log: Permission denied` without the caller repeating context.
public struct Errno: Error, CustomStringConvertible, Equatable, Sendable {
    public var code: Int32
    public var call: String
    public var path: String?

    public init(code: Int32, call: String, path: String? = nil) {
        self.code = code
        self.call = call
        self.path = path
    }

    /// Captures the current `errno`.
    public static func current(_ call: String, path: String? = nil) -> Errno {
        Errno(code: errno, call: call, path: path)
    }

    public var message: String { String(cString: strerror(code)) }

    public var description: String {
        if let path { return "\(call) \(path): \(message)" }
        return "\(call): \(message)"
    }

    public static let wouldBlock = EAGAIN
    public static let interrupted = EINTR
    public static let noEntry = ENOENT
    public static let noSpace = ENOSPC
}

/// Runs `body` until it does not fail with `EINTR`.
@inlinable
public func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}
