import Foundation
import Testing
@testable import Pipeline

/// Mapping throughput on a generated log, printed, never asserted (machines differ; a timing
/// assertion would make the suite flaky). Runs only when asked:
///
/// ```
/// python3 ../shared/bench/gen.py 100000 -o /tmp/m.ndjson
/// TRACKTAIL_MAP_BENCH=/tmp/m.ndjson swift test -c release --filter MappingThroughputTests
/// ```
///
/// The rule has the shape of `../shared/bench/peers/tracktail.toml`. Lines are handed over in
/// batches of 1,000, as the tailer does.
@Suite struct MappingThroughputTests {
    static let file = ProcessInfo.processInfo.environment["TRACKTAIL_MAP_BENCH"]

    @Test(.enabled(if: file != nil))
    func benchRule() throws {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: MappingThroughputTests.file!)))
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
        #expect(events == lines)
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        print("mapping: \(lines) lines in \(seconds) s (best of 5): \(Int(Double(lines) / seconds)) lines/s")
    }
}
