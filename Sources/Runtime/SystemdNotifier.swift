import Posix

/// The systemd notification protocol over `$NOTIFY_SOCKET` (no libsystemd).
///
/// | message | when |
/// |---|---|
/// | `READY=1` | inputs are open |
/// | `STATUS=…` | one-line summary, refreshed periodically |
/// | `WATCHDOG=1` | only while every worker thread's heartbeat is fresh (`Heartbeats`) |
/// | `RELOADING=1` / `STOPPING=1` | SIGHUP / SIGTERM |
///
/// Outside systemd every call does nothing.
public struct SystemdNotifier: Sendable {
    public let socketPath: String?
    /// Half the watchdog period systemd asked for, in nanoseconds (`$WATCHDOG_USEC`), if any.
    public let watchdogInterval: Int64?

    public init(environment: (String) -> String? = ProcessEnvironment.get) {
        socketPath = environment("NOTIFY_SOCKET").flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment("WATCHDOG_USEC").flatMap({ Int64($0) }), usec > 0 {
            watchdogInterval = usec * 1000 / 2
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { socketPath != nil }

    public func notify(_ message: String) {
        guard let socketPath else { return }
        try? UnixDatagram.send(message, to: socketPath)
    }

    public func ready() { notify("READY=1") }
    public func stopping() { notify("STOPPING=1") }
    public func reloading(monotonicMicroseconds: Int64) { notify("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds)") }
    public func status(_ line: String) { notify("STATUS=\(line)") }
    public func watchdog() { notify("WATCHDOG=1") }
}
