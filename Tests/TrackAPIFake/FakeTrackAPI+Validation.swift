import Foundation

/// The contract checks of `FakeTrackAPI` (see `docs/track-api.md`), pure functions of one request.
///
/// | check | answer when it fails | contract violation |
/// | --- | --- | --- |
/// | `POST /api/track` | 404 / 405 | yes |
/// | `Content-Type: application/json`, `User-Agent: tracktail/…` | (none) | yes |
/// | auth header as configured | 401 | no (tests send wrong tokens on purpose) |
/// | `Content-Encoding` gzip / deflate / identity | 415 for others | no |
/// | a compressed body decodes | 400 | yes |
/// | body is JSON | 400 | yes |
/// | body is an array (a single object is accepted as one event) | 400 | yes |
/// | 1…1,000 events, each an object | 400 | yes |
/// | `event_name`, `user_id` non-empty strings | 400 naming the index | yes |
/// | `timestamp` is `YYYY-MM-DDTHH:MM:SS.sssZ` | 400 naming the index | yes |
/// | `properties`, `context` objects when present | 400 naming the index | yes |
extension FakeTrackAPI {
    package struct BodyCheck {
        /// The top-level objects (also when some are invalid, so that counts stay meaningful).
        package var events: [[String: Any]] = []
        /// Top-level items (equals `events.count` unless some were not objects, or in fast mode where `events` is empty).
        package var eventCount = 0
        /// Integers at the fake's `seqPath` in body order.
        package var seqs: [Int] = []
        /// The first reason to answer 400, with the event index when one event is to blame.
        package var problem: (message: String, index: Int?)?
        package var violations: [String] = []
    }

    package static func checkBody(_ body: [UInt8], head: Head, seqPath: String?, fast: Bool, headersOnly: Bool = false) -> BodyCheck {
        var check = BodyCheck()
        func fail(_ message: String, _ index: Int? = nil) {
            if check.problem == nil { check.problem = (message, index) }
            check.violations.append(index.map { "event \($0): \(message)" } ?? message)
        }

        if head.method != "POST" { check.violations.append("method is \(head.method), not POST") }
        if head.target.split(separator: "?").first.map(String.init) != "/api/track" {
            check.violations.append("path is \(head.target), not /api/track")
        }
        let contentType = head.header("Content-Type")?.lowercased() ?? ""
        if !contentType.hasPrefix("application/json") {
            check.violations.append("Content-Type is \(head.header("Content-Type") ?? "missing"), not application/json")
        }
        if !(head.header("User-Agent") ?? "").hasPrefix("tracktail/") {
            check.violations.append("User-Agent is \(head.header("User-Agent") ?? "missing"), not tracktail/<version>")
        }
        if headersOnly { return check }
        if fast {
            scanBody(body, seqPath: seqPath, into: &check)
        } else {
            parseBody(body, into: &check)
            if let seqPath {
                check.seqs = check.events.compactMap { Event(object: $0, requestIndex: -1, position: -1).int(seqPath) }
            }
        }
        return check
    }

    /// The full check with `JSONSerialization`; fills `events`.
    static func parseBody(_ body: [UInt8], into check: inout BodyCheck) {
        func fail(_ message: String, _ index: Int? = nil) {
            if check.problem == nil { check.problem = (message, index) }
            check.violations.append(index.map { "event \($0): \(message)" } ?? message)
        }

        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            fail("body is not JSON (\(body.count) bytes)")
            return
        }
        let items: [Any]
        if let array = parsed as? [Any] {
            items = array
        } else if let object = parsed as? [String: Any] {
            items = [object]
            check.violations.append("body is a single object; the contract sends a JSON array")
        } else {
            fail("body is not a JSON array of events")
            return
        }
        check.eventCount = items.count
        if items.isEmpty { fail("batch is empty") }
        for (index, item) in items.enumerated() {
            guard let event = item as? [String: Any] else {
                fail("event is not a JSON object", index)
                continue
            }
            check.events.append(event)
            for problem in eventProblems(event) { fail(problem, index) }
        }
    }

    /// What is wrong with one event by the contract's "One event" table (`docs/track-api.md`); empty when nothing is.
    package static func eventProblems(_ event: [String: Any]) -> [String] {
        var problems: [String] = []
        for key in ["event_name", "user_id"] {
            if let value = event[key] as? String, !value.isEmpty { continue }
            problems.append(event[key] == nil ? "\(key) is missing" : "\(key) must be a non-empty string")
        }
        if let timestamp = event["timestamp"] as? String {
            if !isWireTimestamp(timestamp) { problems.append("timestamp \"\(timestamp)\" is not YYYY-MM-DDTHH:MM:SS.sssZ") }
        } else {
            problems.append(event["timestamp"] == nil ? "timestamp is missing" : "timestamp must be a string")
        }
        for key in ["properties", "context"] where event[key] != nil && !(event[key] is [String: Any]) {
            problems.append("\(key) must be an object")
        }
        return problems
    }

    /// `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`, byte by byte.
    package static func isWireTimestamp(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isWireTimestamp($0) }
    }

    package static func isWireTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let pattern: StaticString = "dddd-dd-ddTdd:dd:dd.dddZ"
        guard bytes.count == pattern.utf8CodeUnitCount else { return false }
        let p = pattern.utf8Start
        for k in 0..<bytes.count {
            let b = bytes[k]
            if p[k] == 0x64 { if b < 0x30 || b > 0x39 { return false } } else if b != p[k] { return false }
        }
        return true
    }

    /// Why the request's credentials are not accepted, or nil when they are.
    static func authProblem(_ head: Head, _ auth: Auth) -> String? {
        switch auth {
        case .none:
            return nil
        case let .bearer(token):
            guard let value = head.header("Authorization") else { return "missing Authorization header" }
            return value == "Bearer \(token)" ? nil : "invalid bearer token"
        case let .apiKey(header, token):
            guard let value = head.header(header) else { return "missing \(header) header" }
            return value == token ? nil : "invalid api key"
        }
    }
}
