import Foundation
import HTTP
import Testing

@Suite struct GzipTests {
    @Test(arguments: [0, 1, 1_000, 1_000_000])
    func roundTrip(size: Int) throws {
        var input: [UInt8] = []
        for i in 0..<size { input.append(UInt8(truncatingIfNeeded: (i * 7) % 61 + 32)) }
        let packed = try Gzip.compress(input)
        #expect(packed.starts(with: [0x1F, 0x8B]), "a gzip member")
        #expect(try Gzip.decompress(packed) == input)
        if size >= 1_000 { #expect(packed.count < input.count / 2) }
        // Kept at its own size, not at the worst-case bound (about the input's size), while it
        // waits for the answer.
        #expect(packed.capacity < packed.count + 4_096)
    }

    /// What we write is what the system's gzip reads.
    @Test func systemGunzipReadsIt() throws {
        let text = Array(String(repeating: #"{"event_name":"feature_used","user_id":"u_1"}"#, count: 100).utf8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("body.gz")
        try Data(try Gzip.compress(text, level: 6)).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc", file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(Array(data) == text)
    }

    @Test func corruptInputIsAnError() {
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress([0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02]) }
    }
}
