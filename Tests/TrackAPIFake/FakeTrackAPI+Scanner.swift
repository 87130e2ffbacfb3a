/// The fast path of `FakeTrackAPI` for volume tests (`fastChecks: true`): a strict byte-level JSON
/// walker that checks the same event rules as `checkBody` and pulls out the `seqPath` integers,
/// but builds no Foundation objects (`JSONSerialization` limits the fake to ~50k events/s).
extension FakeTrackAPI {
    struct Scanner {
        /// Unsafe so that debug builds (where `swift test` runs) are not slowed by array bounds-check calls.
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0
        let seqPath: [[UInt8]]
        /// Keys from the event object down to the current value.
        var path: [Slice<UnsafeBufferPointer<UInt8>>] = []
        var seqs: [Int] = []
        var count = 0
        /// Required fields seen as non-empty strings in the current event (bit 0 event_name, 1 user_id, 2 timestamp).
        var seen = 0
        var eventProblem: String?

        struct Failure: Error { let message: String }

        init(_ bytes: UnsafeBufferPointer<UInt8>, seqPath: String?) {
            self.bytes = bytes
            self.seqPath = seqPath.map { $0.split(separator: ".").map { Array($0.utf8) } } ?? []
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        func fail(_ what: String) -> Failure { Failure(message: "body is not JSON (\(what) at byte \(i))") }

        mutating func expect(_ byte: UInt8) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
            i += 1
        }

        /// A string's content range (escapes left in place; fine for the comparisons made here).
        mutating func string() throws -> Slice<UnsafeBufferPointer<UInt8>> {
            try expect(0x22)
            let start = i
            while i < bytes.count {
                switch bytes[i] {
                case 0x22: i += 1; return bytes[start..<(i - 1)]
                case 0x5C: i += 2
                case 0..<0x20: throw fail("control character in string")
                default: i += 1
                }
            }
            throw fail("unterminated string")
        }

