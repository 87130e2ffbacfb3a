import Testing
@testable import Pipeline

@Suite struct TemplateTests {
    typealias P = Template.Placeholder

    static let valid: [(String, [Template.Part])] = [
        ("signup", [.text("signup")]),
        ("", []),
        ("{event}", [.value(P(paths: ["event"]))]),
        ("{user.id|uid}", [.value(P(paths: ["user.id", "uid"]))]),
        ("{ user.id | uid }", [.value(P(paths: ["user.id", "uid"]))]),
        ("{plan|'free'}", [.value(P(paths: ["plan"], fallback: "free"))]),
        ("{plan|tier|'free tier'}", [.value(P(paths: ["plan", "tier"], fallback: "free tier"))]),
        ("{plan|''}", [.value(P(paths: ["plan"], fallback: ""))]),
        ("{plan|'it''s | {free}'}", [.value(P(paths: ["plan"], fallback: "it's | {free}"))]),
        ("user-{id}", [.text("user-"), .value(P(paths: ["id"]))]),
        ("{a}.{b}", [.value(P(paths: ["a"])), .text("."), .value(P(paths: ["b"]))]),
        ("{{literal}}", [.text("{literal}")]),
        ("{{{id}}}", [.text("{"), .value(P(paths: ["id"])), .text("}")]),
        ("{@timestamp}", [.value(P(paths: ["@timestamp"]))]),
        ("{a\\.b}", [.value(P(paths: ["a\\.b"]))]),
        ("{$}", [.value(P(paths: ["$"]))]),
        ("héllo {名前}", [.text("héllo "), .value(P(paths: ["名前"]))]),
    ]

    @Test(arguments: valid)
    func parses(_ source: String, _ parts: [Template.Part]) throws {
        let t = try Template(parsing: source)
        #expect(t.parts == parts)
        #expect(t.source == source)
    }

    static let invalid: [(String, String)] = [
        ("{a|}", "unknown placeholder syntax \"{a|}\""),
        ("{}", "unknown placeholder syntax \"{}\""),
        ("{|a}", "unknown placeholder syntax \"{|a}\""),
        ("{a||b}", "unknown placeholder syntax \"{a||b}\""),
        ("{a'x'}", "unknown placeholder syntax \"{a'x'}\""),
        ("{a{b}}", "unknown placeholder syntax \"{a{b}\""),
        ("user-{id", "unclosed \"{\" at character 6"),
        ("user-}", "lone \"}\" at character 6"),
        ("{a|'x'|b}", "a default must come last"),
        ("{a|'x}", "unclosed quote"),
        ("{'x'}", "has a default but no path"),
    ]

    @Test(arguments: invalid)
    func rejects(_ source: String, _ reason: String) {
        #expect {
            _ = try Template(parsing: source)
        } throws: { error in
            (error as? TemplateError)?.reason.contains(reason) == true
        }
    }

    @Test func shapes() throws {
        #expect(try Template(parsing: "x{{y}}").constant == "x{y}")
        #expect(try Template(parsing: "{a}").constant == nil)
        #expect(try Template(parsing: "{a|b}").singlePlaceholder == P(paths: ["a", "b"]))
        #expect(try Template(parsing: "-{a}").singlePlaceholder == nil)
    }
}
