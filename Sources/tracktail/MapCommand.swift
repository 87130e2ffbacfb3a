import JSON
import Pipeline
import Posix

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
            do {
                readTime = try Timestamp.parse(iso: now).epochMilliseconds * 1_000_000
            } catch {
                throw CommandFailure("--now \(now): \(error.reason)", code: .usage)
            }
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
        let reader = LineReader(maxLineBytes: config.limits.maxLineBytes)
        do {
            try reader.forEachLine(from: input) { number, text, truncated in
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
                        var w = JSONWriter()
                        w.beginObject(); w.key("line"); w.int(Int64(number)); w.key("dropped"); w.string(why); w.endObject()
                        out.append(w.bytes)
                        out.append("\n")
                    } else {
                        out.append("line \(number): dropped (\(why))\n")
                    }
                case .rejected(let reason, let rule):
                    counts.rejected += 1
                    let full = rule.map { "rule \"\($0)\": \(reason)" } ?? reason
                    if json {
                        var w = JSONWriter()
                        w.beginObject(); w.key("line"); w.int(Int64(number)); w.key("error"); w.string(full); w.endObject()
                        out.append(w.bytes)
                        out.append("\n")
                    } else {
                        out.append("line \(number): rejected: \(full)\n")
                    }
                }
                out.flushIfLarge()
            }
        } catch {
            out.flush()
            throw CommandFailure("reading input: \(error)", code: .ioError)
        }
        out.flush()
        let summary = "\(counts.lines) line\(counts.lines == 1 ? "" : "s"): \(counts.events) event\(counts.events == 1 ? "" : "s"), \(counts.dropped) dropped, \(counts.rejected) rejected\(counts.warnings > 0 ? ", \(counts.warnings) warning\(counts.warnings == 1 ? "" : "s")" : "")\n"
        if json { StandardStreams.err(summary) } else { StandardStreams.out(summary) }
        return counts.rejected > 0 ? .failure : .ok
    }
}

/// Buffered standard output: one `write(2)` per 64 KiB, not per line.
struct OutputBuffer {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(1 << 16) }
    mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func flushIfLarge() { if bytes.count >= 1 << 16 { flush() } }
    mutating func flush() {
        StandardStreams.out(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Splits a descriptor's bytes into lines for the one-shot commands (`map`, `replay`): strips
/// `\r` and a leading BOM, and cuts lines longer than `maxLineBytes` to their head without
/// holding the rest. (The daemon's reader is `Tail.LineSplitter`, which also tracks offsets.)
struct LineReader {
    let maxLineBytes: Int
    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    func forEachLine(from fd: FileDescriptor, _ body: (_ number: Int, _ text: ArraySlice<UInt8>, _ truncated: Bool) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        var skipping = false
        var number = 0
        var first = true
        func emit(_ line: ArraySlice<UInt8>, truncated: Bool) throws {
            number += 1
            var text = line
            if first {
                first = false
                if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
            }
            if text.last == 0x0D { text = text.dropLast() }
            try body(number, text, truncated)
        }
        while true {
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { break }
            var start = 0
            while start < n {
                guard let nl = chunk[start..<n].firstIndex(of: 0x0A) else {
                    if !skipping { pending.append(contentsOf: chunk[start..<n]) }
                    if !skipping && pending.count > maxLineBytes {
                        try emit(pending[0..<min(pending.count, 1024)], truncated: true)
                        pending.removeAll(keepingCapacity: true)
                        skipping = true
                    }
                    break
                }
                if skipping {
                    skipping = false
                } else if pending.isEmpty {
                    try emit(chunk[start..<nl], truncated: nl - start > maxLineBytes)
                } else {
                    pending.append(contentsOf: chunk[start..<nl])
                    try emit(pending[...], truncated: pending.count > maxLineBytes)
                    pending.removeAll(keepingCapacity: true)
                }
                start = nl + 1
            }
        }
        if !pending.isEmpty && !skipping { try emit(pending[...], truncated: false) }
    }
}