        /// Walks one value. `depth` 0 is an array element of the body, i.e. an event.
        mutating func value(depth: Int) throws {
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case 0x7B:  // {
                i += 1
                skipSpace()
                if i < bytes.count, bytes[i] == 0x7D { i += 1; return }
                while true {
                    let key = try string()
                    try expect(0x3A)
                    path.append(key)
                    skipSpace()
                    if depth == 0 { try eventField(key) } else { try value(depth: depth + 1) }
                    path.removeLast()
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x7D { i += 1; return }
                    throw fail("expected ',' or '}'")
                }
            case 0x5B:  // [
                i += 1
                skipSpace()
                if i < bytes.count, bytes[i] == 0x5D { i += 1; return }
                while true {
                    try value(depth: depth + 1)
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated array") }
                    if bytes[i] == 0x2C { i += 1; continue }
                    if bytes[i] == 0x5D { i += 1; return }
                    throw fail("expected ',' or ']'")
                }
            case 0x22:
                let text = try string()
                if isSeqPath, let n = Int(String(decoding: text, as: UTF8.self)) { seqs.append(n) }
            case 0x2D, 0x30...0x39:
                let start = i
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) || bytes[i] == 0x2D || bytes[i] == 0x2B
                    || bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45 { i += 1 }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                if isSeqPath {
                    if let n = Int(text) { seqs.append(n) } else if let d = Double(text), d == d.rounded(), abs(d) < 9e15 { seqs.append(Int(d)) }
                }
            default:
                for literal in ["true", "false", "null"] where bytes[i...].starts(with: literal.utf8) {
                    i += literal.utf8.count
                    return
                }
                throw fail("unexpected character")
            }
        }

        var isSeqPath: Bool {
            guard !seqPath.isEmpty && path.count == seqPath.count else { return false }
            for k in 0..<path.count {
                let key = path[k], wanted = seqPath[k]
                guard key.count == wanted.count else { return false }
                var j = key.startIndex
                for w in wanted {
                    if bytes[j] != w { return false }
                    j += 1
                }
            }
            return true
        }

        /// A top-level field of an event: the contract's required fields are checked here.
        mutating func eventField(_ key: Slice<UnsafeBufferPointer<UInt8>>) throws {
            let name = String(decoding: key, as: UTF8.self)
            switch name {
            case "event_name", "user_id", "timestamp":
                let bit = name == "event_name" ? 1 : name == "user_id" ? 2 : 4
                guard i < bytes.count, bytes[i] == 0x22 else {
                    note("\(name) must be a\(bit == 4 ? " string" : " non-empty string")")
                    return try value(depth: 1)
                }
                let text = try string()
                if bit == 4 && !FakeTrackAPI.isWireTimestamp(UnsafeBufferPointer(rebasing: text)) {
                    note("timestamp \"\(String(decoding: text, as: UTF8.self))\" is not YYYY-MM-DDTHH:MM:SS.sssZ")
                } else if text.isEmpty {
                    note("\(name) must be a non-empty string")
                }
                seen |= bit
                if isSeqPath, let n = Int(String(decoding: text, as: UTF8.self)) { seqs.append(n) }
            case "properties", "context":
                if i < bytes.count, bytes[i] != 0x7B { note("\(name) must be an object") }
                try value(depth: 1)
            default:
                try value(depth: 1)
            }
        }

        mutating func note(_ problem: String) { if eventProblem == nil { eventProblem = problem } }
    }

    /// `checkBody`'s rules without building objects: `events` stays empty, `eventCount` and `seqs` are filled.
    static func scanBody(_ body: [UInt8], seqPath: String?, into check: inout BodyCheck) {
        body.withUnsafeBufferPointer { scanBody($0, seqPath: seqPath, into: &check) }
    }

    private static func scanBody(_ body: UnsafeBufferPointer<UInt8>, seqPath: String?, into check: inout BodyCheck) {
        func fail(_ message: String, _ index: Int? = nil) {
            if check.problem == nil { check.problem = (message, index) }
            check.violations.append(index.map { "event \($0): \(message)" } ?? message)
        }
        var scanner = Scanner(body, seqPath: seqPath)
        do {
            scanner.skipSpace()
            let single = scanner.i < body.count && body[scanner.i] == 0x7B
            if !single { try scanner.expect(0x5B) }
            scanner.skipSpace()
            if !single && scanner.i < body.count && body[scanner.i] == 0x5D {
                scanner.i += 1
                fail("batch is empty")
            } else {
                while true {
                    scanner.skipSpace()
                    let index = scanner.count
                    guard scanner.i < body.count, body[scanner.i] == 0x7B else {
                        if scanner.i < body.count, body[scanner.i] == 0x5B || body[scanner.i] == 0x22 || body[scanner.i] == 0x2D
                            || (0x30...0x39).contains(body[scanner.i]) || body[scanner.i] == 0x74 || body[scanner.i] == 0x66
                            || body[scanner.i] == 0x6E {
                            try scanner.value(depth: 1)
                            fail("event is not a JSON object", index)
                            scanner.count += 1
                        } else {
                            throw scanner.fail("expected a value")
                        }
                        if single { break }
                        scanner.skipSpace()
                        if scanner.i < body.count, body[scanner.i] == 0x2C { scanner.i += 1; continue }
                        try scanner.expect(0x5D)
                        break
                    }
                    scanner.seen = 0
                    scanner.eventProblem = nil
                    try scanner.value(depth: 0)
                    scanner.count += 1
                    for (bit, key) in [(1, "event_name"), (2, "user_id"), (4, "timestamp")] where scanner.seen & bit == 0 {
                        scanner.note("\(key) is missing")
                    }
                    if let problem = scanner.eventProblem { fail(problem, index) }
                    if single { break }
                    scanner.skipSpace()
                    if scanner.i < body.count, body[scanner.i] == 0x2C { scanner.i += 1; continue }
                    try scanner.expect(0x5D)
                    break
                }
            }
            scanner.skipSpace()
            if scanner.i != body.count { throw scanner.fail("trailing bytes") }
            if single { check.violations.append("body is a single object; the contract sends a JSON array") }
        } catch let failure as Scanner.Failure {
            fail(failure.message)
        } catch {
            fail("\(error)")
        }
        check.eventCount = scanner.count
        check.seqs = scanner.seqs
    }
}
