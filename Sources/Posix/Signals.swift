import Glibc

/// Signal numbers this project handles, and the calls to receive them on a dedicated thread.
///
/// The daemon blocks its signals in the main thread before starting any other thread (threads
/// inherit the mask), then one thread takes them with `sigwait`: no async-signal-safety
/// problems and no Dispatch.
public enum Signals {
    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
    public static let hangUp = SIGHUP
    public static let user1 = SIGUSR1

    /// Blocks `signals` in the calling thread (and so in every thread it starts afterwards).
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits for one of `signals` (which must be blocked) and returns it.
    public static func wait(_ signals: [Int32]) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// Sends `signal` to this process (used to wake the signal thread at shutdown).
    public static func raiseInProcess(_ signal: Int32) { kill(getpid(), signal) }

    /// Writes to a closed socket must fail with EPIPE, not kill the process.
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(signal)"
        }
    }
}
