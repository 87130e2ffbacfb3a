import Posix

/// A bounded FIFO between two stages running on dedicated threads.
///
/// `push` waits while the queue is full: that wait is the backpressure between stages.
/// `close()` ends it: pushes fail, pops drain what is left and then return `nil`.
///
/// Wake-ups cost more than the hand-off itself on a lightly loaded pipeline (every read turn
/// crosses two queues), so a push or pop signals only when a thread is waiting on the other
/// side, and after unlocking: a woken thread does not find the lock still held and sleep again.
public final class BlockingQueue<Element: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    /// Threads inside a wait (pushers on a full queue, poppers on an empty one; never both).
    private var waiters = 0
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        items = Array(repeating: nil, count: self.capacity)
    }

    /// Appends, waiting while full. Returns false (and drops nothing silently: the caller keeps
    /// the element) when the queue was closed.
    ///
    /// With a `heartbeat` the call beats, and a wait is cut into `Heartbeats.beatInterval`
    /// slices with a beat before each: a stage held up by a slow downstream is waiting, not
    /// wedged, and a busy stage beats once per element.
    @discardableResult
    public func push(_ element: Element, beating heartbeat: Heartbeat? = nil) -> Bool {
        lock.lock()
        heartbeat?.beat()
        while count == capacity && !closed { waitLocked(heartbeat) }
        if closed {
            lock.unlock()
            return false
        }
        items[(head + count) % capacity] = element
        count += 1
        unlockSignalling()
        return true
    }

    /// Removes the oldest element, waiting while empty; `nil` once closed and drained.
    /// `heartbeat`: as for `push`.
    public func pop(beating heartbeat: Heartbeat? = nil) -> Element? {
        lock.lock()
        heartbeat?.beat()
        while count == 0 && !closed { waitLocked(heartbeat) }
        let e = takeLocked()
        unlockSignalling()
        return e
    }

    private func waitLocked(_ heartbeat: Heartbeat?) {
        waiters += 1
        defer { waiters -= 1 }
        guard let heartbeat else { return lock.wait() }
        lock.wait(until: SystemClock.monotonicNanoseconds() + Heartbeats.beatInterval)
        heartbeat.beat()
    }

    /// Unlocks, then wakes the waiting threads if there are any. A waiter counted here is
    /// either already inside the condition wait or will check its predicate under the lock
    /// before it waits, so the wake-up cannot be lost.
    private func unlockSignalling() {
        let wake = waiters > 0
        lock.unlock()
        if wake { lock.broadcast() }
    }

    /// Like `pop`, but gives up at `deadline` (monotonic ns). `.timedOut` lets a batcher close
    /// a batch on linger time without a separate timer thread.
    public func pop(until deadline: Int64, beating heartbeat: Heartbeat? = nil) -> PopResult {
        lock.lock()
        heartbeat?.beat()
        while count == 0 && !closed {
            defer { heartbeat?.beat() }
            let slice = heartbeat == nil ? deadline : min(deadline, SystemClock.monotonicNanoseconds() + Heartbeats.beatInterval)
            waiters += 1
            let signalled = lock.wait(until: slice)
            waiters -= 1
            if !signalled && count == 0 && !closed && SystemClock.monotonicNanoseconds() >= deadline {
                lock.unlock()
                return .timedOut
            }
        }
        let e = takeLocked()
        unlockSignalling()
        if let e { return .element(e) }
        return .closed
    }

    public enum PopResult {
        case element(Element)
        case timedOut
        case closed
    }

    private func takeLocked() -> Element? {
        guard count > 0 else { return nil }
        let e = items[head]
        items[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return e
    }

    public func close() {
        lock.lock()
        closed = true
        lock.unlock()
        lock.broadcast()
    }

    public var isEmpty: Bool { lock.withLock { count == 0 } }
    public var isClosed: Bool { lock.withLock { closed } }
}
