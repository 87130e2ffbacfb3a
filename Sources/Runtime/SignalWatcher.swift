import Posix

/// Receives SIGTERM, SIGINT and SIGHUP on one dedicated thread and hands them to a handler.
///
/// `SignalWatcher.prepare()` must run first in `main`, before any other thread exists, so that
/// every thread inherits the blocked mask and only this one takes the signals.
public final class SignalWatcher: Sendable {
    public static let handled = [Signals.terminate, Signals.interrupt, Signals.hangUp, Signals.user1]

    public static func prepare() {
        Signals.ignoreBrokenPipe()
        Signals.block(handled)
    }

    private let thread: Thread

    /// Starts the thread. The handler returns false to stop watching (after SIGTERM).
    /// SIGUSR1 is used internally by `stop()` to wake the thread.
    public init(_ handler: @escaping @Sendable (Int32) -> Bool) {
        thread = Thread(name: "signals") {
            while true {
                let s = Signals.wait(SignalWatcher.handled)
                if s == Signals.user1 { return }
                if !handler(s) { return }
            }
        }
    }

    /// Ends the watcher thread (if still running) and joins it.
    public func stop() {
        Signals.raiseInProcess(Signals.user1)
        thread.join()
    }
}
