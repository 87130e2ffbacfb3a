import Pipeline
import TOML

extension Configuration {
    /// The configuration with every default filled in, as TOML. Secrets are never printed: only
    /// where the token comes from.
    enum Section: CaseIterable { case state, inputs, mapping, output, limits, log, metrics }

    func resolvedDescription(sections: Set<Section> = Set(Section.allCases)) -> String {
        var s = sections.count == Section.allCases.count ? "# \(file), resolved (defaults filled in, secrets redacted)\n\n" : ""
        if sections.contains(.state) { s += "[state]\ndirectory = \(q(state.directory))\n" }
        for i in inputs where sections.contains(.inputs) {
            s += "\n[[input]]\nname = \(q(i.name))\ntype = \(q(i.kind.rawValue))\n"
            switch i.kind {
            case .file:
                s += "paths = \(list(i.paths))\nexclude = \(list(i.exclude))\nstart_at = \(q(i.startAt.rawValue))\nfingerprint_bytes = \(i.fingerprintBytes)\n"
            case .pipe:
                s += "path = \(q(i.paths[0]))\nmode = \(q("0" + String(i.fifoMode, radix: 8)))\n"
                if let g = i.fifoGroup { s += "group = \(q(g))\n" }
            case .journal:
                s += "units = \(list(i.units))\nidentifiers = \(list(i.identifiers))\n"
                s += "matches = { \(i.matches.map { "\(key($0.field)) = \(list($0.values))" }.joined(separator: ", ")) }\n"
                s += "start_at = \(q(i.startAt.rawValue))\n"
                if let d = i.directory { s += "directory = \(q(d))\n" }
                s += "journalctl_path = \(q(i.journalctlPath))\n"
            }
        }
        if sections.contains(.mapping) { s += "\n[mapping]\nunmatched = \(q(mapping.unmatched.rawValue))\n" }
        if sections.contains(.mapping), let k = mapping.eventIDKey { s += "event_id_key = \(q(k))\n" }
        for r in mapping.rules where sections.contains(.mapping) {
            s += "\n[[rule]]\nname = \(q(r.name))\n"
            if !r.when.isEmpty { s += "when = [\(r.when.map(condition).joined(separator: ", "))]\n" }
            s += "action = \(q(r.action.rawValue))\n"
            if r.action == .drop { continue }
            if let v = r.eventName { s += "event_name = \(q(v))\n" }
            if !r.renameEvents.isEmpty { s += "rename_events = { \(r.renameEvents.map { "\(key($0.from)) = \(q($0.to))" }.joined(separator: ", ")) }\n" }
            if let v = r.userID { s += "user_id = \(q(v))\n" }
            s += r.timestamp.map { "timestamp = \(q($0))\n" } ?? "# no timestamp: the time each line is read\n"
            if let u = r.timestampUnit { s += "timestamp_unit = \(q(u))\n" }
            if let z = r.timestampZone { s += "timestamp_zone = \(q(z))\n" }
            s += "timestamp_missing = \(q(r.timestampMissing.rawValue))\n"
            if !r.propertiesFrom.isEmpty { s += "properties_from = \(list(r.propertiesFrom))\n" }
            s += "properties = { \(r.properties.map { "\(key($0.key)) = \(q($0.template))" }.joined(separator: ", ")) }\n"
            if !r.dropProperties.isEmpty { s += "drop_properties = \(list(r.dropProperties))\n" }
            s += "context = { \(r.context.map { "\(key($0.key)) = \(q($0.template))" }.joined(separator: ", ")) }\n"
        }
        if sections.contains(.output) { s += "\n[output]\ntype = \(q(output.kind.rawValue))\n" }
        if sections.contains(.output), output.kind == .http {
            let o = output, e = output.endpoint, c = output.shipping
            s += "url = \(q(e.url))\n"
            switch o.token {
            case .none: break
            case .environment(let n): s += "token_env = \(q(n))   # the token itself is never printed\n"
            case .file(let p): s += "token_file = \(q(p))   # the token itself is never printed\n"
            case .credential(let c): s += "token_credential = \(q(c))   # the token itself is never printed\n"
            }
            s += "bearer = \(e.bearer)\n"
            if let h = e.apiKeyHeader { s += "api_key_header = \(q(h))\n" }
            s += "batch_max_events = \(c.maxEvents)\nbatch_max_bytes = \(c.maxBytes)\nlinger = \(d(c.linger))\nidle_linger = \(d(min(c.idleLinger, c.linger)))\nmax_in_flight = \(c.maxInFlight)\n"
            s += "connect_timeout = \(d(e.connectTimeout))\nrequest_timeout = \(d(e.requestTimeout))\n"
            if let c = e.caFile { s += "ca_file = \(q(c))\n" }
            if let p = e.proxy { s += "proxy = \(q(p))\n" }
            s += "allow_insecure_http = \(o.allowInsecureHTTP)\n"
            s += "retry_initial = \(d(c.backoffBase))\nretry_max = \(d(c.backoffCap))\nretry_after_max = \(d(c.retryAfterCap))\nhold_retry = \(d(c.holdRetryInterval))\n"
            s += "drain_timeout = \(d(o.drainTimeout))\ndead_letter_max_bytes = \(o.deadLetterMaxBytes)\n"
            s += "compression = \(q(e.gzip ? "gzip" : "none"))\n"
        }
        let l = limits
        if sections.contains(.limits) { s += "\n[limits]\nbuffer_bytes = \(l.bufferBytes)\nmax_line_bytes = \(l.maxLineBytes)\nmax_open_files = \(l.maxOpenFiles)\n"
        s += "rescan_interval = \(d(l.rescanInterval))\ndeleted_grace = \(d(l.deletedGrace))\nspool_max_bytes = \(l.spoolMaxBytes)\n" }
        if sections.contains(.log) { s += "\n[log]\nlevel = \(q(log.level))\n" }
        if sections.contains(.metrics), let listen = metrics.listen { s += "\n[metrics]\nlisten = \(q(listen.description))\n" }
        return s
    }

    private func q(_ s: String) -> String { TOML.basicString(s) }
    private func key(_ k: String) -> String { TOML.key(k) }

    private func list(_ items: [String]) -> String { "[" + items.map(q).joined(separator: ", ") + "]" }
    private func d(_ ns: Int64) -> String { q(Units.describe(nanoseconds: ns)) }

    private func condition(_ c: ConditionSpec) -> String {
        let op: String
        switch c.op {
        case .equals(let v): op = "equals = \(value(v))"
        case .notEquals(let v): op = "not_equals = \(value(v))"
        case .in(let vs): op = "in = [\(vs.map(value).joined(separator: ", "))]"
        case .notIn(let vs): op = "not_in = [\(vs.map(value).joined(separator: ", "))]"
        case .exists(let b): op = "exists = \(b)"
        case .prefix(let p): op = "prefix = \(q(p))"
        }
        return "{ field = \(q(c.field)), \(op) }"
    }

    private func value(_ v: ConditionValue) -> String {
        switch v {
        case .string(let s): q(s)
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        }
    }
}
