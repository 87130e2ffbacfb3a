import Foundation
import JSON
import Testing
@testable import Pipeline

/// Common logger shapes (`Tests/Fixtures/Loggers`), each with a configuration like the ones an
/// operator would write: every event line must become a payload the Track API accepts
/// (docs/track-api.md), every other line must be dropped, and catalogue events must carry their
/// documented properties.
@Suite struct ExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // PipelineTests
        .deletingLastPathComponent() // Tests
        .appendingPathComponent("Fixtures/Loggers")

    /// Only lines with `event` are events (the fixtures' README); the rest is dropped as unmatched.
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
        #expect(events >= 2 && dropped >= 1, "\(file): \(events) events, \(dropped) dropped")
        #expect(dropped == text.split(separator: "\n").count - events)
    }

    /// The first line of each fixture, as the fixtures' README describes it.
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
            #"{"event_name":"signed_up","user_id":"usr_5120","timestamp":"2024-12-01T00:00:00.123Z","properties":{"plan":"trial"},"context":{"group_id":"org_31"}}"#)
        // Float seconds with µs digits (truncated, not rounded), a numeric user id.
        #expect(try first("zap.ndjson") ==
            #"{"event_name":"subscription_upgraded","user_id":"90210","timestamp":"2024-12-01T00:01:00.987Z","properties":{"from_plan":"starter","to_plan":"business"},"context":{"group_id":"org_8"}}"#)
        // ISO with Z, the id under another name, the user id falling back to the e-mail.
        #expect(try first("bunyan.ndjson") ==
            #"{"event_name":"user_waitlisted","user_id":"noor@example.com","timestamp":"2024-12-01T08:30:15.250Z","properties":{"email":"noor@example.com","id":"wait_0042"},"context":{"group_id":"org_waitlist"}}"#)
        // +02:00 normalized to UTC; `$` copied minus the logger's own keys; the event id.
        let id = EventID.string(sourceKey: 1, offset: 0)
        #expect(try first("logstash.ndjson") ==
            #"{"event_name":"feature_used","user_id":"emp-204","timestamp":"2024-12-01T08:15:30.125Z","properties":{"feature_name":"scheduled_reports","event_id":"\#(id)"},"context":{"group_id":"tenant-5","device_type":"desktop"}}"#)
    }

    /// What one event must look like (docs/track-api.md, "One event"); empty when the event is acceptable.
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
