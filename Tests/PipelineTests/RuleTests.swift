import JSON
import Testing
@testable import Pipeline

@Suite struct ConditionTests {
    static let line = #"{"level":"info","n":30,"f":0.1,"ok":true,"nul":null,"msg":"GET /api/x","user":{"id":"u1"},"big":12345678901234567891}"#

    static let cases: [(String, ConditionSpec.Operator, Bool)] = [
        ("level", .equals(.string("info")), true),
        ("level", .equals(.string("warn")), false),
        ("n", .equals(.integer(30)), true),
        ("n", .equals(.number("30.0")), true),
        ("n", .equals(.number("3e1")), true),
        ("n", .equals(.number("300e-1")), true),
        ("n", .equals(.integer(31)), false),
        ("n", .equals(.integer(-30)), false),
        ("n", .equals(.string("30")), false),          // type-strict
        ("level", .equals(.integer(30)), false),
        ("f", .equals(.float(0.1)), true),
        ("big", .equals(.number("12345678901234567891")), true),
        ("big", .equals(.number("12345678901234567890")), false),
        ("ok", .equals(.bool(true)), true),
        ("ok", .equals(.bool(false)), false),
        ("user.id", .equals(.string("u1")), true),
        ("missing", .equals(.string("x")), false),
        ("level", .notEquals(.string("debug")), true),
        ("level", .notEquals(.string("info")), false),
        ("missing", .notEquals(.string("info")), true),  // no value: not equal
        ("nul", .notEquals(.string("info")), true),
        ("level", .in([.string("info"), .string("warn")]), true),
        ("level", .in([.string("error"), .string("warn")]), false),
        ("n", .in([.integer(20), .integer(30)]), true),
        ("missing", .in([.string("info")]), false),
        ("level", .notIn([.string("debug"), .string("trace")]), true),
        ("level", .notIn([.string("info"), .string("trace")]), false),
        ("missing", .notIn([.string("info")]), true),
        ("level", .exists(true), true),
        ("level", .exists(false), false),
        ("missing", .exists(true), false),
        ("missing", .exists(false), true),
        ("nul", .exists(true), false),                  // null counts as no value
        ("nul", .exists(false), true),
        ("user", .exists(true), true),
        ("msg", .prefix("GET "), true),
        ("msg", .prefix("POST "), false),
        ("n", .prefix("3"), false),                     // only strings have prefixes
        ("missing", .prefix(""), false),
    ]

    @Test(arguments: cases)
    func holds(_ field: String, _ op: ConditionSpec.Operator, _ expected: Bool) throws {
        var doc = JSONDocument()
        try doc.parse(ConditionTests.line)
        let c = try CompiledCondition(ConditionSpec(field: field, op))
        #expect(c.holds(in: doc) == expected)
    }
}

@Suite struct RuleTests {
    /// noise (drop debug) → waitlist (event = user_waitlisted) → catch-all for lines with an event.
    static func config(_ unmatched: UnmatchedPolicy) -> MappingConfiguration {
        MappingConfiguration(rules: [
            RuleSpec(name: "noise", when: [ConditionSpec(field: "level", .equals(.string("debug")))], action: .drop),
            RuleSpec(
                name: "waitlist",
                when: [ConditionSpec(field: "event", .equals(.string("user_waitlisted")))],
                eventName: "{event}", userID: "{email}", timestamp: "{ts}",
                properties: [("email", "{email}"), ("id", "{wid}")], context: [("group_id", "{acct}")]
            ),
            RuleSpec(
                name: "events",
                when: [ConditionSpec(field: "event", .exists(true)), ConditionSpec(field: "level", .notEquals(.string("trace")))],
                eventName: "{event}", userID: "{uid}", timestamp: "{ts}"
            ),
        ], unmatched: unmatched)
    }

    static let ts = #""ts":"2024-10-20T15:51:36.514Z""#

