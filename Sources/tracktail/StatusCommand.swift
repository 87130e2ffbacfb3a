import JSON
import Pipeline
import Posix
import Ship
import Tail

/// `tracktail status`: per-file progress from the checkpoint file. Reads only the state
/// directory, so it works while the daemon runs (and when it does not).
enum StatusCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.status, flags: ["--json"]) else { return .ok }
        if let extra = args.positionals.first { throw CommandFailure("unexpected argument \"\(extra)\"", code: .usage) }
        let config = try Configuration.load(path: args["--config"] ?? Configuration.defaultPath)
        let dir = config.state.directory
        let entries: [CheckpointEntry]
        let cursors: [JournalCheckpoint]
        do {
            (entries, cursors) = try CheckpointFile.readAll(stateDirectory: dir)
        } catch {
            throw CommandFailure("cannot read the checkpoint in \(dir): \(error)", code: .ioError)
        }
        let deadLetters = (try? DeadLetter.count(stateDirectory: dir)) ?? 0
        let notReplayed = notYetReplayed(stateDirectory: dir)

        struct Row {
            var entry: CheckpointEntry
            var size: Int64?
            var note: String
        }
        var rows: [Row] = []
        let spool = Path.join(dir, "spool") + "/"
        for e in entries.sorted(by: { ($0.input, $0.path) < ($1.input, $1.path) }) {
            let st = try? FileSystem.status(e.path)
            if let st, st.identity == e.identity {
                let note = st.size < e.offset ? "truncated" : e.path.hasPrefix(spool) ? "spool segment of the pipe input" : ""
                rows.append(Row(entry: e, size: st.size, note: note))
            } else {
                rows.append(Row(entry: e, size: nil, note: st == nil ? "gone (deleted or rotated away)" : "rotated: the path holds another file now"))
            }
        }

        // Configured inputs that read nothing, and matched files this user may not read.
        let user = Access.userName()
        let probes = config.inputs.filter { $0.kind == .file }.map(InputProbe.probe)
        let empty = probes.compactMap { p in p.reason(user: user, sandbox: false).map { (input: p.input, reason: $0) } }
        let unreadable = probes.flatMap { p in p.unreadableFiles.map { (input: p.input, path: $0) } }
        // Journal inputs: the checkpointed entry, and how far behind the newest matching entry it is.
        struct JournalRow {
            var input: String
            var checkpoint: JournalCheckpoint?
            var newest: (cursor: String, realtime: Int64)?
            var lagSeconds: Double? {
                guard let newest else { return checkpoint == nil ? nil : 0 }
                guard let c = checkpoint else { return nil }
                return newest.cursor == c.cursor ? 0 : max(0, Double(newest.realtime - c.realtime) / 1e6)
            }
        }
        var journals: [JournalRow] = []
        for (i, input) in config.inputs.enumerated() where input.kind == .journal {
            let spec = config.tailConfiguration(once: true).inputs[i].journal!
            journals.append(JournalRow(input: input.name, checkpoint: cursors.first { $0.input == input.name }, newest: JournalProbe.newest(spec)))
        }

        // Pipe inputs: what their spools hold.
        let tail = config.tailConfiguration(once: true)
        var spools: [(input: String, path: String, status: SpoolStatus)] = []
        for spec in tail.inputs where spec.kind == .pipe {
            for (i, path) in spec.paths.enumerated() {
                spools.append((spec.name, path, SpoolStatus.measure(directory: tail.spoolDirectory(input: spec.name, index: i), entries: entries,
                                                                    nowWall: SystemClock.wallNanoseconds())))
            }
        }

        if args.has("--json") {
            var w = JSONWriter()
            w.beginObject()
            w.key("state_directory"); w.string(dir)
            w.key("files"); w.beginArray()
            for r in rows {
                w.beginObject()
                w.key("input"); w.string(r.entry.input)
                w.key("path"); w.string(r.entry.path)
                w.key("identity"); w.string(r.entry.identity.description)
                w.key("offset"); w.int(r.entry.offset)
                if let size = r.size {
                    w.key("size"); w.int(size)
                    w.key("lag_bytes"); w.int(max(0, size - r.entry.offset))
                }
                if !r.note.isEmpty { w.key("note"); w.string(r.note) }
                w.key("updated"); w.string(Timestamp(epochNanoseconds: r.entry.updated).description)
                w.endObject()
            }
            w.endArray()
            w.key("pipes"); w.beginArray()
            for s in spools {
                w.beginObject()
                w.key("input"); w.string(s.input)
                w.key("path"); w.string(s.path)
                w.key("spool_bytes"); w.int(s.status.bytes)
                w.key("spool_segments"); w.int(Int64(s.status.segments))
                w.key("oldest_age_seconds"); w.number(text: String(s.status.oldestAgeSeconds))
                w.endObject()
            }
            w.endArray()
            w.key("journals"); w.beginArray()
            for j in journals {
                w.beginObject()
                w.key("input"); w.string(j.input)
                if let c = j.checkpoint {
                    w.key("cursor"); w.string(c.cursor)
                    w.key("time"); w.string(Timestamp(epochNanoseconds: c.realtime * 1000).description)
                    w.key("updated"); w.string(Timestamp(epochNanoseconds: c.updated).description)
                }
                if let newest = j.newest { w.key("newest_time"); w.string(Timestamp(epochNanoseconds: newest.realtime * 1000).description) }
                if let lag = j.lagSeconds { w.key("lag_seconds"); w.number(text: String(lag)) }
                w.endObject()
            }
            w.endArray()
            w.key("dead_letter_records"); w.int(Int64(deadLetters))
            w.key("dead_letter_not_replayed"); w.int(Int64(notReplayed))
            w.key("inputs_with_nothing_readable"); w.beginArray()
            for e in empty {
                w.beginObject()
                w.key("input"); w.string(e.input)
                w.key("reason"); w.string(e.reason)
                w.endObject()
            }
            w.endArray()
            w.key("unreadable_files"); w.beginArray()
            for u in unreadable {
                w.beginObject()
                w.key("input"); w.string(u.input)
                w.key("path"); w.string(u.path)
                w.endObject()
            }
            w.endArray()
            w.endObject()
            StandardStreams.out(w.bytes + [0x0A])
            return .ok
        }

        var out = "state directory: \(dir)\n"
        if rows.isEmpty && cursors.isEmpty { out += "no checkpoint yet\n" }
        var totalLag: Int64 = 0
        for r in rows {
            let lag = r.size.map { max(0, $0 - r.entry.offset) }
            totalLag += lag ?? 0
            out += "\(r.entry.path)\n"
            out += "  input \(r.entry.input), identity \(r.entry.identity), offset \(r.entry.offset)"
            if let size = r.size, let lag { out += ", size \(size), lag \(lag) bytes" }
            if !r.note.isEmpty { out += " (\(r.note))" }
            out += "\n  updated \(Timestamp(epochNanoseconds: r.entry.updated).description)\n"
        }
        for s in spools {
            out += "pipe \(s.path)\n  input \(s.input), spool \(s.status.bytes) bytes not yet done in \(s.status.segments) segment\(s.status.segments == 1 ? "" : "s")"
            if s.status.bytes > 0 { out += ", oldest written \(Int(s.status.oldestAgeSeconds)) s ago or earlier" }
            out += "\n"
        }
        for j in journals {
            out += "journal input \(j.input)\n"
            if let c = j.checkpoint {
                out += "  cursor \(c.cursor)\n  entry time \(Timestamp(epochNanoseconds: c.realtime * 1000).description)"
                if let lag = j.lagSeconds { out += ", lag \(lag) s behind the newest matching entry" }
                out += "\n  updated \(Timestamp(epochNanoseconds: c.updated).description)\n"
            } else {
                out += "  no cursor yet" + (j.newest == nil ? " (no matching entry in the journal)" : "") + "\n"
            }
        }
        for e in empty { out += "input \(e.input) has nothing readable: \(e.reason)\n" }
        for u in unreadable { out += "cannot read \(u.path) (input \(u.input)): permission denied for user \(user)\n" }
        out += "files: \(rows.count), total lag: \(totalLag) bytes, dead-letter records: \(deadLetters) (\(notReplayed) not yet replayed)\n"
        StandardStreams.out(out)
        return .ok
    }

    /// Dead-letter records past each file's replay mark (all of a file never replayed).
    static func notYetReplayed(stateDirectory: String) -> Int {
        let dir = ShipConfiguration.deadLetterDirectory(stateDirectory: stateDirectory)
        var n = 0
        for path in (try? DeadLetter.files(in: dir)) ?? [] {
            guard let st = try? FileSystem.status(path) else { continue }
            let mark = ReplayMark.find(identity: st.identity, in: dir)
            n += (try? DeadLetter.countLines(path, from: mark?.bytes ?? 0)) ?? 0
        }
        return n
    }
}
