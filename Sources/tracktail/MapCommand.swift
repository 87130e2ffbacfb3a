import JSON
import Pipeline
import Posix
import Tail

/// `tracktail map`: what each line becomes, or why it is rejected. Sends nothing.
enum MapCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let args = try TracktailCommand.parse(words, help: Help.map, valued: ["--now"], flags: ["--json"]) else { return .ok }
        if args.positionals.count > 1 { throw CommandFailure("map takes at most one LOGFILE", code: .usage) }
        let config = try Configuration.load(path: args["--config"] ?? Configuration.defaultPath)
        var mapper: Mapper
        do {
            mapper = try Mapper(config.mapping)
        } catch {
            throw CommandFailure("\(config.file): \(error)", code: .config)
        }
        var readTime = SystemClock.wallNanoseconds()
        if let now = args["--now"] {
            let ms: Int64
            do {
                ms = try Timestamp.parse(iso: now).epochMilliseconds
            } catch {
                throw CommandFailure("--now \(now): \(error.reason)", code: .usage)
            }
            let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
            // Found next to the dead-letter reader's overflow (Tests/Fuzz): a year past 2262 trapped.
            guard !overflow else { throw CommandFailure("--now \(now): outside the years 1678 to 2262", code: .usage) }
            readTime = ns
        }
        let input: FileDescriptor
        if let path = args.positionals.first, path != "-" {
            do {
                input = try FileDescriptor.open(path)
            } catch {
                throw CommandFailure("cannot open \(path): \(error)", code: (error as? Errno)?.code == Errno.noEntry ? .noInput : .ioError)
            }
        } else {
            input = .standardInput
        }
        defer { if input != .standardInput { input.close() } }

        let json = args.has("--json")
        var out = OutputBuffer()
        var counts = (lines: 0, events: 0, dropped: 0, rejected: 0, warnings: 0)
        func handle(_ number: Int, _ text: ArraySlice<UInt8>, _ truncated: Bool) {
                counts.lines += 1
                let result: MapResult = truncated
                    ? .rejected(reason: "line longer than max_line_bytes (\(config.limits.maxLineBytes))", rule: nil)
                    : mapper.mapLine(text, readTime: readTime, offset: 0)
                switch result {
                case .event(let event, let rule, let warnings):
                    counts.events += 1
                    counts.warnings += warnings.count
                    if json {
                        var w = JSONWriter(capacity: event.count + 64)
                        w.beginObject()
                        w.key("line"); w.int(Int64(number))
                        w.key("event"); w.raw(event)
                        w.key("rule"); w.string(rule)
                        if !warnings.isEmpty {
                            w.key("warnings"); w.beginArray()
                            for x in warnings { w.string(x) }
                            w.endArray()
                        }
                        w.endObject()
                        out.append(w.bytes)
                        out.append("\n")
                    } else {
                        out.append("line \(number): ")
                        out.append(event)
                        out.append("\n")
                        for x in warnings { out.append("line \(number): warning: \(x)\n") }
                    }
                case .dropped(let rule):
                    counts.dropped += 1
                    let why = rule.map { "rule \"\($0)\"" } ?? "no rule matched"
                    if json {
                        out.append(jsonLine(number, "dropped", why))
                    } else {
                        out.append("line \(number): dropped (\(why))\n")
                    }
                case .rejected(let reason, let rule):
                    counts.rejected += 1
                    let full = rule.map { "rule \"\($0)\": \(reason)" } ?? reason
                    if json {
                        out.append(jsonLine(number, "error", full))
                    } else {
                        out.append("line \(number): rejected: \(full)\n")
                    }
                }
                out.flushIfLarge()
        }
        // The daemon's own line splitter: same BOM, CR and long-line rules as `run`.
        var splitter = LineSplitter(maxLineBytes: config.limits.maxLineBytes)
        var batch = LineBatch(source: SourceID(0))
        var number = 0
        func drain() {
            for line in batch.lines {
                number += 1
                handle(number, batch.text(of: line), line.truncated)
            }
            batch.bytes.removeAll(keepingCapacity: true)
            batch.lines.removeAll(keepingCapacity: true)
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        do {
            while true {
                let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
                if n == 0 { break }
                chunk.withUnsafeBytes { splitter.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &batch) }
                drain()
            }
        } catch {
            out.flush()
            throw CommandFailure("reading input: \(error)", code: .ioError)
        }
        splitter.flush(into: &batch)
        drain()
        out.flush()
        let summary = "\(counts.lines) line\(counts.lines == 1 ? "" : "s"): \(counts.events) event\(counts.events == 1 ? "" : "s"), \(counts.dropped) dropped, \(counts.rejected) rejected\(counts.warnings > 0 ? ", \(counts.warnings) warning\(counts.warnings == 1 ? "" : "s")" : "")\n"
        if json { StandardStreams.err(summary) } else { StandardStreams.out(summary) }
        return counts.rejected > 0 ? .failure : .ok
    }

    /// `{"line":N,"<key>":"<text>"}` and a newline.
    private static func jsonLine(_ number: Int, _ key: String, _ text: String) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("line"); w.int(Int64(number))
        w.key(key); w.string(text)
        w.endObject()
        return w.bytes + [0x0A]
    }
}