    static let lines: [(String, String, String)] = [
        // line, outcome with unmatched = drop, with unmatched = dead_letter
        (#"{"level":"debug","event":"x","uid":"u",\#(ts)}"#, "dropped:noise", "dropped:noise"),
        (#"{"level":"info","event":"user_waitlisted","email":"a@b","wid":"w1","acct":"g",\#(ts)}"#,
         #"{"event_name":"user_waitlisted","user_id":"a@b","timestamp":"2024-10-20T15:51:36.514Z","properties":{"email":"a@b","id":"w1"},"context":{"group_id":"g"}}"#,
         #"{"event_name":"user_waitlisted","user_id":"a@b","timestamp":"2024-10-20T15:51:36.514Z","properties":{"email":"a@b","id":"w1"},"context":{"group_id":"g"}}"#),
        (#"{"level":"info","event":"clicked","uid":"u",\#(ts)}"#,
         #"{"event_name":"clicked","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#,
         #"{"event_name":"clicked","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        (#"{"level":"trace","event":"clicked","uid":"u",\#(ts)}"#, "dropped", "rejected: no rule matched"),
        (#"{"level":"info","msg":"plain log line"}"#, "dropped", "rejected: no rule matched"),
        // the first matching rule takes the line even when it then rejects it
        (#"{"level":"info","event":"user_waitlisted","uid":"u",\#(ts)}"#,
         #"rejected: user_id: no value at "email""#, #"rejected: user_id: no value at "email""#),
    ]

    @Test(arguments: lines)
    func ruleOrderAndUnmatched(_ line: String, _ whenDropping: String, _ whenDeadLettering: String) throws {
        var dropping = try Mapper(RuleTests.config(.drop))
        var deadLettering = try Mapper(RuleTests.config(.deadLetter))
        #expect(outcome(&dropping, line) == whenDropping)
        #expect(outcome(&deadLettering, line) == whenDeadLettering)
    }

    @Test func mapLineNamesTheRule() throws {
        var m = try Mapper(RuleTests.config(.drop))
        guard case .event(_, let name, let warnings) = m.mapLine(RuleTests.lines[2].0, readTime: 0) else {
            Issue.record("no event")
            return
        }
        #expect(name == "events")
        #expect(warnings.isEmpty)
        #expect(m.mapLine(RuleTests.lines[5].0, readTime: 0) == .rejected(reason: #"user_id: no value at "email""#, rule: "waitlist"))
        guard case .rejected(let reason, nil) = m.mapLine("nope", readTime: 0) else {
            Issue.record("invalid JSON was not rejected")
            return
        }
        #expect(reason.hasPrefix("invalid JSON at byte "))
        #expect(m.ruleNames == ["noise", "waitlist", "events"])
    }

    static let errors: [(String, RuleSpec, String?, String)] = [
        ("no event_name", RuleSpec(userID: "{u}"), nil, "rule[0].event_name: required (e.g. event_name = \"{event}\")"),
        ("no user_id", RuleSpec(eventName: "{e}"), nil, "rule[0].user_id: required (e.g. user_id = \"{user.id}\")"),
        ("bad placeholder", RuleSpec(eventName: "{e}", userID: "{a|}"), nil, "rule[0].user_id: unknown placeholder syntax \"{a|}\""),
        ("bad path", RuleSpec(eventName: "{e}", userID: "{a..b}"), nil, "rule[0].user_id: path \"a..b\": empty component"),
        ("bad property", RuleSpec(eventName: "{e}", userID: "{u}", properties: [("email", "{user.email")]), nil,
         "rule[0].properties.email: unclosed \"{\" at character 1 (write \"{{\" for a literal brace)"),
        ("bad context", RuleSpec(eventName: "{e}", userID: "{u}", context: [("group_id", "}")]), nil,
         "rule[0].context.group_id: lone \"}\" at character 1 (write \"}}\" for a literal brace)"),
        ("empty constant event", RuleSpec(eventName: "", userID: "{u}"), nil, "rule[0].event_name: the event name is empty"),
        ("empty constant user", RuleSpec(eventName: "e", userID: ""), nil, "rule[0].user_id: the user id is empty"),
        ("unit", RuleSpec(eventName: "e", userID: "{u}", timestampUnit: "minutes"), nil,
         "rule[0].timestamp_unit: unknown unit \"minutes\" (use \"s\", \"ms\", \"us\" or \"ns\")"),
        ("zone", RuleSpec(eventName: "e", userID: "{u}", timestampZone: "Europe/Berlin"), nil,
         "rule[0].timestamp_zone: \"Europe/Berlin\" is not a fixed offset (use \"UTC\" or an offset like \"+02:00\"; zones with daylight saving are not supported)"),
        ("constant timestamp", RuleSpec(eventName: "e", userID: "{u}", timestamp: "20-11-23T22:28:55.111Z"), nil,
         "rule[0].timestamp: \"20-11-23T22:28:55.111Z\": two-digit year \"20\" is ambiguous; the source must write all four digits (e.g. 2020)"),
        ("condition path", RuleSpec(when: [ConditionSpec(field: "", .exists(true))], eventName: "e", userID: "{u}"), nil,
         "rule[0].when[0]: field: path \"\": empty component"),
        ("condition number", RuleSpec(when: [ConditionSpec(field: "n", .equals(.float(.nan)))], eventName: "e", userID: "{u}"), nil,
         "rule[0].when[0]: \"nan\" is not a JSON number"),
        ("empty in", RuleSpec(when: [ConditionSpec(field: "a", .exists(true)), ConditionSpec(field: "n", .in([]))], eventName: "e", userID: "{u}"), nil,
         "rule[0].when[1]: an empty list never matches"),
        ("drop with mapping", RuleSpec(action: .drop, eventName: "{e}"), nil,
         "rule[0].event_name: a rule with action = \"drop\" builds no event; remove this key"),
        ("properties_from", RuleSpec(eventName: "e", userID: "{u}", propertiesFrom: ["a."]), nil, "rule[0].properties_from: path \"a.\": empty component"),
        ("rename to empty", RuleSpec(eventName: "{e}", userID: "{u}", renameEvents: [("a", "")]), nil, "rule[0].rename_events.a: the new event name is empty"),
        ("rename twice", RuleSpec(eventName: "{e}", userID: "{u}", renameEvents: [("a", "b"), ("a", "c")]), nil, "rule[0].rename_events.a: renamed twice"),
        ("property twice", RuleSpec(eventName: "e", userID: "{u}", properties: [("a", "1"), ("a", "2")]), nil, "rule[0].properties.a: defined twice"),
        ("event id collides", RuleSpec(eventName: "e", userID: "{u}", properties: [("event_id", "{x}")]), "event_id",
         "rule[0].properties.event_id: collides with event_id_key (the event id is written there)"),
        ("event id dropped", RuleSpec(eventName: "e", userID: "{u}", dropProperties: ["event_id"]), "event_id",
         "rule[0].drop_properties: \"event_id\" is the event_id_key; it cannot be dropped"),
        ("empty event id key", RuleSpec(eventName: "e", userID: "{u}"), "", "event_id_key: an empty key"),
    ]

    @Test(arguments: errors)
    func configurationErrors(_ name: String, _ spec: RuleSpec, _ eventIDKey: String?, _ message: String) {
        #expect(throws: MappingError.self) { _ = try Mapper(MappingConfiguration(rules: [spec], eventIDKey: eventIDKey)) }
        do {
            _ = try Mapper(MappingConfiguration(rules: [spec], eventIDKey: eventIDKey))
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func errorNamesTheRuleIndex() {
        let good = RuleSpec(name: "a", eventName: "e", userID: "{u}")
        do {
            _ = try Mapper(MappingConfiguration(rules: [good, RuleSpec(name: "b", eventName: "e", userID: "{u}"), RuleSpec(name: "c", eventName: "{e", userID: "u")]))
            Issue.record("accepted")
        } catch {
            #expect(error.rule == 2)
            #expect(error.key == "event_name")
            #expect(error.keyPath == "rule[2].event_name")
        }
        do {
            _ = try Mapper(MappingConfiguration(rules: [good, good]))
            Issue.record("accepted")
        } catch {
            #expect(error.description == "rule[1].name: \"a\" is also the name of rule[0]")
        }
    }
}

@Suite struct EventIDTests {
    @Test func deterministicAndDistinct() throws {
        var m = try Mapper(MappingConfiguration(rules: [rule { $0.propertiesFrom = ["p"] }], eventIDKey: "event_id"))
        let line = #"{\#(base),"p":{"event_id":"from the line","a":1}}"#
        let first = outcome(&m, line, offset: 385, sourceKey: 7)
        let again = outcome(&m, line, offset: 385, sourceKey: 7)
        let id = EventID.string(sourceKey: 7, offset: 385)
        #expect(first == again)
        #expect(first == head + #""properties":{"a":1,"event_id":"\#(id)"}}"#)
        #expect(id.count == 16 && id.allSatisfy { $0.isHexDigit })
        // Different offset or source: different id.
        #expect(EventID.string(sourceKey: 7, offset: 386) != id)
        #expect(EventID.string(sourceKey: 8, offset: 385) != id)
    }

    @Test func pinnedValue() {
        // Pinned (computed with Python's struct.pack('<Qq', …) and FNV-1a): ids never change between releases.
        #expect(EventID.string(sourceKey: 0x0102_0304_0506_0708, offset: 4096) == "9dce1ba027935425")
        #expect(EventID.string(sourceKey: 0x0102_0304_0506_0708, offset: 4096) == EventIDTests.reference(0x0102_0304_0506_0708, 4096))
    }

    /// A second, straightforward FNV-1a, to pin the byte order.
    static func reference(_ key: UInt64, _ offset: Int64) -> String {
        var bytes: [UInt8] = []
        for i in 0..<8 { bytes.append(UInt8((key >> (8 * UInt64(i))) & 0xff)) }
        for i in 0..<8 { bytes.append(UInt8((UInt64(bitPattern: offset) >> (8 * UInt64(i))) & 0xff)) }
        var h: UInt64 = 14_695_981_039_346_656_037
        for b in bytes { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

@Suite struct BatchTests {
    @Test func mapsABatch() throws {
        var m = try Mapper(MappingConfiguration(rules: [
            RuleSpec(name: "skip", when: [ConditionSpec(field: "skip", .exists(true))], action: .drop),
            rule(),
        ], unmatched: .drop))
        let texts = [
            "{\(base)}",
            #"{"skip":1}"#,
            #"{"event":"e"}"#,
            "{\(base)}",
            #"{"event":"e","pad":""# + String(repeating: "é", count: 600),
        ]
        var batch = LineBatch(source: SourceID(3), readTime: readTime)
        var offset: Int64 = 1000
        for (i, t) in texts.enumerated() {
            let start = batch.bytes.count
            batch.bytes.append(contentsOf: Array(t.utf8))
            let next = offset + Int64(t.utf8.count) + 1
            batch.lines.append(LineRecord(textStart: start, textEnd: batch.bytes.count, start: offset, end: next, truncated: i == 4))
            offset = next
        }
        var out = MappedBatch(source: SourceID(0))
        m.map(batch, sourceKey: 1, into: &out)
        #expect(out.source == SourceID(3))
        #expect(out.events.count == 2)
        #expect(out.events.map(\.start) == [1000, batch.lines[3].start])
        #expect(out.events.map(\.end) == [batch.lines[0].end, batch.lines[3].end])
        for e in out.events {
            #expect(String(decoding: out.eventJSON(e), as: UTF8.self) == head + #""properties":{}}"#)
        }
        #expect(out.events[0].byteEnd == out.events[1].byteStart)
        #expect(out.others.count == 3)
        #expect(out.others[0] == NonEventRecord(start: batch.lines[1].start, end: batch.lines[1].end, rejection: nil, lineHead: []))
        #expect(out.others[1].rejection == #"user_id: no value at "uid""#)
        #expect(out.others[1].lineHead == Array(texts[2].utf8))
        #expect(out.others[2].rejection == "line longer than max_line_bytes")
        // The head is at most 1 KiB and cut at a character boundary.
        #expect(out.others[2].lineHead.count <= 1024 && out.others[2].lineHead.count > 1000)
        #expect(String(validating: out.others[2].lineHead, as: UTF8.self) != nil)

        // Appending a second batch keeps the first one's records.
        m.map(batch, sourceKey: 1, into: &out)
        #expect(out.events.count == 4)
        #expect(out.others.count == 6)
    }
}

@Suite struct CatalogueTests {
    @Test func missingProperties() {
        #expect(Catalogue.missing(eventName: "signed_up", propertyKeys: [], contextKeys: []).isEmpty)
        #expect(Catalogue.missing(eventName: "feature_used", propertyKeys: ["feature_name"], contextKeys: []).isEmpty)
        #expect(Catalogue.missing(eventName: "feature_used", propertyKeys: ["feature"], contextKeys: []) ==
            [#"feature_used: missing property "feature_name" (required by the event catalogue)"#])
        #expect(Catalogue.missing(eventName: "user_waitlisted", propertyKeys: ["email"], contextKeys: []) == [
            #"user_waitlisted: missing property "id" (required by the event catalogue)"#,
            #"user_waitlisted: missing context "group_id" (required by the event catalogue)"#,
        ])
        #expect(Catalogue.missing(eventName: "invite_sent", propertyKeys: ["invitee_email", "invitee_role"], contextKeys: []).isEmpty)
        #expect(Catalogue.missing(eventName: "invite_sent", propertyKeys: ["invitee_email", "invitee_role"], contextKeys: [], recommended: true) == [
            #"invite_sent: no property "invitee_first_name" (recommended by the event catalogue)"#,
            #"invite_sent: no property "invitee_last_name" (recommended by the event catalogue)"#,
        ])
    }

    @Test func mapLineWarnsPerEvent() throws {
        var m = try Mapper(MappingConfiguration(rules: [rule { $0.propertiesFrom = ["p"] }]))
        let r = m.mapLine(#"{"event":"user_waitlisted","uid":"u","ts":1729439496514,"p":{"email":"a@b"}}"#, readTime: 0)
        guard case .event(_, _, let warnings) = r else {
            Issue.record("\(r)")
            return
        }
        #expect(warnings == [
            #"user_waitlisted: missing property "id" (required by the event catalogue)"#,
            #"user_waitlisted: missing context "group_id" (required by the event catalogue)"#,
        ])
        let ok = m.mapLine(#"{"event":"feature_used","uid":"u","ts":1729439496514,"p":{"feature_name":"x"}}"#, readTime: 0)
        guard case .event(_, _, let none) = ok else {
            Issue.record("\(ok)")
            return
        }
        #expect(none.isEmpty)
    }

    @Test func ruleWarnings() {
        let config = MappingConfiguration(rules: [
            RuleSpec(name: "invites", eventName: "invite_sent", userID: "{u}", properties: [("invitee_email", "{to}")]),
            RuleSpec(name: "wait", eventName: "joined", userID: "{u}", propertiesFrom: ["props"],
                     properties: [("email", "{e}")], renameEvents: [("joined", "user_waitlisted")]),
            RuleSpec(name: "dynamic", eventName: "{event}", userID: "{u}"),
            RuleSpec(name: "late", eventName: "feature_used", userID: "{u}"),
        ])
        #expect(Mapper.ruleWarnings(config) == [
            #"rule[0] (invites): invite_sent: no property "invitee_first_name" (recommended by the event catalogue)"#,
            #"rule[0] (invites): invite_sent: no property "invitee_last_name" (recommended by the event catalogue)"#,
            #"rule[0] (invites): invite_sent: no property "invitee_role" (recommended by the event catalogue)"#,
            #"rule[1] (wait): never reached, because rule[0] has no `when` and takes every line"#,
            #"rule[1] (wait): user_waitlisted: missing property "id" (required by the event catalogue) unless "props" provides it"#,
            #"rule[1] (wait): user_waitlisted: missing context "group_id" (required by the event catalogue)"#,
            #"rule[2] (dynamic): never reached, because rule[0] has no `when` and takes every line"#,
            #"rule[3] (late): never reached, because rule[0] has no `when` and takes every line"#,
            #"rule[3] (late): feature_used: missing property "feature_name" (required by the event catalogue)"#,
        ])
    }
}
