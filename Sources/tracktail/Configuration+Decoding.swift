import HTTP
import Pipeline
import Posix
import Runtime
import TOML

extension Configuration {
    static let defaultPath = "/etc/tracktail/tracktail.toml"

    /// Reads, parses and validates a configuration file.
    static func load(path: String) throws(CommandFailure) -> Configuration {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(path)
        } catch {
            throw CommandFailure("cannot read configuration: \(error)", code: (error as? Errno)?.code == Errno.noEntry ? .noInput : .ioError)
        }
        do {
            return try decode(utf8: bytes, file: path)
        } catch {
            throw CommandFailure(error.description, code: .config)
        }
    }

    /// Parses TOML text and decodes it. Errors name file:line:column and the key path; every
    /// error of the file is reported at once (in file order, at most `ConfigurationErrors.limit`).
    static func decode(utf8 bytes: [UInt8], file: String) throws(ConfigurationErrors) -> Configuration {
        let root: TOMLTable
        do {
            root = try TOML.parse(utf8: bytes)
        } catch {
            throw ConfigurationErrors([ConfigurationError(file: file, position: error.position, keyPath: "", message: error.message)])
        }
        let diagnostics = ConfigDiagnostics()
        var top = ConfigReader(file: file, table: root, path: "", diagnostics: diagnostics)

        var config = Configuration(file: file, mapping: MappingConfiguration(rules: []))
        if var state = top.table("state") {
            config.state.directory = state.nonEmptyString("directory").map { resolve($0, file: file) } ?? config.state.directory
            state.finish(known: ["directory"])
        }
        if var log = top.table("log") {
            config.log.level = log.choice("level", ["debug", "info", "notice", "warning", "error"], default: "info")
            log.finish(known: ["level"])
        }
        if var limits = top.table("limits") {
            config.limits.bufferBytes = limits.bytes("buffer_bytes", default: config.limits.bufferBytes, range: 65536...1_073_741_824)
            config.limits.maxLineBytes = limits.bytes("max_line_bytes", default: config.limits.maxLineBytes, range: 1024...268_435_456)
            config.limits.maxOpenFiles = limits.int("max_open_files", default: config.limits.maxOpenFiles, range: 1...65536)
            config.limits.rescanInterval = limits.duration("rescan_interval", default: config.limits.rescanInterval, range: 100_000_000...3_600_000_000_000)
            config.limits.deletedGrace = limits.duration("deleted_grace", default: config.limits.deletedGrace, range: 0...86_400_000_000_000)
            config.limits.spoolMaxBytes = Int64(limits.bytes("spool_max_bytes", default: Int(config.limits.spoolMaxBytes), range: 1_048_576...1_099_511_627_776))
            limits.finish(known: ["buffer_bytes", "max_line_bytes", "max_open_files", "rescan_interval", "deleted_grace", "spool_max_bytes"])
        }

        let inputTables = top.tables("input")
        if inputTables.isEmpty && !root.entries.isEmpty && !top.has("input") {
            top.report(ConfigurationError(file: file, position: root.position, keyPath: "input", message: "no [[input]] table: tracktail needs at least one input to read"))
        }
        var names: Set<String> = []
        for var t in inputTables {
            guard let input = decodeInput(&t) else { continue }
            if !names.insert(input.name).inserted {
                t.report(t.error("name", "duplicate input name \"\(input.name)\""))
            }
            config.inputs.append(input)
        }

        config.mapping = decodeMapping(&top)
        if var output = top.table("output") {
            config.output = decodeOutput(&output)
        }
        if var metrics = top.table("metrics") {
            if let text = metrics.nonEmptyString("listen") {
                switch ListenAddress.parse(text) {
                case .success(let address):
                    // Numeric (or /etc/hosts) only, so this never waits for DNS.
                    do {
                        _ = try address.resolve()
                        config.metrics.listen = address
                    } catch {
                        metrics.report(metrics.error("listen", "\"\(text)\" is not a usable address: \(error.message)"))
                    }
                case .failure(let error): metrics.report(metrics.error("listen", error.message))
                }
            }
            metrics.finish(known: ["listen"])
        }
        top.finish(known: ["state", "input", "rule", "mapping", "output", "limits", "log", "metrics"])
        if !diagnostics.errors.isEmpty { throw ConfigurationErrors(diagnostics.errors) }
        return config
    }

    /// One `[[input]]`; `nil` when it is too broken to describe an input (the errors are reported).
    private static func decodeInput(_ t: inout ConfigReader) -> Input? {
        let name = t.nonEmptyString("name") ?? t.path
        let kind = InputKind(rawValue: t.choice("type", ["file", "pipe"], default: "file"))!
        var input = Input(name: name, kind: kind, paths: [])
        var complete = true
        switch kind {
        case .file:
            var found = t.strings("paths")
            if found == nil { found = t.strings("path") }
            if let paths = found {
                if paths.isEmpty { t.report(t.error("paths", "must name at least one glob")); complete = false }
                input.paths = paths.map { resolve($0, file: t.file) }
            } else if !t.has("paths") && !t.has("path") {
                t.report(t.error(nil, "a file input needs paths = [\"/var/log/app/*.log\"]"))
                complete = false
            } else {
                complete = false
            }
            input.exclude = t.strings("exclude") ?? []
            input.startAt = StartAt(rawValue: t.choice("start_at", ["beginning", "end"], default: "beginning"))!
            input.fingerprintBytes = t.int("fingerprint_bytes", default: 256, range: 16...65536)
            t.finish(known: ["name", "type", "paths", "path", "exclude", "start_at", "fingerprint_bytes"])
        case .pipe:
            if let path = t.nonEmptyString("path") {
                input.paths = [resolve(path, file: t.file)]
            } else {
                if !t.has("path") { t.report(t.error(nil, "a pipe input needs path = \"/run/app/events.pipe\"")) }
                complete = false
            }
            t.finish(known: ["name", "type", "path"])
        }
        return complete ? input : nil
    }

    private static func decodeOutput(_ t: inout ConfigReader) -> Output {
        var o = Output()
        o.kind = OutputKind(rawValue: t.choice("type", ["http", "stdout"], default: "stdout"))!
        if o.kind == .stdout {
            t.finish(known: ["type"])
            return o
        }
        if let url = t.nonEmptyString("url") { o.url = url }
        o.allowInsecureHTTP = t.bool("allow_insecure_http", default: false)
        t.diagnostics.attempt(()) { () throws(ConfigurationError) in try validateURL(o.url, allowInsecure: o.allowInsecureHTTP, t) }

        var sources: [TokenSource] = []
        if let n = t.nonEmptyString("token_env") { sources.append(.environment(n)) }
        if let p = t.nonEmptyString("token_file") { sources.append(.file(resolve(p, file: t.file))) }
        if let c = t.nonEmptyString("token_credential") { sources.append(.credential(c)) }
        if t.has("token") {
            _ = t.value("token")
            t.report(t.error("token", "a secret is never written in the configuration: use token_env, token_file or token_credential"))
        } else if sources.count > 1 {
            t.report(t.error(nil, "give one of token_env, token_file, token_credential, not several"))
        } else if sources.isEmpty && !t.has("token_env") && !t.has("token_file") && !t.has("token_credential") {
            t.report(t.error(nil, "an http output needs a token: token_env = \"TRACKTAIL_TOKEN\", token_file = \"/path\" or token_credential = \"name\""))
        }
        if let token = sources.first { o.token = token }
        o.apiKeyHeader = t.nonEmptyString("api_key_header")
        o.bearer = t.bool("bearer", default: o.apiKeyHeader == nil)
        if !o.bearer && o.apiKeyHeader == nil {
            t.report(t.error("bearer", "with bearer = false, set api_key_header so that the token is sent at all"))
        }
        o.maxEvents = t.int("batch_max_events", default: o.maxEvents, range: 1...1000)
        o.maxBytes = t.bytes("batch_max_bytes", default: o.maxBytes, range: 1024...2_000_000)
        o.linger = t.duration("linger", default: o.linger, range: 0...60_000_000_000)
        o.maxInFlight = t.int("max_in_flight", default: o.maxInFlight, range: 1...16)
        o.connectTimeout = t.duration("connect_timeout", default: o.connectTimeout, range: 100_000_000...300_000_000_000)
        o.requestTimeout = t.duration("request_timeout", default: o.requestTimeout, range: 100_000_000...600_000_000_000)
        o.caFile = t.nonEmptyString("ca_file").map { resolve($0, file: t.file) }
        if let proxy = t.nonEmptyString("proxy") {
            if proxy.hasPrefix("http://") {
                o.proxy = proxy
            } else {
                t.report(t.error("proxy", "only http:// proxies are supported (CONNECT tunnel), got \"\(proxy)\""))
            }
        }
        o.retryInitial = t.duration("retry_initial", default: o.retryInitial, range: 10_000_000...60_000_000_000)
        o.retryMax = t.duration("retry_max", default: o.retryMax, range: 10_000_000...3_600_000_000_000)
        o.retryAfterMax = t.duration("retry_after_max", default: o.retryAfterMax, range: 0...86_400_000_000_000)
        o.holdRetry = t.duration("hold_retry", default: o.holdRetry, range: 100_000_000...86_400_000_000_000)
        o.drainTimeout = t.duration("drain_timeout", default: o.drainTimeout, range: 0...600_000_000_000)
        o.deadLetterMaxBytes = t.bytes("dead_letter_max_bytes", default: o.deadLetterMaxBytes, range: 65536...1_099_511_627_776)
        o.gzip = t.choice("compression", ["none", "gzip"], default: "none") == "gzip"
        t.finish(known: ["type", "url", "allow_insecure_http", "token_env", "token_file", "token_credential", "api_key_header", "bearer",
                             "batch_max_events", "batch_max_bytes", "linger", "max_in_flight", "connect_timeout", "request_timeout",
                             "ca_file", "proxy", "retry_initial", "retry_max", "retry_after_max", "hold_retry", "drain_timeout",
                             "dead_letter_max_bytes", "compression"])
        return o
    }

    /// A relative path in the configuration is relative to the configuration file's directory,
    /// never to the daemon's working directory.
    static func resolve(_ path: String, file: String) -> String {
        if path.hasPrefix("/") { return path }
        var dir = Path.directory(of: file)
        if !dir.hasPrefix("/") { dir = Path.join(FileSystem.currentDirectory(), dir) }
        return Path.normalize(Path.join(dir, path))
    }

    /// `https://` anywhere; plain `http://` only to loopback unless explicitly allowed
    /// (CONTRACT.md). Parsed by the HTTP client's own URL type, so what passes here is what
    /// the client will accept.
    private static func validateURL(_ url: String, allowInsecure: Bool, _ t: ConfigReader) throws(ConfigurationError) {
        let parsed: HTTPURL
        do {
            parsed = try HTTPURL(url)
        } catch {
            throw t.error("url", "\(error)")
        }
        if !parsed.isHTTPS && !parsed.isLoopback && !allowInsecure {
            throw t.error("url", "plain http:// sends the token unencrypted; use https://, or set allow_insecure_http = true")
        }
    }
}
