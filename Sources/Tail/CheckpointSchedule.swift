/// When the checkpoint thread writes: promptly after the first acknowledgements (the leading
/// edge), then at most once per `interval` while they keep coming. A daemon killed within a
/// second of starting has still saved its first progress, so a crash loop advances instead of
/// re-sending the same lines every cycle.
///
/// | last write         | acknowledged since | now − last write | decision                      |
/// |--------------------|--------------------|------------------|-------------------------------|
/// | never              | yes                | —                | write                         |
/// | never              | no                 | —                | wait an interval from start   |
/// | at `t`             | yes or no          | ≥ interval       | write (skipped if unchanged)  |
/// | at `t`             | yes or no          | < interval       | wait until `t` + interval     |
///
/// Without acknowledgements the periodic write still runs (other changes: new files, renames,
/// forgotten entries), but `Tailer.writeCheckpoint` skips it when nothing changed. Times are the
/// injected clock's monotonic nanoseconds.
public struct CheckpointSchedule: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case write
        /// Sleep until then, or until the first acknowledgement wakes the thread.
        case wait(until: Int64)
    }

    public let interval: Int64
    public private(set) var lastWrite: Int64?
    private let started: Int64

    public init(interval: Int64, now: Int64) {
        self.interval = interval
        started = now
    }

    public func decide(now: Int64, acknowledged: Bool) -> Decision {
        guard let last = lastWrite else {
            return acknowledged || now >= started + interval ? .write : .wait(until: started + interval)
        }
        return now >= last + interval ? .write : .wait(until: last + interval)
    }

    public mutating func wrote(at now: Int64) { lastWrite = now }
}
