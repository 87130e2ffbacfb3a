import Foundation
import HTTP
import Posix
import Testing

/// Resident set size of this process in KiB, from `/proc/self/status`.
func residentKiB() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
    return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
}

@Suite(.serialized) struct MemoryTests {
    /// Many keep-alive requests must not grow memory: buffers are per connection and reused.
    /// Prints requests/s and RSS for the report; asserts only on a generous RSS bound.
    @Test(arguments: [false, true])
    func keepAliveLoopHasFlatMemory(tls: Bool) async throws {
        let pki = tls ? try TestPKI() : nil
        defer { pki?.remove() }
        let sink = try Sink(pki?.sinkArguments("good") ?? [])
        defer { sink.stop() }
        var configuration = HTTPClientConfiguration(url: try HTTPURL("\(tls ? "https" : "http")://127.0.0.1:\(sink.port)"),
                                                    caFile: pki?.caFile)
        configuration.requestTimeout = 10
        let client = try HTTPClient(configuration)
        defer { client.close() }
        let body = Array(("[" + (0..<10).map { "{\"event_name\":\"e\",\"user_id\":\"u\",\"properties\":{\"seq\":\($0)}}" }
            .joined(separator: ",") + "]").utf8)
        let request = HTTPRequest(path: "/api/track", headers: ["Content-Type": "application/json", "Authorization": "Bearer t"], body: body)
        let warmUp = 2_000, count = 20_000
        let (before, after, seconds, cpu, failures) = try await onThread { () throws -> (Int, Int, Double, Int64, Int) in
            var failures = 0
            for _ in 0..<warmUp where try client.send(request).status != 200 { failures += 1 }
            let before = try residentKiB()
            let start = Date()
            let cpuStart = SystemClock.processCPUNanoseconds()
            for _ in 0..<count where try client.send(request).status != 200 { failures += 1 }
            let cpu = SystemClock.processCPUNanoseconds() - cpuStart
            return (before, try residentKiB(), Date().timeIntervalSince(start), cpu, failures)
        }
        print("HTTP memory (\(tls ? "https" : "http"), \(body.count)-byte body): \(count) keep-alive requests in "
            + "\(String(format: "%.2f", seconds)) s = \(Int(Double(count) / seconds)) req/s, client CPU \(cpu / 1000 / Int64(count)) µs/request; "
            + "RSS \(before) KiB -> \(after) KiB")
        #expect(failures == 0)
        #expect(after - before < 8_192, "RSS grew from \(before) KiB to \(after) KiB")
    }
}
