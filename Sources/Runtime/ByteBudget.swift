import Posix

/// One byte budget for everything read but not yet done (the data path: Sources/tracktail/Topology.swift).
///
/// Readers `tryAcquire` before handing a batch on and, while the budget is spent, pause and try
/// again (their loop keeps serving pipes and stop requests meanwhile); the acknowledger
/// `release`s once the batch's lines are done (delivered, dead-lettered or dropped). A single
/// request larger than the whole budget is let through when nothing else is held, so a huge
/// line can never deadlock the pipeline.
public final class ByteBudget: @unchecked Sendable {
    private let lock = ConditionLock()
    private var used = 0
    public let limit: Int

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Takes `bytes` only if they fit now.
    public func tryAcquire(_ bytes: Int) -> Bool {
        lock.withLock {
            guard used == 0 || used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        lock.withLock { used = max(0, used - bytes) }
    }

    /// Bytes held now.
    public var inUse: Int { lock.withLock { used } }
}
