import Glibc

/// A child process started with `posix_spawn(3)`, its stdout and stderr on non-blocking pipes
/// (the parent's ends are close-on-exec; the child's stdin is `/dev/null`). The owner reads the
/// pipes, `terminate`s it and `reap`s it; nothing here waits.
public final class ChildProcess: @unchecked Sendable {
    public let processID: pid_t
    /// Read ends (non-blocking, close-on-exec). Closed by `closePipes`.
    public let standardOutput: FileDescriptor
    public let standardError: FileDescriptor
    private var exitStatus: Int32?

    /// How the child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        public var description: String {
            switch self {
            case .exited(let c): "exit status \(c)"
            case .signalled(let s): "signal \(Signals.name(s))"
            }
        }
    }

    /// Starts `executable` (searched in `PATH` when it has no `/`) with `arguments` (without
    /// argv[0]). Throws `Errno` (call `posix_spawn`, path the executable) when it cannot start,
    /// e.g. `ENOENT` for a missing program.
    public init(executable: String, arguments: [String]) throws {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        // `pipe2` is not exported without _GNU_SOURCE: `pipe`, then close-on-exec on all four ends
        // (the child gets its copies through dup2, which clears the flag) and non-blocking reads.
        guard pipe(&out) == 0 else { throw Errno.current("pipe") }
        guard pipe(&err) == 0 else {
            let e = Errno.current("pipe")
            Glibc.close(out[0]); Glibc.close(out[1])
            throw e
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        for fd in [out[0], err[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        // Reset the signal mask and dispositions the daemon changed (SIGPIPE ignored, signals blocked).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGHUP)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attr, argv, environ)
            : posix_spawnp(&pid, executable, &actions, &attr, argv, environ)
        Glibc.close(out[1])
        Glibc.close(err[1])
        if rc != 0 {
            Glibc.close(out[0])
            Glibc.close(err[0])
            throw Errno(code: rc, call: "posix_spawn", path: executable)
        }
        processID = pid
        standardOutput = FileDescriptor(rawValue: out[0])
        standardError = FileDescriptor(rawValue: err[0])
    }

    /// Sends `SIGTERM` (or `signal`); harmless once it has exited.
    public func terminate(signal: Int32 = SIGTERM) {
        if exitStatus == nil { _ = kill(processID, signal) }
    }

    /// Collects the exit status without waiting; `nil` while it runs.
    public func reap() -> Termination? {
        if exitStatus == nil {
            var status: Int32 = 0
            let r = retryingOnInterrupt { waitpid(processID, &status, WNOHANG) }
            if r == processID { exitStatus = status } else { return nil }
        }
        return Self.termination(exitStatus!)
    }

    /// Waits for the child to exit (after `terminate`); dedicated threads only.
    @discardableResult
    public func wait() -> Termination {
        if exitStatus == nil {
            var status: Int32 = 0
            let r = retryingOnInterrupt { waitpid(processID, &status, 0) }
            exitStatus = r == processID ? status : 0
        }
        return Self.termination(exitStatus!)
    }

    public func closePipes() {
        standardOutput.close()
        standardError.close()
    }

    static func termination(_ status: Int32) -> Termination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }
}
