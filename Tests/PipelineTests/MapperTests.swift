import JSON
import Testing
@testable import Pipeline

/// 2024-10-20T15:51:36.514Z, as the read time of every line below.
let readTime: Int64 = 1_729_439_496_514_999_999

/// The outcome of one line as a comparable string: the event JSON, `dropped[:rule]` or `rejected: reason`.
func outcome(_ m: inout Mapper, _ line: String, offset: Int64 = 0, sourceKey: UInt64 = 0) -> String {
    switch m.mapLine(line, readTime: readTime, sourceKey: sourceKey, offset: offset) {
    case .event(let json, _, _): return String(decoding: json, as: UTF8.self)
    case .dropped(let rule): return "dropped" + (rule.map { ":" + $0 } ?? "")
    case .rejected(let reason, _): return "rejected: " + reason
    }
}

/// A rule with the three required fields from `event`, `uid` and `ts`, changed by `edit`.
func rule(_ edit: (inout RuleSpec) -> Void = { _ in }) -> RuleSpec {
    var r = RuleSpec(name: "r", eventName: "{event}", userID: "{uid}", timestamp: "{ts}")
    edit(&r)
    return r
}

struct MapCase: Sendable, CustomStringConvertible {
    var name: String
    var rule: RuleSpec
    var line: String
    var expected: String
    var description: String { name }
    init(_ name: String, _ rule: RuleSpec, _ line: String, _ expected: String) {
        self.name = name
        self.rule = rule
        self.line = line
        self.expected = expected
    }
}

let head = #"{"event_name":"e","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","#
let base = #""event":"e","uid":"u","ts":"2024-10-20T15:51:36.514Z""#

