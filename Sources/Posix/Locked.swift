import Glibc

/// A value behind a pthread mutex, with `Mutex`'s `withLock` shape.
///
/// For state that threads hand to each other (a connection pool, a file being appended to):
/// `Synchronization.Mutex` hands a contended lock over inside the kernel (a PI futex, in code
/// ThreadSanitizer does not instrument), so TSan sees no order between the two critical
/// sections and reports whatever moved through them as racing. A pthread mutex is intercepted
/// by TSan: `Tests/sanitize.sh` stays quiet about correct code.
public final class Locked<Value: ~Copyable> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: consuming Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

/// Every access to `value` is under the mutex.
extension Locked: @unchecked Sendable where Value: Sendable & ~Copyable {}
