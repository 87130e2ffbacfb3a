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
///
/// A replayed file is marked (`ReplayMark`, a sidecar next to it): a second replay refuses what
/// was sent already unless `--force`, and replays only records appended since.
enum ReplayCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.replay, flags: ["--dry-run", "--force"]) else { return .ok }
        guard args.positionals.count == 1, let file = args.positionals.first else {
            throw CommandFailure("replay takes exactly one DEADLETTER file", code: .usage)
        }
        let config = try Configuration.load(path: args["--config"] ?? Configuration.defaultPath)
        let records: [DeadLetterRecord]
        let bytes: [UInt8]
        let status: FileStatus
        do {
            bytes = try FileSystem.readAll(file)
            guard let st = try FileSystem.status(file) else { throw Errno(code: Errno.noEntry, call: "stat", path: file) }
            status = st
        } catch {
            throw CommandFailure("cannot read \(file): \(error)", code: (error as? Errno)?.code == Errno.noEntry ? .noInput : .ioError)
        }
        // Whole records only: a torn final line is not replayed, and not marked as replayed.
        let complete = Int64((bytes.lastIndex(of: 0x0A) ?? -1) + 1)
        let mark = ReplayMark.find(identity: status.identity, in: Path.directory(of: file))
        var skipped = 0
        var from: Int64 = 0
        switch ReplayMark.decide(mark, identity: status.identity, size: complete, force: args.has("--force")) {
        case .all: break
        case .refuse:
            let m = mark!
            throw CommandFailure("\(file) was replayed already (\(m.records) record\(m.records == 1 ? "" : "s") on \(Timestamp(epochNanoseconds: m.time)), "
                                 + "and nothing was added since); replaying it again sends those events twice: use --force if that is what you want",
                                 code: .failure)
        case .after(let offset):
            from = offset
            skipped = bytes[..<Int(offset)].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        do {
            records = try DeadLetterFile.parse(Array(bytes[Int(from)..<Int(complete)]), path: file)
        } catch {
            throw CommandFailure("\(error)", code: .dataError)
        }
        var mapper: Mapper
        do {
            mapper = try Mapper(config.mapping)
        } catch {
            throw CommandFailure("\(config.file): \(error)", code: .config)
        }

        // Map every record first: what will be sent, and what is rejected again.
        var batches: [MappedBatch] = []
        var lines = 0, remapped = 0, droppedNow = 0, resent = 0, rejectedAgain = 0
        let now = SystemClock.wallNanoseconds()
        for (i, r) in records.enumerated() {
            var b = MappedBatch(source: SourceID(UInt32(i)))
            if let line = r.line {
                lines += 1
                switch mapper.mapLine(line, readTime: now, offset: r.start) {
                case .event(let json, let rule, _):
                    b.events.append(EventRecord(byteStart: 0, byteEnd: json.count, start: r.start, end: r.end, rule: rule))
                    b.eventBytes = json
                    remapped += 1
                case .dropped:
                    b.others.append(NonEventRecord(start: r.start, end: r.end, rejection: nil, lineHead: []))
                    droppedNow += 1
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

        if skipped > 0 && !args.has("--dry-run") {
            StandardStreams.err("skipping the first \(skipped) records of \(file): replayed already on \(Timestamp(epochNanoseconds: mark!.time)); replaying the \(records.count) added since\n")
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
            if skipped > 0 { out.append("skipping the first \(skipped) records: replayed already\n") }
            out.append("dry run, nothing sent: \(records.count) record\(records.count == 1 ? "" : "s") in \(file)\n")
            out.append("  \(lines) line\(lines == 1 ? "" : "s") would be re-mapped with the current rules: \(remapped) to events, \(droppedNow) dropped, \(lines - remapped - droppedNow) rejected again\n")
            out.append("  \(resent) event\(resent == 1 ? "" : "s") the API refused would be re-sent as \(resent == 1 ? "it was" : "they were")\n")
            if records.count - lines - resent > 0 { out.append("  \(records.count - lines - resent) record\(records.count - lines - resent == 1 ? " holds" : "s hold") neither line nor event\n") }
            out.append("  \(remapped + resent) event\(remapped + resent == 1 ? "" : "s") would be sent in all\n")
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
            let t = try config.httpTransport(token: token)
            http = t
            transport = t
            secrets = [token]
        }
        let replayDirectory = Path.join(config.state.directory, "dead-letter-replay-\(now / 1_000_000_000)")
        let done = Atomic<Int>(0)
        let replayDeadLetter = config.deadLetter(directory: replayDirectory, logger: logger, token: secrets.first ?? "")
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
        // Every record settled (sent, dropped, or dead-lettered again): mark the file, so that
        // a second replay does not send the same events twice.
        if done.load(ordering: .relaxed) >= records.count {
            let m = ReplayMark(identity: status.identity, bytes: complete, records: skipped + records.count, time: now)
            do {
                try m.write(for: file)
                StandardStreams.err("marked \(file) as replayed (\(file).\(status.identity.inode)\(ReplayMark.suffix)); replaying it again needs --force\n")
            } catch {
                StandardStreams.err("warning: cannot mark \(file) as replayed: \(error); a second replay would send these events again\n")
            }
        }
        if code == .ok && failed > 0 { code = .failure }
        return code
    }
}
