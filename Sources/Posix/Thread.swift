import Glibc

/// A dedicated OS thread for blocking work (reads, `poll`, `fsync`, sockets), joined by its owner.
public final class Thread: @unchecked Sendable {
    private var handle = pthread_t()
    public let name: String

    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes show in `top`).
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        let rc = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            // Cannot run without threads; this is resource exhaustion, not bad input.
            fatalError("pthread_create failed: \(rc)")
        }
    }

    /// Waits for the thread to end.
    public func join() { pthread_join(handle, nil) }
}
