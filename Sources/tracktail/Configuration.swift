import Pipeline
import Runtime
import Ship
import TOML
import Tail

/// The whole configuration, decoded and validated. Built by `Configuration.load(path:)`.
struct Configuration: Sendable {
    /// Where the file was read from (for messages and SIGHUP re-reads).
    var file: String
    var state = State()
    var inputs: [Input] = []
    var mapping: MappingConfiguration
    var output = Output()
    var limits = Limits()
    var log = Log()
    var metrics = Metrics()

    struct State: Sendable {
        var directory = "/var/lib/tracktail"
    }

    enum InputKind: String, Sendable { case file, pipe, journal }
    enum StartAt: String, Sendable { case beginning, end }

    struct Input: Sendable {
        var name: String
        var kind: InputKind
        /// Globs for files; the FIFO path for a pipe.
        var paths: [String]
        var exclude: [String] = []
        var startAt: StartAt = .beginning
        var fingerprintBytes = 256
        /// Pipe: the FIFO's mode and group when tracktail creates it.
        var fifoMode: UInt32 = 0o620
        var fifoGroup: String?
        /// Journal: filters and where to read.
        var units: [String] = []
        var identifiers: [String] = []
        var matches: [(field: String, values: [String])] = []
        var directory: String?
        var journalctlPath = "journalctl"
    }

    enum OutputKind: String, Sendable { case http, stdout }

    /// Where the secret comes from. Never the command line, never logged.
    enum TokenSource: Sendable, Equatable {
        case none
        case environment(String)
        case file(String)
        case credential(String)
    }

    /// `[output]`. Defaults live with the types that use them: `TrackEndpoint` (url, headers,
    /// time-outs, TLS, proxy, compression), `ShipConfiguration` (batching, concurrency, retry,
    /// hold) and `DeadLetter` (its cap); only what no stage owns is declared here.
    struct Output: Sendable {
        var kind: OutputKind = .stdout
        var token: TokenSource = .none
        var allowInsecureHTTP = false
        var endpoint = TrackEndpoint()
        var shipping = ShipConfiguration()
        var deadLetterMaxBytes = DeadLetter.defaultCapBytes
        var drainTimeout: Int64 = 10_000_000_000
    }

    struct Limits: Sendable {
        /// Everything read but not yet done, in bytes (README, "Delivery guarantees").
        var bufferBytes = 4 * 1_048_576
        var maxLineBytes = LineSplitter.defaultMaxLineBytes
        var maxOpenFiles = TailConfiguration.defaultMaxOpenFiles
        var rescanInterval = TailConfiguration.defaultRescanInterval
        var deletedGrace = TailConfiguration.defaultDeletedGrace
        /// Pipes are spooled to `<state>/spool/`; at this size the pipe is not read (the writer blocks).
        var spoolMaxBytes = TailConfiguration.defaultSpoolMaxBytes
    }

    struct Log: Sendable {
        var level = "info"
    }

    /// The optional local `/metrics` and `/health` endpoint (absent: none).
    struct Metrics: Sendable {
        /// `127.0.0.1:9464`, `[::1]:9464`; checked when the file is read.
        var listen: ListenAddress?
    }
}
