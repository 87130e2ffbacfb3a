import Posix

/// One byte budget for everything read but not yet done (DESIGN.md "The data path").
///
/// Readers `acquire` before handing a batch on and wait while the budget is spent; the
/// acknowledger `release`s once the batch's lines are done (delivered, dead-lettered or dropped).
/// A single request larger than the whole budget is let through when nothing else is held, so a
/// huge line can never deadlock the pipeline.
public final class ByteBudget: @unchecked Sendable {
    private let lock = ConditionLock()
    private var used = 0
    private var closed = false
    public let limit: Int

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Waits until `bytes` fit. Returns false if the budget was closed (shutdown).
    @discardableResult
    public func acquire(_ bytes: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while !closed && used > 0 && used + bytes > limit { lock.wait() }
        if closed { return false }
        used += bytes
        return true
    }

    /// Takes `bytes` only if they fit now.
    public func tryAcquire(_ bytes: Int) -> Bool {
        lock.withLock {
            guard !closed, used == 0 || used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        lock.withLock {
            used = max(0, used - bytes)
            lock.broadcast()
        }
    }

    /// Bytes held now.
    public var inUse: Int { lock.withLock { used } }

    /// True when another `acquire` of `bytes` would wait.
    public func wouldWait(_ bytes: Int) -> Bool { lock.withLock { used > 0 && used + bytes > limit } }

    public func close() {
        lock.withLock {
            closed = true
            lock.broadcast()
        }
    }
}
