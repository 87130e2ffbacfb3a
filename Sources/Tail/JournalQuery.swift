/// The `journalctl` command line for a journal input: pure, tested as a table.
///
/// journalctl combines matches like this: values of the **same** field are ORed, **different**
/// fields are ANDed, and `+` between groups ORs whole groups. So:
///
/// | configuration                                  | arguments (after the output options)                         |
/// |------------------------------------------------|--------------------------------------------------------------|
/// | `units = ["a", "b"]`                           | `_SYSTEMD_UNIT=a _SYSTEMD_UNIT=b`                            |
/// | `identifiers = ["x"]`                          | `SYSLOG_IDENTIFIER=x`                                        |
/// | units and identifiers                          | `_SYSTEMD_UNIT=a + SYSLOG_IDENTIFIER=x` (either)             |
/// | `matches = { PRIORITY = ["5","6"] }` and units | `_SYSTEMD_UNIT=a PRIORITY=5 PRIORITY=6` (the unit, and one of the priorities; repeated in each `+` group) |
/// | nothing                                        | no match: the whole journal                                  |
///
/// Position:
///
/// | known                         | arguments               | first entry printed                              |
/// |-------------------------------|-------------------------|--------------------------------------------------|
/// | a cursor                      | `--cursor=C --no-tail`  | the entry *at* C when it still exists: skipped    |
/// | no cursor, `start_at = "beginning"` | `--lines=all`     | the oldest entry                                  |
///
/// (`start_at = "end"` without a cursor first asks `--lines=1` for the newest entry's cursor and
/// then resumes there.) Why `--cursor` and not `--after-cursor`: journalctl's `--after-cursor`
/// skips one entry after seeking whether or not the cursor was found, so when the cursor is
/// gone (vacuumed) one entry would be lost silently; with `--cursor` the reader sees whether the
/// first entry is its cursor, skips it if so, and otherwise knows the cursor is gone.
///
/// Never `--boot`: a journal directory from another machine has no entries of this boot.
/// `--all` prints fields over 4 KiB instead of `null`.
public enum JournalQuery {
    public enum Position: Sendable, Equatable {
        case cursor(String)
        case beginning
        /// The newest matching entry only (to learn its cursor), then exit.
        case newest
    }

    public static func arguments(_ spec: TailConfiguration.JournalSpec, position: Position, follow: Bool) -> [String] {
        var args = ["--output=json", "--all", "--no-pager", "--quiet"]
        if let d = spec.directory { args.append("--directory=" + d) }
        switch position {
        // `--no-tail`: with `--follow`, journalctl otherwise prints at most 10 entries after the
        // cursor before it starts following (and silently skips the rest).
        case .cursor(let c): args += ["--cursor=" + c, "--no-tail"]
        case .beginning: args.append("--lines=all")
        case .newest: args.append("--lines=1")
        }
        if follow && position != .newest { args.append("--follow") }
        return args + matches(spec)
    }

    public static func matches(_ spec: TailConfiguration.JournalSpec) -> [String] {
        let common = spec.matches.flatMap { m in m.values.map { m.field + "=" + $0 } }
        var groups: [[String]] = []
        if !spec.units.isEmpty { groups.append(spec.units.map { "_SYSTEMD_UNIT=" + $0 } + common) }
        if !spec.identifiers.isEmpty { groups.append(spec.identifiers.map { "SYSLOG_IDENTIFIER=" + $0 } + common) }
        if groups.isEmpty { return common }
        return Array(groups.joined(separator: ["+"]))
    }
}

/// When journalctl ended, what next: pure, tested as a table.
///
/// | how it ended                                           | next                                       |
/// |--------------------------------------------------------|--------------------------------------------|
/// | `once` mode, exit 0                                    | done                                       |
/// | no entry read, stderr mentions the cursor, a cursor given | the cursor is unusable: warn, read from the oldest entry, at once |
/// | otherwise (failed, killed, exited while following)     | restart from the last entry read after `delay(failures:)` |
public enum JournalDecisions {
    public enum AfterExit: Sendable, Equatable {
        case done
        case dropCursor
        case restart(after: Int64)
    }

    public static func afterExit(once: Bool, status: Int32?, entriesRead: Int, usedCursor: Bool, standardError: String,
                                 failures: Int, minDelay: Int64, maxDelay: Int64) -> AfterExit {
        if once && status == 0 { return .done }
        if usedCursor && entriesRead == 0 && standardError.lowercased().contains("cursor") { return .dropCursor }
        return .restart(after: delay(failures: failures, min: minDelay, max: maxDelay))
    }

    /// `min`, `2·min`, `4·min`, … up to `max` (failures counted since the last entry read; ≥ 1).
    public static func delay(failures: Int, min: Int64, max: Int64) -> Int64 {
        var d = min
        for _ in 1..<Swift.max(1, failures) {
            d *= 2
            if d >= max { return max }
        }
        return Swift.min(d, max)
    }
}
