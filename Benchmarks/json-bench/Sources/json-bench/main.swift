// Measures JSONDocument parse throughput on an NDJSON file, on one core, in thread CPU time (so other
// load on the machine does not count), best of five passes.
//
//   python3 ../harness/lines.py 100000 -o /tmp/lines.ndjson      (from Benchmarks/json-bench)
//   swift run -c release json-bench /tmp/lines.ndjson [max-lines] [parse|parse+write|parse+lookup]
import Foundation
import JSON

func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count > 1, let data = FileManager.default.contents(atPath: arguments[1]) else {
    print("usage: json-bench FILE.ndjson [max-lines] [parse|parse+write|parse+lookup]")
    exit(64)
}
let limit = arguments.count > 2 ? Int(arguments[2]) ?? Int.max : Int.max
let modes = arguments.count > 3 ? [arguments[3]] : ["parse", "parse+write", "parse+lookup"]
let bytes = [UInt8](data)
var lines: [Range<Int>] = []
var lineStart = 0
for (i, c) in bytes.enumerated() where c == 0x0A && lines.count < limit {
    lines.append(lineStart..<i)
    lineStart = i + 1
}
let totalBytes = lines.reduce(0) { $0 + $1.count }
print("\(lines.count) lines, \(totalBytes) bytes, \(totalBytes / max(1, lines.count)) bytes/line")

var doc = JSONDocument()
var writer = JSONWriter(capacity: 4096)
var sink = 0
let userID = try JSONPath("user.id")
bytes.withUnsafeBytes { all in
    for mode in modes {
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = cpuSeconds()
            for r in lines {
                do {
                    try doc.parse(UnsafeRawBufferPointer(rebasing: all[r]))
                } catch {
                    print("line rejected: \(error)")
                    exit(1)
                }
                switch mode {
                case "parse+write":
                    writer.reset()
                    doc.write(doc.root, to: &writer)
                    sink &+= writer.bytes.count
                case "parse+lookup":
                    if let id = doc.lookup(userID) { sink &+= doc.rawBytes(id).count }
                    if let event = doc.member(doc.root, "event"), doc.stringEquals(event, "feature_used") { sink &+= 1 }
                default:
                    break
                }
            }
            best = min(best, cpuSeconds() - t0)
        }
        let linesPerSecond = Double(lines.count) / best
        let megabytesPerSecond = Double(totalBytes) / best / 1e6
        print("\(mode): \(Int(linesPerSecond)) lines/s, \(Int(megabytesPerSecond)) MB/s")
    }
}
print("checksum \(sink)")
