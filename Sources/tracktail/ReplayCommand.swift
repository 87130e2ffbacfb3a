import JSON
import Pipeline
import Posix
import Runtime
import Ship
import Synchronization

/// `tracktail replay`: send the records of a dead-letter file again, after a rule was fixed.
///
/// A record with the original `line` (a mapper rejection) is mapped again with the current
/// rules; a record with only the mapped `event` (the API refused it, or it was too large) is
/// sent as it is. Each record travels as its own source through the normal shipper, so
/// batching, retries, splitting and the dead letter work exactly as in `run`. Records rejected
/// again go to a new dead-letter directory (never back into the file being replayed).
enum ReplayCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.replay, flags: ["--dry-run"]) else { return .ok }
        guard args.positionals.count == 1, let file = args.positionals.first else {
            throw CommandFailure("replay takes exactly one DEADLETTER file", code: .usage)
        }
        let config = try Configuration.load(path: args["--config"] ?? Configuration.defaultPath)
        let records: [DeadLetterRecord]
        do {
            records = try DeadLetterFile.read(file)
        } catch let e as DeadLetterFile.ReadError {
            throw CommandFailure("\(e)", code: .dataError)
        } catch {
            throw CommandFailure("cannot read \(file): \(error)", code: (error as? Errno)?.code == Errno.noEntry ? .noInput : .ioError)
        }
        var mapper: Mapper
        do {
            mapper = try Mapper(config.mapping)
        } catch {
            throw CommandFailure("\(config.file): \(error)", code: .config)
        }

        // Map every record first: what will be sent, and what is rejected again.
        var batches: [MappedBatch] = []
        var remapped = 0, resent = 0, rejectedAgain = 0
        let now = SystemClock.wallNanoseconds()
        for (i, r) in records.enumerated() {
            var b = MappedBatch(source: SourceID(UInt32(i)))
            if let line = r.line {
                switch mapper.mapLine(line, readTime: now, offset: r.start) {
                case .event(let json, let rule, _):
                    b.events.append(EventRecord(byteStart: 0, byteEnd: json.count, start: r.start, end: r.end, rule: rule))
                    b.eventBytes = json
                    remapped += 1
                case .dropped:
                    b.others.append(NonEventRecord(start: r.start, end: r.end, rejection: nil, lineHead: []))
                case .rejected(let reason, let rule):
                    b.others.append(NonEventRecord(start: r.start, end: r.end, rejection: reason, lineHead: Array(line.utf8), rule: rule))
                    rejectedAgain += 1
                }
            } else if let event = r.event {
                b.events.append(EventRecord(byteStart: 0, byteEnd: event.count, start: r.start, end: r.end, rule: r.rule))
                b.eventBytes = event
                resent += 1
            } else {
                b.others.append(NonEventRecord(start: r.start, end: r.end, rejection: "dead-letter record holds neither line nor event", lineHead: []))
                rejectedAgain += 1
            }
            batches.append(b)
        }

        if args.has("--dry-run") {
            var out = OutputBuffer()
            for (i, b) in batches.enumerated() {
                for e in b.events { out.append("record \(i + 1): "); out.append(Array(b.eventJSON(e))); out.append("\n") }
                for o in b.others {
                    out.append("record \(i + 1): \(o.rejection.map { "rejected again: \($0)" } ?? "dropped by the rules")\n")
                }
                out.flushIfLarge()
            }
            out.append("\(records.count) records: \(remapped) re-mapped, \(resent) events to resend, \(rejectedAgain) rejected again (dry run: nothing sent)\n")
            out.flush()
            return rejectedAgain > 0 ? .failure : .ok
        }

        SignalWatcher.prepare()
        let logger = Logger(label: "replay")
        Logger.setLevel(Logger.Level(word: config.log.level) ?? .info)
        let transport: any TrackTransport
        var http: HTTPTrackTransport?
        var secrets: [String] = []
        switch config.output.kind {
        case .stdout: transport = StdoutTransport()
        case .http:
            let token = try Token.load(config.output.token)
            let t = try HTTPTrackTransport(config.output, token: token)
            http = t
            transport = t
            secrets = [token]
        }
        let replayDirectory = Path.join(config.state.directory, "dead-letter-replay-\(now / 1_000_000_000)")
        let done = Atomic<Int>(0)
        let replayDeadLetter = DeadLetter(directory: replayDirectory, capBytes: Int64(config.output.deadLetterMaxBytes), logger: logger)
        replayDeadLetter.setSecrets(secrets, headerNames: config.output.apiKeyHeader.map { [$0] } ?? [])
        let shipper = Shipper(
            configuration: config.shipConfiguration(), transport: transport,
            deadLetter: replayDeadLetter,
            clock: SystemTime(), sourcePath: { id in Int(id.rawValue) < records.count ? records[Int(id.rawValue)].source : "replay" },
            acknowledge: { _, _, _ in done.add(1, ordering: .relaxed) }, logger: logger)
        shipper.start()
        for b in batches where !shipper.input.push(b) { break }
        shipper.input.close()
        var code = ExitCode.ok
        while done.load(ordering: .relaxed) < records.count {
            if shipper.counters.holds.load(ordering: .relaxed) > 0, case .degraded(let reason) = shipper.health {
                logger.error("the Track API refuses this configuration; nothing more is sent", ["reason": reason])
                code = .unavailable
                break
            }
            SystemClock.sleep(nanoseconds: 50_000_000)
        }
        shipper.stop(deadline: SystemClock.monotonicNanoseconds() + config.output.drainTimeout)
        http?.close()
        let s = shipper.counters.snapshot
        let failed = s.deadLettered
        StandardStreams.err("\(records.count) records: \(s.eventsShipped) events sent (\(remapped) re-mapped, \(resent) resent), \(failed) rejected again\(failed > 0 ? " → \(replayDirectory)" : "")\n")
        if code == .ok && failed > 0 { code = .failure }
        return code
    }
}
