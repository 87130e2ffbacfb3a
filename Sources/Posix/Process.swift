import Glibc

/// Process-level calls: environment, time, exit, stderr.
public enum ProcessEnvironment {
    public static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    public static var arguments: [String] { CommandLine.arguments }

    public static func exit(_ code: Int32) -> Never { Glibc.exit(code) }

    public static var processID: Int32 { getpid() }
}

/// Clocks read straight from `clock_gettime`.
public enum SystemClock {
    /// Nanoseconds since the epoch (wall clock).
    public static func wallNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Nanoseconds of a clock that never jumps (for timeouts and intervals).
    public static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// CPU time used by this process, in nanoseconds.
    public static func processCPUNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Sleeps the calling (dedicated, never cooperative) thread.
    public static func sleep(nanoseconds: Int64) {
        var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }
}

/// Writes to stdout/stderr with `write(2)` (Swift 6 rejects the C globals `stdout`/`stderr`).
public enum StandardStreams {
    public static func out(_ s: String) { try? FileDescriptor.standardOutput.writeAll(s) }
    public static func err(_ s: String) { try? FileDescriptor.standardError.writeAll(s) }
    public static func out(_ bytes: [UInt8]) { try? FileDescriptor.standardOutput.writeAll(bytes) }
}
