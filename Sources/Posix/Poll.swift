import Glibc

/// The `poll(2)` event bits this project waits for.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = PollEvents(rawValue: Int16(POLLIN))
    public static let writable = PollEvents(rawValue: Int16(POLLOUT))
    public static let error = PollEvents(rawValue: Int16(POLLERR))
    public static let hangUp = PollEvents(rawValue: Int16(POLLHUP))
}

public enum Poll {
    /// Waits until `descriptor` is ready for `events` or `timeoutMilliseconds` pass (-1: forever).
    /// Returns the events that happened; an empty set means the timeout expired.
    /// `EINTR` is retried with the same timeout, so callers with a deadline re-check it.
    public static func wait(_ descriptor: FileDescriptor, for events: PollEvents, timeoutMilliseconds: Int32) throws(Errno) -> PollEvents {
        var entry = pollfd(fd: descriptor.rawValue, events: events.rawValue, revents: 0)
        let n = retryingOnInterrupt { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        if n < 0 { throw Errno.current("poll") }
        if n == 0 { return [] }
        return PollEvents(rawValue: entry.revents)
    }
}
