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

    /// The dead letter under the state directory, with the output's cap.
    func deadLetter() -> DeadLetter {
        DeadLetter(directory: ShipConfiguration.deadLetterDirectory(stateDirectory: state.directory), capBytes: output.deadLetterMaxBytes)
    }

    /// The `http` output's transport, with the token read from where the configuration says.
    func httpTransport() throws(CommandFailure) -> HTTPTrackTransport {
        let token = try Token.load(output.token)
        do {
            return try HTTPTrackTransport(output.endpoint, poolSize: output.shipping.maxInFlight,
                                          userAgent: "tracktail/\(Help.version)", token: token)
        } catch {
            throw CommandFailure(error.description, code: .config)
        }
    }
}
