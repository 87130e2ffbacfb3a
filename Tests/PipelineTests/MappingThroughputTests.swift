import Foundation
import Testing
@testable import Pipeline

/// Mapping throughput, printed, never asserted (machines differ; a timing assertion would make the
/// suite flaky); what is asserted is that every line becomes an event. By default it maps 5,000
/// lines it generates itself (~390 bytes each, the benchmark's shape). For a real measurement, name
/// any NDJSON file of that shape (e.g. one made by the benchmark's line generator in `Benchmarks/`)
/// and build in release mode:
///
/// ```
/// python3 Benchmarks/harness/lines.py 100000 -o /tmp/m.ndjson
/// TRACKTAIL_MAP_BENCH=/tmp/m.ndjson swift test -c release --filter MappingThroughputTests
/// ```
///
/// The rule reads `event`, `ts`, `user.id`, `user.email`, `account`, `device` and copies `props`.
/// Lines are handed over in batches of 1,000, as the tailer does.
@Suite struct MappingThroughputTests {
    static let file = ProcessInfo.processInfo.environment["TRACKTAIL_MAP_BENCH"]

    /// `count` lines of the benchmark's shape, varied by line number.
    static func generatedLog(count: Int) -> [UInt8] {
        let features = ["export", "search", "share", "dashboard", "import"]
        var text = ""
        text.reserveCapacity(count * 400)
        for i in 0..<count {
            let millisecond = 1_733_011_200_000 + i * 7
            text += #"{"ts":\#(millisecond),"level":"info","logger":"app.events","event":"feature_used","#
            text += #""user":{"id":"u_\#(i % 5_000)","email":"user\#(i % 5_000)@example.com","plan":"pro"},"#
            text += #""account":"acct_\#(i % 97)","device":"desktop","session":"s_\#(i / 20)","#
            text += #""props":{"feature_name":"\#(features[i % features.count])","seq":\#(i),"duration_ms":\#(i % 1_000),"#
            text += #""source":"web","tags":["a","b"]},"msg":"user used a feature","host":"app-01","pid":4242}"#
            text += "\n"
        }
        return Array(text.utf8)
    }

    @Test func benchRule() throws {
        let data = try MappingThroughputTests.file.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
            ?? MappingThroughputTests.generatedLog(count: 5_000)
        var batches: [LineBatch] = []
        var batch = LineBatch(source: SourceID(0), readTime: 1_729_439_496_514_000_000)
        var lineStart = 0
        for i in data.indices where data[i] == UInt8(ascii: "\n") {
            let start = batch.bytes.count
            batch.bytes.append(contentsOf: data[lineStart..<i])
            batch.lines.append(LineRecord(textStart: start, textEnd: batch.bytes.count, start: Int64(lineStart), end: Int64(i + 1)))
            lineStart = i + 1
            if batch.lines.count == 1000 {
                batches.append(batch)
                batch = LineBatch(source: SourceID(0), readTime: batch.readTime)
            }
        }
        if !batch.lines.isEmpty { batches.append(batch) }
        let lines = batches.reduce(0) { $0 + $1.lines.count }

        var mapper = try Mapper(MappingConfiguration(rules: [RuleSpec(
            name: "app-events", eventName: "{event}", userID: "{user.id}", timestamp: "{ts}",
            propertiesFrom: ["props"], properties: [("email", "{user.email}")],
            context: [("group_id", "{account}"), ("device_type", "{device}")]
        )]))
        var out = MappedBatch(source: SourceID(0))
        var best = Duration.seconds(1_000)
        var events = 0
        for _ in 0..<5 {
            events = 0
            let elapsed = ContinuousClock().measure {
                for b in batches {
                    out.eventBytes.removeAll(keepingCapacity: true)
                    out.events.removeAll(keepingCapacity: true)
                    out.others.removeAll(keepingCapacity: true)
                    mapper.map(b, sourceKey: 1, into: &out)
                    events += out.events.count
                }
            }
            best = min(best, elapsed)
        }
        #expect(lines > 0 && events == lines, "\(events) events from \(lines) lines")
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        print("mapping: \(lines) lines in \(seconds) s (best of 5): \(Int(Double(lines) / seconds)) lines/s")
    }
}
