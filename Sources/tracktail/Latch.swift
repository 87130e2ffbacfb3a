import Posix
import Synchronization

/// A one-shot gate a thread can wait on with a deadline.
final class Latch: Sendable {
    private let lock = ConditionLock()
    private let isOpen = Atomic<Bool>(false)

    func open() {
        lock.withLock {
            isOpen.store(true, ordering: .sequentiallyConsistent)
            lock.broadcast()
        }
    }

    /// Waits until open or `deadline` (monotonic ns). Returns whether it is open.
    func wait(until deadline: Int64) -> Bool {
        lock.withLock {
            while !isOpen.load(ordering: .sequentiallyConsistent) {
                if !lock.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { break }
            }
            return isOpen.load(ordering: .sequentiallyConsistent)
        }
    }
}
