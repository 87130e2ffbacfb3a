import Posix

/// Everything the tailer needs to know, decoded from `[[input]]`, `[state]` and `[limits]`.
///
/// | setting             | default | meaning                                                       |
/// |---------------------|---------|---------------------------------------------------------------|
/// | `maxOpenFiles`      | 256     | open descriptors; idle, fully acknowledged files close first |
/// | `rescanInterval`    | 10 s    | glob re-scan even without inotify events (the fallback)      |
/// | `orphanLinger`      | 5 s     | a renamed-away or deleted file quiet at its end this long closes |
/// | `deletedGrace`      | 60 s    | a deleted file is closed after this even if unread           |
/// | `checkpointInterval`| 1 s     | checkpoint written at most this often (first acks: at once)   |
/// | `recentCheckpointInterval` | 200 ms | in between, progress written unsynced at most this often (`RecentCheckpoint`; nil: never) |
/// | `readCoalesce`      | 75 ms   | least time between two read turns woken by inotify (bursts, not lines) |
/// | `forgetAfter`       | 7 days  | checkpoint entries of files not seen this long are dropped   |
/// | `once`              | false   | read each file to the end it had at start, then finish       |
/// | `spoolSegmentBytes` | 16 MiB  | a pipe's spool segment is sealed at this size (at a newline)  |
/// | `spoolMaxBytes`     | 256 MiB | a pipe is not read while its spool holds this much (the writer blocks) |
/// | `journalRestartMin` | 1 s     | first wait before journalctl is started again after it failed |
/// | `journalRestartMax` | 60 s    | longest wait (doubling in between)                         |
///
/// Checkpoint entries are forgotten when their file was renamed out of the globs or deleted and
/// has been read to its end and acknowledged; an entry loaded at start that matches no file
/// (e.g. its directory is not mounted yet) is kept for `forgetAfter` after its last update.
///
/// `once`: every file matched at start is read up to the size it had then (a last line without
/// a newline is delivered too), no new files are looked for, and `output` is closed at the end;
/// `Tailer.waitUntilAllAcknowledged` then tells when everything is done. A pipe is read until
/// its writers have closed it (it waits for a first writer), directly and without a spool (a
/// one-shot run has no later run to resume it); spool segments left by a daemon are read to
/// their ends like files (and kept: the daemon deletes them once acknowledged).
///
/// Pipes (outside `once`) are spooled to `<stateDirectory>/spool/<input name>/` (see
/// `PipeSpool`) and the segments tailed like files, so nothing read from a pipe is lost when the
/// process dies. `spoolSegmentBytes` is at most half of `spoolMaxBytes`, so that a full spool
/// always has a sealed segment that acknowledgements can free.
///
/// Globs are `glob(3)` patterns (no `**`). The directory part of a pattern without wildcards is
/// watched with inotify even before it has matching files; directories that are themselves
/// matched by wildcards are watched once they hold a matching file, and new ones are found by
/// the periodic rescan.
public struct TailConfiguration: Sendable {
    public enum Kind: String, Sendable { case file, pipe, journal }
    /// Where a file never seen before starts (see `FileDecisions.startOffset`).
    public enum StartAt: String, Sendable { case beginning, end }

    /// One `[[input]]`.
    ///
    /// `paths` are `glob(3)` patterns (for a pipe: the FIFO's path). `exclude` patterns without a
    /// `/` match the file name (`*.gz`); with a `/` they match the full path
    /// (`/var/log/app/old/*`); `*` never crosses a `/`.
    public struct InputSpec: Sendable {
        public var name: String
        public var kind: Kind
        public var paths: [String]
        public var exclude: [String]
        public var startAt: StartAt
        /// Bytes at the start of a file hashed to confirm its identity. 256 is enough to tell
        /// apart log files that start with a timestamp; files shorter than that are tracked with a
        /// shorter fingerprint that grows as they do (see `Fingerprint`).
        public var fingerprintBytes: Int
        public var maxLineBytes: Int
        /// A `type = "journal"` input's filters and where to read.
        public var journal: JournalSpec?
        /// A pipe: the FIFO is created with this mode when missing, and this group (name or number).
        public var fifoMode: UInt32 = 0o620
        public var fifoGroup: String?

