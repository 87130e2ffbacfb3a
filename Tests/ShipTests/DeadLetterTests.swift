import Foundation
import Testing
@testable import Ship

@Suite struct DeadLetterTests {
    static let records: [DeadLetterRecord] = [
        DeadLetterRecord(time: 1_795_546_800_123_000_000, reason: "line 3: missing user_id", source: "/var/log/app.log",
                         start: 20, end: 41, line: #"{"msg":"a \"quoted\" line\twith tab","x":[1,2]}"#),
        DeadLetterRecord(time: 1_795_546_800_124_000_000, reason: "HTTP 400: event rejected by the Track API", status: 400,
                         response: "{\"error\":\"bad\"}\nsecond line \u{1}", source: "/var/log/ümlaut.log", start: 41, end: 60,
                         event: Array(#"{"event_name":"x","user_id":"u","properties":{"a":[1,{"b":"}"}]}}"#.utf8)),
        DeadLetterRecord(time: 0, reason: "event of 3000000 bytes exceeds the batch limit of 2000000", source: "s",
                         start: 0, end: 1, event: Array("{}".utf8)),
    ]

    @Test func roundTrip() throws {
        let dir = temporaryDirectory() + "/dead-letter"
        let dl = DeadLetter(directory: dir)
        try dl.write(Array(Self.records.prefix(2)))
        try dl.write([Self.records[2]])
        let read = try DeadLetterFile.read(dir + "/dead-letter.ndjson")
        #expect(read == Self.records)
        // Each record is one line of JSON Foundation can parse too.
        let text = try String(contentsOfFile: dir + "/dead-letter.ndjson", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        for l in lines {
            let o = try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any]
            #expect(o?["reason"] is String && o?["start"] is Int && o?["time"] is String)
        }
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        #expect(second["status"] as? Int == 400)
        #expect((second["event"] as? [String: Any])?["event_name"] as? String == "x")
        #expect(second["time"] as? String == "2026-11-24T19:00:00.124Z")
        #expect(try DeadLetter.count(stateDirectory: (dir as NSString).deletingLastPathComponent) == 3)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/dead-letter.ndjson")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }

    @Test func countWithoutDirectoryIsZero() throws {
        #expect(try DeadLetter.count(stateDirectory: temporaryDirectory()) == 0)
    }

    @Test func rotatesAndKeepsWithinTheCap() throws {
        let state = temporaryDirectory()
        let dir = ShipConfiguration.deadLetterDirectory(stateDirectory: state)
        let dl = DeadLetter(directory: dir, capBytes: 8_192)  // segments of 2 KiB
        let record = DeadLetterRecord(time: 0, reason: String(repeating: "r", count: 150), source: "s", start: 0, end: 1)
        var one: [UInt8] = []
        record.serialized(into: &one)
        for i in 0..<200 {
            var r = record
            r.start = Int64(i)
            r.end = Int64(i + 1)
            try dl.write([r])
        }
        let files = try DeadLetter.files(in: dir)
        #expect(files.map { ($0 as NSString).lastPathComponent } ==
            ["dead-letter.3.ndjson", "dead-letter.2.ndjson", "dead-letter.1.ndjson", "dead-letter.ndjson"])
        var total = 0
        var starts: [Int64] = []
        for f in files {
            let size = try FileManager.default.attributesOfItem(atPath: f)[.size] as! Int
            #expect(size <= 2_048)
            total += size
            starts += try DeadLetterFile.read(f).map(\.start)
        }
        #expect(total <= 8_192)
        // The newest records are kept, oldest first, with no gaps.
        #expect(starts.last == 199)
        #expect(starts == Array(starts.first!...199))
        #expect(try DeadLetter.count(stateDirectory: state) == starts.count)
    }

    @Test(arguments: [
        ("{\"reason\":\"r\",\"source\":\"s\",\"start\":1}", "missing end"),
        ("{\"reason\":3,\"source\":\"s\",\"start\":1,\"end\":2}", "reason: expected a string"),
        ("not json", "byte 0: "),
        ("[1,2]", "not a JSON object"),
        ("{\"time\":\"yesterday\",\"reason\":\"r\",\"source\":\"s\",\"start\":1,\"end\":2}", "time:"),
        // Found by Tests/Fuzz (dead-letter): a well-formed time past 2262 overflowed Int64
        // nanoseconds and trapped the reader (and `replay`) instead of naming the line.
        ("{\"time\":\"7250-10-20T15:50:36.514Z\",\"reason\":\"r\",\"source\":\"s\",\"start\":1,\"end\":2}", "time:"),
        ("{\"time\":\"1000-01-01T00:00:00.000Z\",\"reason\":\"r\",\"source\":\"s\",\"start\":1,\"end\":2}", "time:"),
    ])
    func readerSaysWhereAndWhy(line: String, message: String) {
        let text = "{\"reason\":\"ok\",\"source\":\"s\",\"start\":0,\"end\":1,\"extra\":true}\n\n" + line + "\n"
        #expect {
            _ = try DeadLetterFile.parse(Array(text.utf8), path: "dl.ndjson")
        } throws: { error in
            let e = error as? DeadLetterFile.ReadError
            return e?.line == 3 && e?.description.hasPrefix("dl.ndjson:3: ") == true && e?.message.contains(message) == true
        }
    }

    @Test func unwritableDirectoryThrows() {
        let dl = DeadLetter(directory: "/proc/self/no-such/dead-letter")
        #expect(throws: (any Error).self) { try dl.write([Self.records[0]]) }
    }
}