@Suite struct MapperTests {
    static let cases: [MapCase] = [
        MapCase("minimal event", rule(), "{\(base)}", head + #""properties":{}}"#),
        MapCase("keys in contract order whatever the line's order",
                rule(), #"{"ts":"2024-10-20T15:51:36.514Z","uid":"u","event":"e"}"#, head + #""properties":{}}"#),
        // user_id
        MapCase("big integer user id becomes its decimal text", rule(),
                #"{"event":"e","uid":12345678901234567891,"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"12345678901234567891","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("numeric user id", rule(), #"{"event":"e","uid":4417,"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"4417","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("missing user id", rule(), #"{"event":"e","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: user_id: no value at "uid""#),
        MapCase("null user id is missing", rule(), #"{"event":"e","uid":null,"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: user_id: no value at "uid""#),
        MapCase("empty user id", rule(), #"{"event":"e","uid":"","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: user_id: empty string at "uid""#),
        MapCase("boolean user id", rule(), #"{"event":"e","uid":true,"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: user_id: expected a string or a number at "uid", got a boolean"#),
        MapCase("object user id", rule(), #"{"event":"e","uid":{"id":1},"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: user_id: expected a string or a number at "uid", got an object"#),
        MapCase("fallback path: first with a value wins", rule { $0.userID = "{user.id|uid}" },
                #"{"event":"e","user":{"id":"first"},"uid":"second","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"first","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("fallback path: second", rule { $0.userID = "{user.id|uid}" }, "{\(base)}", head + #""properties":{}}"#),
        MapCase("fallback path: none", rule { $0.userID = "{user.id|uid}" },
                #"{"event":"e","ts":"2024-10-20T15:51:36.514Z"}"#, #"rejected: user_id: no value at "user.id" or "uid""#),
        MapCase("default for a required field", rule { $0.userID = "{uid|'anonymous'}" },
                #"{"event":"e","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"anonymous","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("mixed user id", rule { $0.userID = "user-{uid}" }, #"{"event":"e","uid":42,"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"user-42","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("mixed user id, missing part", rule { $0.userID = "user-{id}" }, "{\(base)}", #"rejected: user_id: no value at "id""#),
        MapCase("array index path", rule { $0.userID = "{users.1.id}" },
                #"{"event":"e","users":[{"id":"a"},{"id":"b"}],"ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"e","user_id":"b","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        // event_name
        MapCase("constant event name", rule { $0.eventName = "signup" }, "{\(base)}",
                #"{"event_name":"signup","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("event name from a number", rule(), #"{"event":5,"uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: event_name: expected a string at "event", got a number"#),
        MapCase("empty event name", rule(), #"{"event":"","uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"rejected: event_name: empty string at "event""#),
        MapCase("mixed event name", rule { $0.eventName = "{svc}.{event}" },
                #"{"svc":"billing","event":"paid","uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"billing.paid","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("rename from the template", rule { $0.renameEvents = [("signed_up", "user_signed_up"), ("x", "y")] },
                #"{"event":"signed_up","uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"user_signed_up","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("rename compares the decoded name", rule { $0.renameEvents = [("signed_up", "user_signed_up")] },
                #"{"event":"signed\u005fup","uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"user_signed_up","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("rename leaves other names", rule { $0.renameEvents = [("signed_up", "user_signed_up")] }, "{\(base)}",
                head + #""properties":{}}"#),
        MapCase("rename a constant", rule { $0.eventName = "old"; $0.renameEvents = [("old", "new")] }, "{\(base)}",
                #"{"event_name":"new","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("rename a mixed name", rule { $0.eventName = "{svc}.{event}"; $0.renameEvents = [("billing.paid", "payment")] },
                #"{"svc":"billing","event":"paid","uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"payment","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        MapCase("rename a default", rule { $0.eventName = "{event|'legacy'}"; $0.renameEvents = [("legacy", "legacy_event")] },
                #"{"uid":"u","ts":"2024-10-20T15:51:36.514Z"}"#,
                #"{"event_name":"legacy_event","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{}}"#),
        // unicode
        MapCase("unicode escapes survive into the payload", rule { $0.properties = [("name", "{name}"), ("label", "~{name}~")] },
                #"{\#(base),"event":"caf\u00e9","name":"\ud83d\ude00 \"q\" \u0001"}"#,
                #"{"event_name":"café","user_id":"u","timestamp":"2024-10-20T15:51:36.514Z","properties":{"name":"😀 \"q\" \u0001","label":"~😀 \"q\" \u0001~"}}"#),
        MapCase("non-ASCII keys and values", rule { $0.properties = [("città", "{città}")] },
                #"{\#(base),"città":"Zürich"}"#, head + #""properties":{"città":"Zürich"}}"#),
        // timestamps
        MapCase("epoch milliseconds", rule(), #"{"event":"e","uid":"u","ts":1729439496514}"#, head + #""properties":{}}"#),
        MapCase("epoch float seconds", rule(), #"{"event":"e","uid":"u","ts":1729439496.5141559}"#, head + #""properties":{}}"#),
        MapCase("epoch digit string", rule(), #"{"event":"e","uid":"u","ts":"1729439496514159"}"#, head + #""properties":{}}"#),
        MapCase("offset normalized", rule(), #"{"event":"e","uid":"u","ts":"2024-10-20T17:51:36.514+02:00"}"#, head + #""properties":{}}"#),
        MapCase("escaped timestamp string", rule(), #"{"event":"e","uid":"u","ts":"2024-10-20T15:51:36.514\u005a"}"#, head + #""properties":{}}"#),
        MapCase("named unit", rule { $0.timestampUnit = "ms" }, #"{"event":"e","uid":"u","ts":86400000}"#,
                #"{"event_name":"e","user_id":"u","timestamp":"1970-01-02T00:00:00.000Z","properties":{}}"#),
        MapCase("two-digit year (reference document 002)", rule(), #"{"event":"e","uid":"u","ts":"20-11-23T22:28:55.111Z"}"#,
                #"rejected: timestamp: "20-11-23T22:28:55.111Z": two-digit year "20" is ambiguous; the source must write all four digits (e.g. 2020)"#),
        MapCase("impossible date", rule(), #"{"event":"e","uid":"u","ts":"2024-02-30T00:00:00Z"}"#,
                #"rejected: timestamp: "2024-02-30T00:00:00Z": day 30 does not exist in 2024-02"#),
        MapCase("timestamp of the wrong type", rule(), #"{"event":"e","uid":"u","ts":true}"#,
                #"rejected: timestamp: expected a string or a number at "ts", got a boolean"#),
        MapCase("missing timestamp rejected", rule(), #"{"event":"e","uid":"u"}"#,
                #"rejected: timestamp: no value at "ts" (set timestamp_missing = "read_time" to use the time the line was read)"#),
        MapCase("missing timestamp takes the read time", rule { $0.timestampMissing = .readTime },
                #"{"event":"e","uid":"u"}"#, head + #""properties":{}}"#),
        MapCase("no timestamp template: the read time", rule { $0.timestamp = nil }, #"{"event":"e","uid":"u","ts":"1999-01-01T00:00:00Z"}"#,
                head + #""properties":{}}"#),
        MapCase("constant timestamp", rule { $0.timestamp = "2000-01-01T00:00:00Z" }, "{\(base)}",
                #"{"event_name":"e","user_id":"u","timestamp":"2000-01-01T00:00:00.000Z","properties":{}}"#),
        MapCase("zone-less time with timestamp_zone", rule { $0.timestampZone = "+02:00" },
                #"{"event":"e","uid":"u","ts":"2024-10-20 17:51:36.514"}"#, head + #""properties":{}}"#),
        MapCase("zone-less time without timestamp_zone", rule(), #"{"event":"e","uid":"u","ts":"2024-10-20 17:51:36.514"}"#,
                #"rejected: timestamp: "2024-10-20 17:51:36.514": no time zone (Z or an offset like +02:00); set timestamp_zone to say which one the source means"#),
        MapCase("mixed timestamp", rule { $0.timestamp = "{date}T{time}Z" }, #"{"event":"e","uid":"u","date":"2024-10-20","time":"15:51:36.514"}"#,
                head + #""properties":{}}"#),
        // properties: types, defaults, mixed
        MapCase("a single placeholder keeps the JSON type",
                rule { $0.properties = [("n", "{n}"), ("f", "{f}"), ("b", "{b}"), ("o", "{o}"), ("a", "{a}"), ("s", "{s}")] },
                #"{\#(base),"n":3,"f":-1.5e3,"b":false,"o":{"x":[1,{"y":null}]},"a":[],"s":"3"}"#,
                head + #""properties":{"n":3,"f":-1.5e3,"b":false,"o":{"x":[1,{"y":null}]},"a":[],"s":"3"}}"#),
        MapCase("mixed text makes a string", rule { $0.properties = [("label", "{n} x {b} ({s})")] },
                #"{\#(base),"n":3.50,"b":true,"s":"cups"}"#, head + #""properties":{"label":"3.50 x true (cups)"}}"#),
        MapCase("an object cannot go into text", rule { $0.properties = [("label", "at {o}")] }, #"{\#(base),"o":{}}"#,
                #"rejected: properties.label: the value at "o" is an object, which cannot be part of a text (only a template that is exactly one placeholder copies it)"#),
        MapCase("missing optional property is left out", rule { $0.properties = [("plan", "{plan}"), ("n", "{n}")] },
                #"{\#(base),"n":1}"#, head + #""properties":{"n":1}}"#),
        MapCase("default for an optional property", rule { $0.properties = [("plan", "{plan|'free'}")] }, "{\(base)}",
                head + #""properties":{"plan":"free"}}"#),
        MapCase("null takes the default", rule { $0.properties = [("plan", "{plan|'free'}")] }, #"{\#(base),"plan":null}"#,
                head + #""properties":{"plan":"free"}}"#),
        MapCase("constant property and escaped braces", rule { $0.properties = [("source", "legacy {{app}}")] }, "{\(base)}",
                head + #""properties":{"source":"legacy {app}"}}"#),
        MapCase("the whole line", rule { $0.properties = [("raw", "{$}")] }, #"{\#(base),"x":1}"#,
                head + #""properties":{"raw":{"event":"e","uid":"u","ts":"2024-10-20T15:51:36.514Z","x":1}}}"#),
        // properties_from, drop_properties
        MapCase("properties_from copies members", rule { $0.propertiesFrom = ["props"] },
                #"{\#(base),"props":{"a":1,"b":{"c":"d"}}}"#, head + #""properties":{"a":1,"b":{"c":"d"}}}"#),
        MapCase("explicit properties override copied ones", rule { $0.propertiesFrom = ["props"]; $0.properties = [("a", "{x}")] },
                #"{\#(base),"x":"mine","props":{"a":1,"b":2}}"#, head + #""properties":{"b":2,"a":"mine"}}"#),
        MapCase("an explicit property without a value leaves the copied one", rule { $0.propertiesFrom = ["props"]; $0.properties = [("a", "{x}")] },
                #"{\#(base),"props":{"a":1,"b":2}}"#, head + #""properties":{"a":1,"b":2}}"#),
        MapCase("later properties_from wins", rule { $0.propertiesFrom = ["p1", "p2"] },
                #"{\#(base),"p1":{"a":1,"b":1},"p2":{"b":2,"c":2}}"#, head + #""properties":{"a":1,"b":2,"c":2}}"#),
        MapCase("duplicate keys in the line: last wins", rule { $0.propertiesFrom = ["props"] },
                #"{\#(base),"props":{"a":1,"a":2}}"#, head + #""properties":{"a":2}}"#),
        MapCase("missing properties_from object is skipped", rule { $0.propertiesFrom = ["props"] }, "{\(base)}",
                head + #""properties":{}}"#),
        MapCase("properties_from that is not an object", rule { $0.propertiesFrom = ["props"] }, #"{\#(base),"props":[1]}"#,
                #"rejected: properties_from: "props" is an array, not an object"#),
        MapCase("drop_properties removes copied and explicit keys",
                rule { $0.propertiesFrom = ["$"]; $0.dropProperties = ["event", "uid", "ts", "s", "secret"]; $0.properties = [("secret", "{s}")] },
                #"{\#(base),"s":"x","secret":"y","keep":true}"#, head + #""properties":{"keep":true}}"#),
        // context
        MapCase("context written when it has a value", rule { $0.context = [("group_id", "{acct}"), ("device_type", "{dev}")] },
                #"{\#(base),"acct":"a1"}"#, head + #""properties":{},"context":{"group_id":"a1"}}"#),
        MapCase("empty context left out", rule { $0.context = [("group_id", "{acct}")] }, "{\(base)}", head + #""properties":{}}"#),
        MapCase("context keeps types", rule { $0.context = [("session_id", "{sid}")] }, #"{\#(base),"sid":12}"#,
                head + #""properties":{},"context":{"session_id":12}}"#),
        MapCase("mixed optional property with a missing part is left out", rule { $0.properties = [("label", "{a}-{b}")] },
                #"{\#(base),"a":1}"#, head + #""properties":{}}"#),
        MapCase("later object wins on a key spelled with escapes", rule { $0.propertiesFrom = ["p1", "p2"] },
                #"{\#(base),"p1":{"a\u0062":1,"c":1},"p2":{"ab":2}}"#, head + #""properties":{"c":1,"ab":2}}"#),
        MapCase("an explicit property replaces a copied key spelled with escapes",
                rule { $0.propertiesFrom = ["p"]; $0.properties = [("email", "{e}")] },
                #"{\#(base),"e":"new","p":{"em\u0061il":"old","k":1}}"#, head + #""properties":{"k":1,"email":"new"}}"#),
        MapCase("escaped keys are written canonically", rule { $0.propertiesFrom = ["p"]; $0.dropProperties = ["x"] },
                #"{\#(base),"p":{"\u00e9t\u00e9":"\/"}}"#, head + #""properties":{"été":"/"}}"#),
        MapCase("whitespace in the line is not copied", rule { $0.propertiesFrom = ["p"]; $0.properties = [("o", "{o}")] },
                #"{ \#(base) , "p" : { "a" : [ 1 , 2 ] } , "o" : { "b" : true } }"#, head + #""properties":{"a":[1,2],"o":{"b":true}}}"#),
        MapCase("byte order mark and carriage return are tolerated", rule(), "\u{FEFF}{\(base)}\r", head + #""properties":{}}"#),
        // lines that are not events
        MapCase("nesting deeper than the limit", rule(), String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
                "rejected: invalid JSON at byte 64: nesting deeper than 64"),
        MapCase("invalid JSON", rule(), #"{"a":1,}"#, "rejected: invalid JSON at byte 7: trailing comma in object"),
        MapCase("not an object", rule(), "[1,2]", "rejected: not a JSON object but an array"),
        MapCase("empty line", rule(), "", "rejected: invalid JSON at byte 0: empty input"),
    ]

    @Test(arguments: cases)
    func maps(_ c: MapCase) throws {
        var m = try Mapper(MappingConfiguration(rules: [c.rule]))
        #expect(outcome(&m, c.line) == c.expected)
        if !c.expected.hasPrefix("rejected") {
            // What comes out is valid JSON that a second parse reads the same way.
            let reparsed = try JSONValue(parsing: c.expected)
            #expect(String(decoding: reparsed.serialized(), as: UTF8.self) == c.expected)
        }
    }

    @Test func mapperIsReusedAcrossLines() throws {
        var m = try Mapper(MappingConfiguration(rules: [rule { $0.propertiesFrom = ["props"] }]))
        let lines = (0..<50).map { #"{\#(base),"props":{"seq":\#($0)}}"# }
        for (i, line) in lines.enumerated() {
            #expect(outcome(&m, line) == head + #""properties":{"seq":\#(i)}}"#)
            #expect(outcome(&m, "{") .hasPrefix("rejected: invalid JSON"))
        }
    }
}
