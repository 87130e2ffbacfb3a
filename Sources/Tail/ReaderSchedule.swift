/// The reader loop's timers, as a pure value: when to re-scan the globs, when to tick (orphans,
/// polling without inotify, deferred discovery), and how long `poll` may sleep. Driven by the
/// reader's injected clock, so tests check every decision without sleeping.
///
/// | condition                         | effect                                                  |
/// |-----------------------------------|---------------------------------------------------------|
/// | `scanRequested` or rescan due     | scan now (never in `once`), next one `rescanInterval` later |
/// | `polling` and tick due            | tick now; next in 100 ms (`fastTick`) or 1 s            |
/// | sleep, daemon                     | until the next rescan                                   |
/// | sleep, `once`                     | at most 100 ms                                          |
/// | `polling`                         | at most until the next tick                             |
/// | `retryTimer` (spool retry / sync) | at most 1 s                                             |
/// | `workWaiting` (files dirty, scan) | 0: do not sleep                                         |
struct ReaderSchedule: Sendable, Equatable {
    struct Conditions: Sendable, Equatable {
        var once = false
        /// Something needs the periodic tick (orphans, no inotify, `once`, deferred discovery).
        var polling = false
        /// Tick every 100 ms instead of every second (`once`, files waiting for a slot).
        var fastTick = false
        /// A pipe spool waits for a retry or a sync.
        var retryTimer = false
        var workWaiting = false
        var scanRequested = false
    }

    static let tick: Int64 = 1_000_000_000
    static let shortTick: Int64 = 100_000_000

    let rescanInterval: Int64
    private(set) var nextRescan: Int64
    private(set) var nextTick: Int64

    init(now: Int64, rescanInterval: Int64) {
        self.rescanInterval = rescanInterval
        nextRescan = now + rescanInterval
        nextTick = now + Self.tick
    }

    /// True when the reader should re-scan now (and the next scan is scheduled).
    mutating func takeScan(now: Int64, _ c: Conditions) -> Bool {
        guard !c.once && (c.scanRequested || now >= nextRescan) else { return false }
        nextRescan = now + rescanInterval
        return true
    }

    /// True when the reader should tick now (and the next tick is scheduled).
    mutating func takeTick(now: Int64, _ c: Conditions) -> Bool {
        guard c.polling && now >= nextTick else { return false }
        nextTick = now + (c.fastTick ? Self.shortTick : Self.tick)
        return true
    }

    /// How long `poll` may wait (ns, never negative).
    func timeout(now: Int64, _ c: Conditions) -> Int64 {
        if c.workWaiting { return 0 }
        var t = c.once ? Self.shortTick : nextRescan - now
        if c.polling { t = min(t, nextTick - now) }
        if c.retryTimer { t = min(t, Self.tick) }
        return max(0, t)
    }
}
