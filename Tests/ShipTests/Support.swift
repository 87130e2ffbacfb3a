import Foundation
import Pipeline
import Runtime
import Synchronization
@testable import Ship

/// Test time: monotonic time is real time plus an offset the test can add to; wall time starts
/// at a fixed instant (2026-11-24T19:00:00Z) and moves with it. `sleep` only moves the offset.
final class TestClock: Clock, Sendable {
    private let offset = Atomic<Int64>(0)
    private let origin = DispatchTime.now().uptimeNanoseconds
    static let wallOrigin: Int64 = 1_795_546_800 * 1_000_000_000

    func now() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds - origin) + offset.load(ordering: .relaxed) + 1_000_000_000 }
    func wallNow() -> Int64 { Self.wallOrigin + now() }
    func sleep(nanoseconds: Int64) { advance(nanoseconds) }
    func advance(_ ns: Int64) { offset.add(ns, ordering: .relaxed) }
}

/// A generator that always returns the same word: 0 gives no wait, `.max` the full ceiling.
struct FixedRandom: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

/// A Track API that answers with a scripted function of the request's events, and records
/// every request.
final class FakeTransport: TrackTransport, @unchecked Sendable {
    typealias Script = @Sendable (_ requestNumber: Int, _ events: [String]) -> Result<TrackResponse, TransportFailure>
    private let lock = NSLock()
    private var script: Script
    private(set) var bodies: [[UInt8]] = []

    init(_ script: @escaping Script) { self.script = script }

    func setScript(_ s: @escaping Script) { lock.withLock { script = s } }

    var requests: [[String]] { lock.withLock { bodies.map(Self.events(of:)) } }
    var requestCount: Int { lock.withLock { bodies.count } }

    func post(_ body: [UInt8]) throws(TransportFailure) -> TrackResponse {
        let (n, s) = lock.withLock { () -> (Int, Script) in
            bodies.append(body)
            return (bodies.count, script)
        }
        return try s(n, Self.events(of: body)).get()
    }

    /// The events of a body, as their JSON texts (the test events hold no commas or brackets).
    static func events(of body: [UInt8]) -> [String] {
        let text = String(decoding: body, as: UTF8.self)
        precondition(text.hasPrefix("[") && text.hasSuffix("]"), "body is not an array: \(text)")
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var out: [String] = []
        var depth = 0
        var cur = ""
        for c in inner {
            if c == "{" { depth += 1 }
            if c == "}" { depth -= 1 }
            if c == "," && depth == 0 { out.append(cur); cur = "" } else { cur.append(c) }
        }
        out.append(cur)
        return out
    }
}

/// Collects acknowledgements.
final class AckRecorder: Sendable {
    private let ranges = Mutex<[SourceID: [(Int64, Int64)]]>([:])

    var callback: @Sendable (SourceID, Int64, Int64) -> Void {
        { [self] s, a, b in ranges.withLock { $0[s, default: []].append((a, b)) } }
    }

    var count: Int { ranges.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Sorted ranges per source; nil when two ranges overlap (a line acknowledged twice).
    func coverage(_ source: SourceID) -> [(Int64, Int64)]? {
        let rs = ranges.withLock { $0[source] ?? [] }.sorted { $0.0 < $1.0 }
        var merged: [(Int64, Int64)] = []
        for r in rs {
            if let last = merged.last {
                if r.0 < last.1 { return nil }
                if r.0 == last.1 { merged[merged.count - 1].1 = r.1; continue }
            }
            merged.append(r)
        }
        return merged
    }

    /// True when every line range of the source is acknowledged exactly once and nothing else.
    func coversExactly(_ source: SourceID, _ lines: [(Int64, Int64)]) -> Bool {
        guard let c = coverage(source) else { return false }
        var expected: [(Int64, Int64)] = []
        for r in lines.sorted(by: { $0.0 < $1.0 }) {
            if let last = expected.last, last.1 == r.0 { expected[expected.count - 1].1 = r.1 } else { expected.append(r) }
        }
        return c.count == expected.count && zip(c, expected).allSatisfy { $0 == $1 }
    }

    func contains(_ source: SourceID, _ start: Int64) -> Bool {
        ranges.withLock { ($0[source] ?? []).contains { $0.0 <= start && start < $0.1 } }
    }
}

/// A mapped batch of events `{"n":i}` (i in `range`), each from a 10-byte line at offset i·10.
func mappedBatch(_ source: SourceID = SourceID(1), _ range: Range<Int>, padding: Int = 0) -> MappedBatch {
    var b = MappedBatch(source: source)
    for i in range {
        let s = b.eventBytes.count
        b.eventBytes.append(contentsOf: #"{"n":\#(i)\#(padding > 0 ? ",\"p\":\"" + String(repeating: "x", count: padding) + "\"" : "")}"#.utf8)
        b.events.append(EventRecord(byteStart: s, byteEnd: b.eventBytes.count, start: Int64(i) * 10, end: Int64(i) * 10 + 10))
    }
    return b
}

func lines(_ range: Range<Int>) -> [(Int64, Int64)] { range.map { (Int64($0) * 10, Int64($0) * 10 + 10) } }

/// A fresh directory under the system temp directory.
func temporaryDirectory() -> String {
    let p = NSTemporaryDirectory() + "shiptests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// Polls `condition` until it holds or 10 s pass (a safety net, not a timing assertion).
func eventually(_ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(10)
    while Date() < end {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}
