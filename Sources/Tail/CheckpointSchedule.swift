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
/// | at `t`             | yes                | < interval, ≥ recent gap since any write | write recent |
/// | at `t`             | yes or no          | < interval       | wait until `t` + interval (or the recent gap) |
///
/// **Recent writes** (with `recentInterval`): between two durable writes, acknowledged progress
/// is also written without `fsync` to a second file (`RecentCheckpoint`). That survives what a
/// crash of the process does (kill -9, the OOM killer, the watchdog), not a power cut, and costs
/// no disk flush, so it may come often: at most every `recentInterval`, and never more often
/// than 50 times the last one took (its encoding grows with the number of files), so that it
/// stays within 2% of the thread's time.
///
/// Without acknowledgements the periodic write still runs (other changes: new files, renames,
/// forgotten entries), but `Tailer.writeCheckpoint` skips it when nothing changed. Times are the
/// injected clock's monotonic nanoseconds.
public struct CheckpointSchedule: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case write
        /// Write the recent (unsynced) checkpoint.
        case writeRecent
        /// Sleep until then, or until the first acknowledgement wakes the thread.
        case wait(until: Int64)
    }

    public let interval: Int64
    public let recentInterval: Int64?
    public private(set) var lastWrite: Int64?
    /// The last write of either kind, and how long the last recent write took.
    private var lastAnyWrite: Int64?
    private var recentCost: Int64 = 0
    private let started: Int64

    public init(interval: Int64, recentInterval: Int64? = nil, now: Int64) {
        self.interval = interval
        self.recentInterval = recentInterval.map { max(1, $0) }
        started = now
    }

    /// The gap kept after any write before the next recent one.
    var recentGap: Int64? { recentInterval.map { max($0, recentCost.multipliedReportingOverflow(by: 50).overflow ? .max : recentCost * 50) } }

    public func decide(now: Int64, acknowledged: Bool) -> Decision {
        guard let last = lastWrite else {
            return acknowledged || now >= started + interval ? .write : .wait(until: started + interval)
        }
        if now >= last + interval { return .write }
        var until = last + interval
        if acknowledged, let gap = recentGap {
            let recentAt = (lastAnyWrite ?? last) + gap
            if now >= recentAt { return .writeRecent }
            until = min(until, recentAt)
        }
        return .wait(until: until)
    }

    public mutating func wrote(at now: Int64) {
        lastWrite = now
        lastAnyWrite = now
    }

    /// A recent write ended at `now` after `took` ns.
    public mutating func wroteRecent(at now: Int64, took: Int64) {
        lastAnyWrite = now
        recentCost = max(0, took)
    }
}