        public init(name: String, kind: Kind = .file, paths: [String], exclude: [String] = [], startAt: StartAt = .beginning,
                    fingerprintBytes: Int = 256, maxLineBytes: Int = LineSplitter.defaultMaxLineBytes) {
            self.name = name
            self.kind = kind
            self.paths = paths
            self.exclude = exclude
            self.startAt = startAt
            self.fingerprintBytes = max(1, fingerprintBytes)
            self.maxLineBytes = max(1, maxLineBytes)
        }
    }

    /// A journal input (see `JournalQuery` for how the filters become journalctl matches).
    public struct JournalSpec: Sendable, Equatable {
        /// `_SYSTEMD_UNIT` values (ORed).
        public var units: [String]
        /// `SYSLOG_IDENTIFIER` values (ORed, and ORed with the units).
        public var identifiers: [String]
        /// Any field → accepted values (values of a field ORed, fields ANDed, and ANDed with the
        /// units/identifiers).
        public var matches: [(field: String, values: [String])]
        /// `--directory`: journal files there instead of the system journal.
        public var directory: String?
        /// The `journalctl` to run (searched in `PATH` unless it has a `/`).
        public var journalctlPath: String

        public init(units: [String] = [], identifiers: [String] = [], matches: [(field: String, values: [String])] = [],
                    directory: String? = nil, journalctlPath: String = "journalctl") {
            self.units = units
            self.identifiers = identifiers
            self.matches = matches
            self.directory = directory
            self.journalctlPath = journalctlPath
        }

        public static func == (a: JournalSpec, b: JournalSpec) -> Bool {
            a.units == b.units && a.identifiers == b.identifiers && a.directory == b.directory && a.journalctlPath == b.journalctlPath
                && a.matches.map(\.field) == b.matches.map(\.field) && a.matches.map(\.values) == b.matches.map(\.values)
        }
    }

    public var inputs: [InputSpec]
    /// Holds `checkpoints.json`, `checkpoints.json.prev`, `checkpoints.json.recent` (between durable writes) and `lock`.
    public var stateDirectory: String
    public var maxOpenFiles: Int
    public var rescanInterval: Int64
    public var orphanLinger: Int64
    public var deletedGrace: Int64
    public var checkpointInterval: Int64
    public var recentCheckpointInterval: Int64? = 200_000_000
    public var forgetAfter: Int64
    public var once: Bool
    /// Batches close at this many bytes of text or lines, or when a read finds no more.
    public var batchBytes: Int
    public var batchLines: Int
    /// Size of one `read`.
    public var readChunkBytes: Int
    /// Test hook: pretend inotify is unavailable (exercise the rescan fallback).
    public var disableInotify: Bool
    /// After a read turn woken by inotify, wait at least this long before the next one, so that
    /// a writer appending line by line is read in bursts (default 75 ms; 0: every event at
    /// once). The first append after a quiet spell is read at once. This is most of a line's
    /// latency when lines arrive steadily: each burst leaves as one request when the output is
    /// idle (see `LineBatch.caughtUp`), so at 5,000 lines/s a line waits at most ~75 ms, and the
    /// daemon wakes ~13 times a second (a read turn, a mapping, a request) instead of once per
    /// append. Measured at 5,000 lines/s: 50 ms gives p99 51 ms at 1.9% of a core, 75 ms p99
    /// 77 ms at 1.5%, 25 ms (without the caught-up marker) p99 77 ms at 2.5%.
    public var readCoalesce: Int64 = 75_000_000
    public var journalRestartMin: Int64 = 1_000_000_000
    public var journalRestartMax: Int64 = 60_000_000_000
    public var spoolSegmentBytes: Int64 {
        get { _spoolSegmentBytes }
        set { _spoolSegmentBytes = max(1, newValue) }
    }
    public var spoolMaxBytes: Int64 {
        get { _spoolMaxBytes }
        set { _spoolMaxBytes = max(2, newValue) }
    }
    private var _spoolSegmentBytes: Int64 = 16 << 20
    private var _spoolMaxBytes: Int64 = 256 << 20
    /// `spoolSegmentBytes` clamped to half of `spoolMaxBytes`.
    public var effectiveSpoolSegmentBytes: Int64 { max(1, min(spoolSegmentBytes, spoolMaxBytes / 2)) }

