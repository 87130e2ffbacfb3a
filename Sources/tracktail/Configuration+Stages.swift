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
        var c = ShipConfiguration()
        c.maxEvents = output.maxEvents
        c.maxBytes = output.maxBytes
        c.linger = output.linger
        c.maxInFlight = output.maxInFlight
        c.backoffBase = output.retryInitial
        c.backoffCap = output.retryMax
        c.retryAfterCap = output.retryAfterMax
        c.holdRetryInterval = output.holdRetry
        c.deadLetterDirectory = ShipConfiguration.deadLetterDirectory(stateDirectory: state.directory)
        c.deadLetterCap = Int64(output.deadLetterMaxBytes)
        if output.kind == .stdout {
            c.maxInFlight = 1   // keeps stdout in line order
        }
        return c
    }
}
