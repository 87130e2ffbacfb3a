import HTTP
import Pipeline
import Posix
import Runtime
import Ship
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
        let kind = InputKind(rawValue: t.choice("type", ["file", "pipe", "journal"], default: "file"))!
        var input = Input(name: name, kind: kind, paths: [])
        var complete = true
        switch kind {
        case .file:
            var found = t.strings("paths")
            if found == nil { found = t.strings("path") }
            if let paths = found {
                if paths.isEmpty { t.report(t.error("paths", "must name at least one glob")); complete = false }
                input.paths = paths.map { resolve($0, file: t.file) }
            } else {
                if !t.has("paths") && !t.has("path") { t.report(t.error(nil, "a file input needs paths = [\"/var/log/app/*.log\"]")) }
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
            if let mode = t.nonEmptyString("mode") {
                if let m = UInt32(mode, radix: 8), m <= 0o777 {
                    input.fifoMode = m
                } else {
                    t.report(t.error("mode", "expected an octal permission like \"0620\", found \"\(mode)\""))
                }
            }
            input.fifoGroup = t.nonEmptyString("group")
            t.finish(known: ["name", "type", "path", "mode", "group"])
        case .journal:
            input.units = t.strings("units") ?? []
            input.identifiers = t.strings("identifiers") ?? []
            if var m = t.table("matches") {
                for e in m.table.entries {
                    guard let values = m.strings(e.key) else { continue }   // a wrong type, reported
                    guard !values.isEmpty else {
                        m.report(m.error(e.key, "a journal field needs at least one value, e.g. PRIORITY = [\"5\", \"6\"]"))
                        continue
                    }
                    if e.key.isEmpty || e.key.contains("=") || e.key.contains(" ") {
                        m.report(m.error(e.key, "\"\(e.key)\" is not a journal field name"))
                        continue
                    }
                    input.matches.append((e.key, values))
                }
            }
            for (key, list) in [("units", input.units), ("identifiers", input.identifiers)] where list.contains(where: \.isEmpty) {
                t.report(t.error(key, "an empty name matches nothing"))
            }
            input.startAt = StartAt(rawValue: t.choice("start_at", ["beginning", "end"], default: "end"))!
            input.directory = t.nonEmptyString("directory").map { resolve($0, file: t.file) }
            input.journalctlPath = t.nonEmptyString("journalctl_path") ?? input.journalctlPath
            t.finish(known: ["name", "type", "units", "identifiers", "matches", "start_at", "directory", "journalctl_path"])
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
        if let url = t.nonEmptyString("url") { o.endpoint.url = url }
        o.allowInsecureHTTP = t.bool("allow_insecure_http", default: o.allowInsecureHTTP)
        t.diagnostics.attempt(()) { () throws(ConfigurationError) in try validateURL(o.endpoint.url, allowInsecure: o.allowInsecureHTTP, t) }

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
        var e = o.endpoint
        e.apiKeyHeader = t.nonEmptyString("api_key_header")
        e.bearer = t.bool("bearer", default: e.bearer && e.apiKeyHeader == nil)
        if !e.bearer && e.apiKeyHeader == nil {
            t.report(t.error("bearer", "with bearer = false, set api_key_header so that the token is sent at all"))
        }
        var c = o.shipping
        c.maxEvents = t.int("batch_max_events", default: c.maxEvents, range: 1...ShipConfiguration.apiMaxEvents)
        c.maxBytes = t.bytes("batch_max_bytes", default: c.maxBytes, range: 1024...ShipConfiguration.apiMaxBytes)
        c.linger = t.duration("linger", default: c.linger, range: 0...60_000_000_000)
        c.idleLinger = t.duration("idle_linger", default: c.idleLinger, range: 0...60_000_000_000)
        c.maxInFlight = t.int("max_in_flight", default: c.maxInFlight, range: 1...16)
        e.connectTimeout = t.duration("connect_timeout", default: e.connectTimeout, range: 100_000_000...300_000_000_000)
        e.requestTimeout = t.duration("request_timeout", default: e.requestTimeout, range: 100_000_000...600_000_000_000)
        e.caFile = t.nonEmptyString("ca_file").map { resolve($0, file: t.file) }
        if let proxy = t.nonEmptyString("proxy") {
            if proxy.hasPrefix("http://") {
                e.proxy = proxy
            } else {
                t.report(t.error("proxy", "only http:// proxies are supported (CONNECT tunnel), got \"\(proxy)\""))
            }
        }
        c.backoffBase = t.duration("retry_initial", default: c.backoffBase, range: 10_000_000...60_000_000_000)
        c.backoffCap = t.duration("retry_max", default: c.backoffCap, range: 10_000_000...3_600_000_000_000)
        c.retryAfterCap = t.duration("retry_after_max", default: c.retryAfterCap, range: 0...86_400_000_000_000)
        c.holdRetryInterval = t.duration("hold_retry", default: c.holdRetryInterval, range: 100_000_000...86_400_000_000_000)
        o.drainTimeout = t.duration("drain_timeout", default: o.drainTimeout, range: 0...600_000_000_000)
        o.deadLetterMaxBytes = Int64(t.bytes("dead_letter_max_bytes", default: Int(o.deadLetterMaxBytes), range: 65536...1_099_511_627_776))
        e.gzip = t.choice("compression", ["none", "gzip"], default: e.gzip ? "gzip" : "none") == "gzip"
        o.endpoint = e
        o.shipping = c
        t.finish(known: ["type", "url", "allow_insecure_http", "token_env", "token_file", "token_credential", "api_key_header", "bearer",
                             "batch_max_events", "batch_max_bytes", "linger", "idle_linger", "max_in_flight", "connect_timeout", "request_timeout",
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
    /// (docs/track-api.md). Parsed by the HTTP client's own URL type, so what passes here is what
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