    /// The spool directory of the `index`-th path of a pipe input (one per FIFO). Input names
    /// are made safe as a file name (`/` and a leading `.` become `_`).
    public func spoolDirectory(input name: String, index: Int) -> String {
        var safe = String(name.map { $0 == "/" ? "_" : $0 })
        if safe.isEmpty || safe.hasPrefix(".") { safe = "_" + safe }
        return Path.join(Path.join(stateDirectory, "spool"), index == 0 ? safe : safe + "." + String(index))
    }

    /// Defaults of the settings `[limits]` exposes, written once: the configuration reads them here.
    public static let defaultMaxOpenFiles = 256
    public static let defaultRescanInterval: Int64 = 10_000_000_000
    public static let defaultDeletedGrace: Int64 = 60_000_000_000
    public static let defaultSpoolMaxBytes: Int64 = 256 << 20

    public init(inputs: [InputSpec], stateDirectory: String, maxOpenFiles: Int = defaultMaxOpenFiles,
                rescanInterval: Int64 = defaultRescanInterval, orphanLinger: Int64 = 5_000_000_000,
                deletedGrace: Int64 = defaultDeletedGrace, checkpointInterval: Int64 = 1_000_000_000,
                forgetAfter: Int64 = 7 * 86_400 * 1_000_000_000, once: Bool = false,
                batchBytes: Int = 256 * 1024, batchLines: Int = 1000, readChunkBytes: Int = 64 * 1024,
                disableInotify: Bool = false, spoolSegmentBytes: Int64 = 16 << 20, spoolMaxBytes: Int64 = defaultSpoolMaxBytes) {
        self.inputs = inputs
        self.stateDirectory = stateDirectory
        self.maxOpenFiles = max(1, maxOpenFiles)
        self.rescanInterval = rescanInterval
        self.orphanLinger = orphanLinger
        self.deletedGrace = deletedGrace
        self.checkpointInterval = checkpointInterval
        self.forgetAfter = forgetAfter
        self.once = once
        self.batchBytes = max(1, batchBytes)
        self.batchLines = max(1, batchLines)
        self.readChunkBytes = max(16, readChunkBytes)
        self.disableInotify = disableInotify
        self.spoolSegmentBytes = spoolSegmentBytes
        self.spoolMaxBytes = spoolMaxBytes
    }
}

/// What `once` changes, named by intent, so the reader asks "does it follow?" rather than
/// "is it once?" at each place.
///
/// | behaviour                  | daemon | `once` |
/// |----------------------------|--------|--------|
/// | `follows` (inotify, rescans, journalctl `--follow`, waits for more) | yes | no: ends at the size/entry it found |
/// | `spoolsPipes`              | yes    | no: a FIFO is read directly until its writers close it |
/// | `finishes` (closes the output, `isFinished`) | no | yes |
struct ReadPolicy: Sendable, Equatable {
    var follows: Bool
    var spoolsPipes: Bool
    var finishes: Bool

    init(once: Bool) {
        follows = !once
        spoolsPipes = !once
        finishes = once
    }
}

extension TailConfiguration {
    var policy: ReadPolicy { ReadPolicy(once: once) }
}
