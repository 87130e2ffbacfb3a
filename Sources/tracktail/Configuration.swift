import Pipeline
import Runtime
import TOML

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

    struct Output: Sendable {
        var kind: OutputKind = .stdout
        var url = "https://api.app.thrivestack.ai/api/track"
        var token: TokenSource = .none
        /// Send `Authorization: Bearer <token>` (default, unless an API-key header replaces it).
        var bearer = true
        /// Also or instead send the token in this header (e.g. `x-api-key`).
        var apiKeyHeader: String?
        var maxEvents = 500
        var maxBytes = 1_000_000
        var linger: Int64 = 1_000_000_000
        var maxInFlight = 2
        var connectTimeout: Int64 = 10_000_000_000
        var requestTimeout: Int64 = 30_000_000_000
        var caFile: String?
        var proxy: String?
        var allowInsecureHTTP = false
        var retryInitial: Int64 = 500_000_000
        var retryMax: Int64 = 60_000_000_000
        var retryAfterMax: Int64 = 300_000_000_000
        var holdRetry: Int64 = 60_000_000_000
        var drainTimeout: Int64 = 10_000_000_000
        var deadLetterMaxBytes = 64 * 1_048_576
        /// `Content-Encoding: gzip` on requests (off by default: it costs more CPU than it saves on a fast link).
        var gzip = false
    }

    struct Limits: Sendable {
        /// Everything read but not yet done, in bytes (DESIGN.md "backpressure").
        var bufferBytes = 4 * 1_048_576
        var maxLineBytes = 1_048_576
        var maxOpenFiles = 256
        var rescanInterval: Int64 = 10_000_000_000
        var deletedGrace: Int64 = 60_000_000_000
        /// Pipes are spooled to `<state>/spool/`; at this size the pipe is not read (the writer blocks).
        var spoolMaxBytes: Int64 = 256 * 1_048_576
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
