import Foundation
import JSON
import Testing
@testable import Pipeline

/// The real logger shapes in `../shared/examples`, each with a configuration like the ones an
/// operator would write: every event line must become a payload CONTRACT.md accepts, every
/// other line must be dropped, and catalogue events must carry their documented properties.
@Suite struct ExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/examples")

    /// Only lines with `event` are events (examples/README.md); the rest is dropped as unmatched.
    static let isEvent = ConditionSpec(field: "event", .exists(true))

    static let configs: [String: MappingConfiguration] = [
        "pino.ndjson": MappingConfiguration(rules: [RuleSpec(
            name: "pino", when: [isEvent], eventName: "{event}", userID: "{userId}", timestamp: "{time}",
            properties: [("plan", "{plan}"), ("invitee_email", "{invitee.email}"), ("invitee_role", "{invitee.role}")],
            context: [("group_id", "{accountId}")]
        )]),
        "zap.ndjson": MappingConfiguration(rules: [RuleSpec(
            name: "zap", when: [isEvent], eventName: "{event}", userID: "{user_id}", timestamp: "{ts}", timestampUnit: "s",
            properties: [("feature_name", "{feature}"), ("from_plan", "{from}"), ("to_plan", "{to}")],
            context: [("group_id", "{account}")]
        )], unmatched: .drop),
        "bunyan.ndjson": MappingConfiguration(rules: [
            RuleSpec(name: "errors", when: [ConditionSpec(field: "level", .in([.integer(50), .integer(60)]))], action: .drop),
            RuleSpec(
                name: "bunyan", eventName: "{event}", userID: "{user_id|email}", timestamp: "{time}",
                properties: [("email", "{email}"), ("id", "{waitlist_id}")], context: [("group_id", "{group}")]
            ),
        ]),
        "logstash.ndjson": MappingConfiguration(rules: [RuleSpec(
            name: "logstash", when: [isEvent], eventName: "{event}", userID: "{user_id}", timestamp: "{@timestamp}",
            propertiesFrom: ["$"],
            context: [("group_id", "{account_id}"), ("device_type", "{device}")],
            dropProperties: ["@timestamp", "@version", "message", "logger_name", "thread_name", "level", "level_value",
                             "event", "user_id", "account_id", "device"]
        )], eventIDKey: "event_id"),
    ]

    static let files = ["pino.ndjson", "zap.ndjson", "bunyan.ndjson", "logstash.ndjson"]

    @Test(arguments: files)
    func everyLineMapsOrDrops(_ file: String) throws {
        let text = try String(contentsOf: ExamplesTests.examples.appendingPathComponent(file), encoding: .utf8)
        var mapper = try Mapper(ExamplesTests.configs[file]!)
        #expect(Mapper.ruleWarnings(ExamplesTests.configs[file]!).filter { $0.contains("required") }.isEmpty)
        var events = 0, dropped = 0
        for (n, line) in text.split(separator: "\n").enumerated() {
            let source = try JSONValue(parsing: String(line))
            switch mapper.mapLine(String(line), readTime: 0, sourceKey: 1, offset: Int64(n)) {
            case .event(let json, _, let warnings):
                events += 1
                #expect(source["event"] != nil, "line \(n + 1) is not an event but was mapped")
                #expect(warnings.isEmpty, "line \(n + 1): \(warnings)")
                let event = try JSONValue(parsing: json)
                #expect(ExamplesTests.contractProblems(event).isEmpty, "line \(n + 1): \(ExamplesTests.contractProblems(event))")
                #expect(event["event_name"] == source["event"])
            case .dropped:
                dropped += 1
                #expect(source["event"] == nil, "line \(n + 1) is an event but was dropped")
            case .rejected(let reason, _):
                Issue.record("line \(n + 1) rejected: \(reason)")
            }
        }
        #expect(events > 0)
        #expect(dropped == text.split(separator: "\n").count - events)
    }

    /// Specific payloads the examples' README calls out.
    @Test func notablePayloads() throws {
        func first(_ file: String) throws -> String {
            let text = try String(contentsOf: ExamplesTests.examples.appendingPathComponent(file), encoding: .utf8)
            var mapper = try Mapper(ExamplesTests.configs[file]!)
            guard case .event(let json, _, _) = mapper.mapLine(String(text.split(separator: "\n")[0]), readTime: 0, sourceKey: 1) else {
                return "not an event"
            }
            return String(decoding: json, as: UTF8.self)
        }
        // Epoch milliseconds.
        #expect(try first("pino.ndjson") ==
            #"{"event_name":"signed_up","user_id":"u_1001","timestamp":"2024-10-20T15:51:36.514Z","properties":{"plan":"free"},"context":{"group_id":"acct_77"}}"#)
        // Float seconds with µs digits (truncated), a numeric user id.
        #expect(try first("zap.ndjson") ==
            #"{"event_name":"subscription_upgraded","user_id":"4417","timestamp":"2024-10-20T15:51:36.514Z","properties":{"from_plan":"basic","to_plan":"premium"},"context":{"group_id":"acct_9"}}"#)
        // ISO with Z, the id under another name.
        #expect(try first("bunyan.ndjson") ==
            #"{"event_name":"user_waitlisted","user_id":"lee@example.org","timestamp":"2024-10-20T15:51:36.514Z","properties":{"email":"lee@example.org","id":"wl_553"},"context":{"group_id":"acct_waitlist"}}"#)
        // +02:00 normalized to UTC; `$` copied minus the logger's own keys; the event id.
        let id = EventID.string(sourceKey: 1, offset: 0)
        #expect(try first("logstash.ndjson") ==
            #"{"event_name":"feature_used","user_id":"u-93","timestamp":"2024-10-20T15:51:36.514Z","properties":{"feature_name":"analytics_dashboard","event_id":"\#(id)"},"context":{"group_id":"acct-12","device_type":"mobile"}}"#)
    }

    /// What CONTRACT.md's "One event" table demands; empty when the event is acceptable.
    static func contractProblems(_ event: JSONValue) -> [String] {
        guard case .object(let members) = event else { return ["not an object"] }
        var problems: [String] = []
        let allowed = ["event_name", "user_id", "timestamp", "properties", "context"]
        let keys = members.map(\.key)
        if keys.filter({ allowed.contains($0) }) != keys { problems.append("unexpected keys \(keys)") }
        if Set(keys).count != keys.count { problems.append("duplicate keys") }
        guard case .string(let name) = event["event_name"], !name.isEmpty else { return problems + ["event_name"] }
        guard case .string(let user) = event["user_id"], !user.isEmpty else { return problems + ["user_id"] }
        guard case .string(let ts) = event["timestamp"],
              ts.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil
        else { return problems + ["timestamp"] }
        if let p = event["properties"], case .object = p {} else { problems.append("properties") }
        if let c = event["context"] {
            if case .object(let m) = c, !m.isEmpty {} else { problems.append("context") }
        }
        return problems
    }
}
