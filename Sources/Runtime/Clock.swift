import Posix

/// Time as the pipeline sees it, injected so tests drive retries and linger timers without sleeping.
public protocol Clock: Sendable {
    /// Monotonic nanoseconds.
    func now() -> Int64
    /// Wall-clock nanoseconds since the epoch (for timestamps and HTTP dates).
    func wallNow() -> Int64
    /// Blocks the calling dedicated thread.
    func sleep(nanoseconds: Int64)
}

/// The real clock.
public struct SystemTime: Clock {
    public init() {}
    public func now() -> Int64 { SystemClock.monotonicNanoseconds() }
    public func wallNow() -> Int64 { SystemClock.wallNanoseconds() }
    public func sleep(nanoseconds: Int64) { if nanoseconds > 0 { SystemClock.sleep(nanoseconds: nanoseconds) } }
}
