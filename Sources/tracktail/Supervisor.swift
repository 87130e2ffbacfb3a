import Posix

/// Events for the main thread: posted by the signal thread, taken with a deadline.
final class Supervisor: @unchecked Sendable {
    enum Event: Sendable {
        case stop(String)
        case reload
    }

    private let lock = ConditionLock()
    /// Guarded by `lock`.
    private var events: [Event] = []

    func post(_ e: Event) {
        lock.withLock {
            events.append(e)
            lock.broadcast()
        }
    }

    func next(until deadline: Int64) -> Event? {
        lock.withLock {
            while events.isEmpty {
                if !lock.wait(until: deadline) && SystemClock.monotonicNanoseconds() >= deadline { break }
            }
            return events.isEmpty ? nil : events.removeFirst()
        }
    }
}
