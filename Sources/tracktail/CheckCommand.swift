import HTTP
import Pipeline
import Posix
import Runtime
import TOML

/// `tracktail check`: validate, print the resolved configuration, warn about catalogue events.
enum CheckCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.check) else { return .ok }
        if let extra = args.positionals.first { throw CommandFailure("unexpected argument \"\(extra)\"", code: .usage) }
        let path = args["--config"] ?? Configuration.defaultPath
        let config = try Configuration.load(path: path)
        StandardStreams.out(config.resolvedDescription())
        let warnings = Mapper.ruleWarnings(config.mapping)
        for w in warnings { StandardStreams.err("warning: \(w)\n") }
        inputReport(config)
        if let listen = config.metrics.listen, !listen.isLoopback {
            StandardStreams.err("warning: [metrics] listen = \"\(listen)\" is not a loopback address: /metrics and /health answer anyone who can reach it, without authentication\n")
        }
        if config.output.kind == .http {
            if let url = try? HTTPURL(config.output.endpoint.url), url.path.prefix(while: { $0 != "?" }) != "/api/track" {
                StandardStreams.err("warning: output.url = \"\(config.output.endpoint.url)\" posts to the path \(url.path), not /api/track: the Track API answers 404 there (give the whole URL, e.g. https://api.app.thrivestack.ai/api/track)\n")
            }
            do {
                _ = try Token.read(config.output.token)
            } catch where error.malformed {
                throw CommandFailure(error.message, code: .config)
            } catch {
                StandardStreams.err("warning: \(error.message) (needed by `run`)\n")
            }
        }
        StandardStreams.err("\(path): valid (\(config.inputs.count) input\(config.inputs.count == 1 ? "" : "s"), \(config.mapping.rules.count) rule\(config.mapping.rules.count == 1 ? "" : "s")\(warnings.isEmpty ? "" : ", \(warnings.count) warning\(warnings.count == 1 ? "" : "s")"))\n")
        return .ok
    }

    /// Per file input and pattern: what it matches now and whether this user may read it.
    static func inputReport(_ config: Configuration) {
        let user = Access.userName()
        let sandbox = InputProbe.underSystemd
        for input in config.inputs where input.kind == .file {
            let probe = InputProbe.probe(input)
            var text = ""
            for p in probe.patterns {
                text += "input \(input.name): \(p.pattern): "
                if p.files.isEmpty {
                    switch p.problem ?? .noMatch {
                    case .noMatch: text += "matches no file now"
                    case .noDirectory(let d): text += "matches no file now: no such directory \(d)"
                    case .directoryDenied(let d): text += "matches no file now: permission denied for user \(user) on the directory \(d)"
                    }
                } else {
                    text += "matches \(p.files.count) file\(p.files.count == 1 ? "" : "s")"
                    if p.unreadable.isEmpty {
                        text += ", all readable by user \(user)"
                    } else {
                        text += ", \(p.unreadable.count) not readable by user \(user): \(p.unreadable.prefix(5).joined(separator: ", "))\(p.unreadable.count > 5 ? ", …" : "")"
                    }
                }
                text += "\n"
            }
            if let reason = probe.reason(user: user, sandbox: sandbox) {
                text += "warning: input \(input.name) has nothing readable now (\(reason)); `run` warns and /health is degraded while this lasts, `run --once` exits 66\n"
            }
            StandardStreams.err(text)
        }
    }
}
