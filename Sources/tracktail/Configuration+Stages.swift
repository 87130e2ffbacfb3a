import Runtime
import Ship
import Tail

/// What each stage of the topology is given, from the decoded configuration.
extension Configuration {
    func tailConfiguration(once: Bool) -> TailConfiguration {
        let specs = inputs.map { i in
            var spec = TailConfiguration.InputSpec(
                name: i.name, kind: TailConfiguration.Kind(rawValue: i.kind.rawValue)!, paths: i.paths, exclude: i.exclude,
                startAt: i.startAt == .beginning ? .beginning : .end, fingerprintBytes: i.fingerprintBytes,
                maxLineBytes: limits.maxLineBytes)
            spec.fifoMode = i.fifoMode
            spec.fifoGroup = i.fifoGroup
            if i.kind == .journal {
                spec.journal = TailConfiguration.JournalSpec(units: i.units, identifiers: i.identifiers, matches: i.matches,
                                                             directory: i.directory, journalctlPath: i.journalctlPath)
            }
            return spec
        }
        return TailConfiguration(
            inputs: specs, stateDirectory: state.directory, maxOpenFiles: limits.maxOpenFiles,
            rescanInterval: limits.rescanInterval, deletedGrace: limits.deletedGrace, once: once,
            spoolMaxBytes: limits.spoolMaxBytes)
    }

    func shipConfiguration() -> ShipConfiguration {
        var c = output.shipping
        if output.kind == .stdout {
            c.maxInFlight = 1   // keeps stdout in line order
        }
        return c
    }

    /// The dead letter under the state directory (or `directory`), with the output's cap and
    /// response limit; `token` and the key header are redacted from stored responses.
    func deadLetter(directory: String? = nil, logger: Logger? = nil, token: String = "") -> DeadLetter {
        let d = DeadLetter(directory: directory ?? ShipConfiguration.deadLetterDirectory(stateDirectory: state.directory),
                           capBytes: output.deadLetterMaxBytes, responseLimit: output.shipping.responseBodyLimit, logger: logger)
        d.setSecrets([token], headerNames: output.endpoint.apiKeyHeader.map { [$0] } ?? [])
        return d
    }

    /// The `http` output's transport, with the token read from where the configuration says
    /// (or `token`, already read).
    func httpTransport(token given: String? = nil) throws(CommandFailure) -> HTTPTrackTransport {
        let token: String
        if let given { token = given } else { token = try Token.load(output.token) }
        do {
            return try HTTPTrackTransport(output.endpoint, poolSize: output.shipping.maxInFlight,
                                          userAgent: "tracktail/\(Help.version)", token: token)
        } catch {
            throw CommandFailure(error.description, code: .config)
        }
    }
}
