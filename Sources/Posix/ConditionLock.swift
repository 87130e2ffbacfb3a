import Glibc

/// A pthread mutex with one condition variable, for the dedicated I/O threads that block.
///
/// Swift's `Mutex` cannot wait; bounded queues and the byte budget need a thread to sleep until
/// another one signals, so they use this. Never call `wait` from the cooperative pool.
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    /// A lock no thread may hold over I/O: `LockAudit` records system calls made under it.
    private let audited: String?

    /// `audited`: a name for `LockAudit` (for locks other stages' threads wait on).
    public init(audited: String? = nil) {
        self.audited = audited
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        if audited != nil { LockAudit.forget(self) }
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() {
        pthread_mutex_lock(mutex)
        if let audited, LockAudit.isActive { LockAudit.acquired(self, audited) }
    }

    public func unlock() {
        if audited != nil, LockAudit.isActive { LockAudit.released(self) }
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` holding the lock.
    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for a signal; the lock must be held. Spurious wake-ups happen: loop on the predicate.
    public func wait() {
        if audited != nil, LockAudit.isActive { LockAudit.released(self) }
        pthread_cond_wait(condition, mutex)
        if let audited, LockAudit.isActive { LockAudit.acquired(self, audited) }
    }

    /// Waits until a signal or `deadline` (monotonic ns). Returns false on time-out.
    @discardableResult
    public func wait(until deadline: Int64) -> Bool {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        if audited != nil, LockAudit.isActive { LockAudit.released(self) }
        defer { if let audited, LockAudit.isActive { LockAudit.acquired(self, audited) } }
        return pthread_cond_timedwait(condition, mutex, &ts) == 0
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}
