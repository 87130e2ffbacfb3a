import Posix
import Runtime
import Ship

/// `tracktail run`: the daemon. The main thread supervises: it starts the topology, turns
/// signals into reloads and shutdown, reports to systemd, and pets the watchdog only while every
/// worker thread is live (`SystemdReporter`).
enum RunCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.run, valued: ["--log-level"], flags: ["--once"]) else { return .ok }
        if let extra = args.positionals.first { throw CommandFailure("unexpected argument \"\(extra)\"", code: .usage) }
        // Before any thread exists, so that only the signal thread takes signals.
        SignalWatcher.prepare()

        let path = args["--config"] ?? Configuration.defaultPath
        var config = try Configuration.load(path: path)
        let levelWord = args["--log-level"] ?? config.log.level
        guard let level = Logger.Level(word: levelWord) else { throw CommandFailure("unknown log level \"\(levelWord)\"", code: .usage) }
        Logger.setLevel(level)
        let logger = Logger(label: "tracktail")
        let once = args.has("--once")

        let transport: any TrackTransport
        var httpTransport: HTTPTrackTransport?
        var token = ""
        switch config.output.kind {
        case .stdout:
            transport = StdoutTransport()
        case .http:
            token = try Token.load(config.output.token)
            let t = try config.httpTransport(token: token)
            httpTransport = t
            transport = t
        }

        // The state directory lock first (taken by the topology, which starts no thread yet), so
        // a second instance hears "locked by pid N" (75) rather than that its metrics port is
        // taken; then the endpoint, bound before anything reads, so a port in use fails the
        // start instead of a scrape.
        let topology = try Topology(config, transport: transport, once: once, logger: logger)
        topology.deadLetter.setSecrets([token])
        let metricsServer = try openMetricsEndpoint(config.metrics, logger: logger)
        let supervisor = Supervisor()
        let watcher = SignalWatcher { signal in
            if signal == Signals.hangUp {
                supervisor.post(.reload)
                return true
            }
            supervisor.post(.stop(Signals.name(signal)))
            return false
        }
        let inputHealth = InputHealth(config.inputs, logger: Logger(label: "input"))
        topology.start()
        inputHealth.tick(now: SystemClock.monotonicNanoseconds())
        let lastSuccess = Metrics.LastSuccess()
        metricsServer?.start(Metrics.content(topology, inputs: inputHealth, lastSuccess: lastSuccess, startedWall: SystemClock.wallNanoseconds()))
        var reporter = SystemdReporter(logger: logger)
        let notifier = reporter.notifier
        notifier.ready()
        logger.info("started", ["inputs": String(config.inputs.count), "rules": String(config.mapping.rules.count),
                                "output": config.output.kind.rawValue, "once": String(once)])

        var exit = ExitCode.ok
        loop: while true {
            switch supervisor.next(until: SystemClock.monotonicNanoseconds() + reporter.tickInterval(once: once)) {
            case .stop(let why):
                logger.info("stopping", ["signal": why])
                break loop
            case .reload:
                notifier.reloading(monotonicMicroseconds: SystemClock.monotonicNanoseconds() / 1000)
                config = reload(config, topology: topology, transport: httpTransport, logger: logger)
                notifier.ready()
            case nil:
                break
            }
            topology.deadLetter.tick()
            inputHealth.tick(now: SystemClock.monotonicNanoseconds())
            if once && topology.isFinished { break loop }
            lastSuccess.note(shipped: topology.shipper.counters.eventsShipped.load(ordering: .relaxed), wallNow: SystemClock.wallNanoseconds())
            let health = topology.shipper.health
            if once, case .degraded(let reason) = health, topology.shipper.counters.holds.load(ordering: .relaxed) > 0 {
                logger.error("the Track API refuses this configuration; giving up (--once)", ["reason": reason])
                exit = .unavailable
                break loop
            }
            reporter.tick(topology, health: health, notes: inputHealth.failing.first.map { ["input \($0.input) has nothing readable"] } ?? [])
        }
        notifier.stopping()
        let drain = SystemClock.monotonicNanoseconds() + config.output.drainTimeout
        metricsServer?.stop()
        topology.stop(drainDeadline: drain)
        topology.deadLetter.tick(final: true)
        watcher.stop()
        httpTransport?.close()
        let s = topology.shipper.counters.snapshot
        logger.info("stopped", ["lines.read": String(topology.stats.linesRead.load(ordering: .relaxed)),
                                "events.shipped": String(s.eventsShipped), "dead.lettered": String(s.deadLettered),
                                "dropped": String(topology.stats.linesDropped.load(ordering: .relaxed))])
        if once && exit == .ok && !inputHealth.everFailed.isEmpty {
            logger.error("an input had nothing readable (see the warnings above); exiting 66 (--once)",
                         ["inputs": inputHealth.everFailed.joined(separator: ",")])
            exit = .noInput
        } else if once && exit == .ok && !topology.isFinished {
            logger.error("stopped before everything was delivered; run again to continue from the checkpoint")
            exit = .tempFail
        }
        return exit
    }

    /// `[metrics] listen`: binds the endpoint (nil when not configured). A port already in use,
    /// or one this user may not bind, ends the start with `unavailable` (69): the endpoint was
    /// asked for, and a daemon whose monitoring silently failed would look dead to its scraper.
    private static func openMetricsEndpoint(_ metrics: Configuration.Metrics, logger: Logger) throws(CommandFailure) -> MetricsServer? {
        guard let listen = metrics.listen else { return nil }
        let server: MetricsServer
        do {
            server = try MetricsServer(listeningOn: try listen.resolve())
        } catch let e as Errno where e.code == Errno.addressInUse {
            throw CommandFailure("[metrics] listen = \"\(listen)\": the address is already in use (another tracktail, or another exporter on this port?)", code: .unavailable)
        } catch {
            throw CommandFailure("[metrics] listen = \"\(listen)\": \(error)", code: .unavailable)
        }
        if !listen.isLoopback {
            logger.warning("metrics endpoint is not on a loopback address; it has no authentication", ["listen": listen.description])
        }
        logger.info("metrics endpoint listening", ["address": server.address.description])
        return server
    }

    /// SIGHUP: re-read the file; an invalid one is reported and the old one stays in force.
    /// Rules, log level and the token apply at once; inputs, state and output need a restart.
    private static func reload(_ old: Configuration, topology: Topology, transport: HTTPTrackTransport?, logger: Logger) -> Configuration {
        let new: Configuration
        do {
            new = try Configuration.load(path: old.file)
        } catch {
            logger.error("configuration reload failed; the old configuration stays in force", ["error": error.message])
            topology.shipper.wake()
            return old
        }
        if let level = Logger.Level(word: new.log.level) { Logger.setLevel(level) }
        if let transport, new.output.kind == .http {
            do {
                let token = try Token.load(new.output.token)
                topology.deadLetter.setSecrets([token])
                transport.replaceToken(token)
            } catch {
                logger.error("token reload failed; the old token stays in use", ["error": error.message])
            }
        }
        topology.reload(mapping: new.mapping)
        if new.resolvedDescription(sections: [.inputs, .state, .output, .limits, .metrics]) != old.resolvedDescription(sections: [.inputs, .state, .output, .limits, .metrics]) {
            logger.warning("changes to [[input]], [state], [output], [limits] or [metrics] take effect after a restart")
        }
        logger.notice("configuration reloaded", ["rules": String(new.mapping.rules.count)])
        var kept = old
        kept.mapping = new.mapping
        kept.log = new.log
        return kept
    }
}
