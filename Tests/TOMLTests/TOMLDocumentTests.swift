import Testing
import TOML

/// The tree the configuration decoder consumes: values, key order, and the position of every
/// key, value, array element and table.
@Suite struct TOMLDocumentTests {
    /// The configuration of issue 3, exactly as written there.
    static let example = """
        [state]
        directory = "/var/lib/tracktail"

        [[input]]
        name = "app"
        type = "file"                       # "file" or "pipe" (pipe: `path = "/run/app/events.pipe"`)
        paths = ["/var/log/app/events*.log"]
        exclude = ["*.gz"]
        start_at = "beginning"              # or "end", for files never seen before

        [[rule]]
        name = "app-events"
        when = { field = "level", in = ["info", "warn"] }   # optional; also `equals`, `exists`, `prefix`
        event_name = "{event}"              # "{path}" takes a value from the line; plain text is a constant
        user_id = "{user.id}"
        timestamp = "{ts}"                  # ISO-8601 variants or epoch s/ms/µs/ns; normalized per docs/track-api.md
        properties_from = "props"           # copy a whole object into properties
        properties = { email = "{user.email}" }
        context = { group_id = "{account}", device_type = "{device}" }

        [output]
        type = "http"                       # or "stdout"
        url = "https://api.app.thrivestack.ai/api/track"
        token_env = "TRACKTAIL_TOKEN"       # or token_file = "...", or token_credential = "name"
        """

    static func pos(_ line: Int, _ column: Int) -> TOMLPosition { TOMLPosition(line: line, column: column) }

    @Test func theIssueExampleDecodesWithPositions() throws {
        let root = try TOML.parse(Self.example)
        #expect(root.keys == ["state", "input", "rule", "output"])
        #expect(root.position == .start)

        let state = try #require(root.entry("state"))
        #expect(state.keyPosition == Self.pos(1, 2))
        #expect(state.valuePosition == Self.pos(1, 1))
        #expect(state.value.table?["directory"] == .string("/var/lib/tracktail"))
        #expect(state.value.table?.entry("directory")?.valuePosition == Self.pos(2, 13))

        let inputs = try #require(root["input"]?.array)
        #expect(inputs.count == 1)
        #expect(inputs.positions == [Self.pos(4, 1)])
        let input = try #require(inputs[0].table)
        #expect(input.position == Self.pos(4, 1))
        #expect(input.keys == ["name", "type", "paths", "exclude", "start_at"])
        let paths = try #require(input.entry("paths"))
        #expect(paths.keyPosition == Self.pos(7, 1))
        #expect(paths.valuePosition == Self.pos(7, 9))
        #expect(paths.value.array?.positions == [Self.pos(7, 10)])
        #expect(paths.value.array?.elements == [.string("/var/log/app/events*.log")])

        let rule = try #require(root["rule"]?.array?[0].table)
        #expect(rule.position == Self.pos(11, 1))
        let when = try #require(rule.entry("when"))
        #expect(when.keyPosition == Self.pos(13, 1))
        #expect(when.valuePosition == Self.pos(13, 8))
        let condition = try #require(when.value.table)
        #expect(condition.position == Self.pos(13, 8))
        #expect(condition.keys == ["field", "in"])
        #expect(condition.entry("in")?.keyPosition == Self.pos(13, 27))
        #expect(condition["in"]?.array?.positions == [Self.pos(13, 33), Self.pos(13, 41)])
        #expect(rule["timestamp"] == .string("{ts}"))
        #expect(rule["context"]?.table?.keys == ["group_id", "device_type"])

        let output = try #require(root["output"]?.table)
        #expect(output["token_env"] == .string("TRACKTAIL_TOKEN"))
        #expect(output.entry("url")?.valuePosition == Self.pos(23, 7))
    }

    @Test func arraysOfTablesKeepEachHeaderPosition() throws {
        let root = try TOML.parse("""
            [[rule]]
            name = "a"

            [[rule]]
            name = "b"
            [rule.when]
            field = "x"

            [[rule]]
            """)
        let rules = try #require(root["rule"]?.array)
        #expect(rules.positions == [Self.pos(1, 1), Self.pos(4, 1), Self.pos(9, 1)])
        #expect(rules.position == Self.pos(1, 1))
        #expect(rules[1].table?["when"]?.table?.position == Self.pos(6, 1))
        #expect(rules[1].table?["when"]?.table?["field"] == .string("x"))
        #expect(rules[2].table?.isEmpty == true)
        #expect(rules.indexed.map(\.position.line) == [1, 4, 9])
    }

    @Test func dottedAndImplicitTablesPointAtTheirKeys() throws {
        let root = try TOML.parse("""
            a.b.c = 1
            [x.y.z]
            [x]
            k = 2
            """)
        let a = try #require(root.entry("a"))
        #expect(a.keyPosition == Self.pos(1, 1))
        #expect(a.value.table?.position == Self.pos(1, 1))
        #expect(a.value.table?.entry("b")?.keyPosition == Self.pos(1, 3))
        #expect(a.value.table?["b"]?.table?.entry("c")?.keyPosition == Self.pos(1, 5))
        #expect(a.value.table?["b"]?.table?.entry("c")?.valuePosition == Self.pos(1, 9))
        // `x` was implied by [x.y.z], then defined by [x]: it takes the defining header.
        let x = try #require(root.entry("x"))
        #expect(x.value.table?.position == Self.pos(3, 1))
        #expect(x.keyPosition == Self.pos(3, 2))
        #expect(x.value.table?.keys == ["y", "k"])
        #expect(x.value.table?["y"]?.table?.position == Self.pos(2, 4))
        #expect(x.value.table?["y"]?.table?["z"]?.table?.position == Self.pos(2, 1))
    }

    @Test func elementColumnsCountScalarsAcrossLines() throws {
        let root = try TOML.parse("a = [\"é\", \"üü\", 3]\nb = [1, \"é\", 2]\nc = [\n  1,\n  \"é\", 2, # note\n]")
        #expect(root["a"]?.array?.positions == [Self.pos(1, 6), Self.pos(1, 11), Self.pos(1, 17)])
        #expect(root["b"]?.array?.positions == [Self.pos(2, 6), Self.pos(2, 9), Self.pos(2, 14)])
        #expect(root["c"]?.array?.positions == [Self.pos(4, 3), Self.pos(5, 3), Self.pos(5, 8)])
        #expect(root.entry("c")?.keyPosition == Self.pos(3, 1))
    }

    /// TOML's definition rules, the permitted side: each of these documents is valid.
    @Test(arguments: [
        "[a.b]\nx = 1\n[a]\ny = 2",                          // a super-table after its sub-table
        "[[a]]\n[a.b]\n[[a]]\n[a.b]",                          // a sub-table in each table of an array
        "[fruit]\napple.color = 1\n[fruit.apple.texture]",     // a header below a dotted table
        "[a.b.c]\n[a]\nb.d = 1",                               // a dotted key into an implied table
        "a.b = 1\na.c = 2",                                    // dotted keys sharing a table
        "[[a.b]]\n[[a.b]]\n[a.b.c]",                           // an array of tables below an implied table
        "a = { b.c = 1, b.d = 2 }",                            // dotted keys inside an inline table
    ])
    func definitionRulesAllow(_ toml: String) {
        #expect(throws: Never.self) { try TOML.parse(toml) }
    }

    @Test func aTableImpliedByAHeaderAndFilledByDottedKeysCannotBeReopened() {
        #expect(throws: TOMLError.self) { try TOML.parse("[a.b.c]\n[a]\nb.d = 1\n[a.b]") }
    }

    struct ValueCase: CustomTestStringConvertible, Sendable {
        var toml: String
        var value: TOMLValue
        var testDescription: String { toml.debugDescription }
    }

    static func date(_ kind: TOMLDateTime.Kind, _ y: Int = 0, _ mo: Int = 0, _ d: Int = 0, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0,
                     ns: Int = 0, digits: Int = 0, offset: Int? = nil) -> TOMLValue {
        .datetime(TOMLDateTime(kind: kind, year: y, month: mo, day: d, hour: h, minute: mi, second: s,
                               nanosecond: ns, fractionDigits: digits, offsetMinutes: offset))
    }

    static let values: [ValueCase] = [
        ValueCase(toml: #""a\tb\n\"c\" \\ \u00E9 \U0001F600""#, value: .string("a\tb\n\"c\" \\ é 😀")),
        ValueCase(toml: #"'C:\path\to'"#, value: .string(#"C:\path\to"#)),
        ValueCase(toml: "\"\"\"\nline one\r\nline two\"\"\"", value: .string("line one\nline two")),
        ValueCase(toml: "\"\"\"one \\\n   \n    two\"\"\"", value: .string("one two")),
        ValueCase(toml: "\"\"\"\"quoted\"\"\"\"\"", value: .string("\"quoted\"\"")),
        ValueCase(toml: "'''\n'x' '' y'''", value: .string("'x' '' y")),
        ValueCase(toml: "''", value: .string("")),
        ValueCase(toml: "9223372036854775807", value: .integer(.max)),
        ValueCase(toml: "-9223372036854775808", value: .integer(.min)),
        ValueCase(toml: "+1_000", value: .integer(1000)),
        ValueCase(toml: "0xDEAD_beef", value: .integer(0xDEADBEEF)),
        ValueCase(toml: "0o755", value: .integer(0o755)),
        ValueCase(toml: "0b1101", value: .integer(13)),
        ValueCase(toml: "0x7FFFFFFFFFFFFFFF", value: .integer(.max)),
        ValueCase(toml: "6.626e-34", value: .float(6.626e-34)),
        ValueCase(toml: "-1_0.5E+0_2", value: .float(-1050)),
        ValueCase(toml: "-inf", value: .float(-.infinity)),
        ValueCase(toml: "-0.0", value: .float(-0.0)),
        ValueCase(toml: "true", value: .bool(true)),
        ValueCase(toml: "1979-05-27T07:32:00Z", value: date(.offsetDateTime, 1979, 5, 27, 7, 32, 0, offset: 0)),
        ValueCase(toml: "1979-05-27 00:32:00.999999-07:30", value: date(.offsetDateTime, 1979, 5, 27, 0, 32, 0, ns: 999_999_000, digits: 6, offset: -450)),
        ValueCase(toml: "2000-02-29t23:59:60", value: date(.localDateTime, 2000, 2, 29, 23, 59, 60)),
        ValueCase(toml: "1979-05-27", value: date(.localDate, 1979, 5, 27)),
        ValueCase(toml: "00:32:00.1234567891", value: date(.localTime, 0, 0, 0, 0, 32, 0, ns: 123_456_789, digits: 9)),
        ValueCase(toml: "[ 1, 'two', [3.0], {x = 4}, ]", value: .array(TOMLArray(
            elements: [.integer(1), .string("two"), .array(TOMLArray(elements: [.float(3)], positions: [TOMLPosition(line: 1, column: 18)], position: TOMLPosition(line: 1, column: 17))),
                       .table(TOMLTable(entries: [.init(key: "x", value: .integer(4), keyPosition: TOMLPosition(line: 1, column: 25), valuePosition: TOMLPosition(line: 1, column: 29))],
                                        position: TOMLPosition(line: 1, column: 24)))],
            positions: [TOMLPosition(line: 1, column: 7), TOMLPosition(line: 1, column: 10), TOMLPosition(line: 1, column: 17), TOMLPosition(line: 1, column: 24)],
            position: TOMLPosition(line: 1, column: 5)))),
    ]

    @Test(arguments: values)
    func scalarValue(_ example: ValueCase) throws {
        let root = try TOML.parse("v = " + example.toml)
        #expect(root["v"] == example.value)
    }

    @Test(arguments: [
        ("1979-05-27T07:32:00Z", "1979-05-27T07:32:00Z", "offset date-time"),
        ("1979-05-27t00:32:00.5+05:45", "1979-05-27T00:32:00.5+05:45", "offset date-time"),
        ("1979-05-27 00:32:00-00:00", "1979-05-27T00:32:00Z", "offset date-time"),
        ("0001-01-01 00:00:00", "0001-01-01T00:00:00", "local date-time"),
        ("1979-05-27", "1979-05-27", "local date"),
        ("07:32:00.010", "07:32:00.010", "local time"),
    ])
    func dateTimeText(_ toml: String, _ text: String, _ typeName: String) throws {
        let value = try #require(try TOML.parse("v = " + toml)["v"])
        #expect(value.datetime?.text == text)
        #expect(value.typeName == typeName)
    }

    @Test func typeNamesReadAsEnglish() throws {
        let root = try TOML.parse("s = 'x'\ni = 1\nf = 1.0\nb = true\na = []\nt = {}\nd = 1979-05-27")
        #expect(root.entries.map(\.value.typeNameWithArticle) == [
            "a string", "an integer", "a float", "a boolean", "an array", "a table", "a local date",
        ])
    }

    @Test func bytesAndStringEntryPointsAgree() throws {
        let text = "\u{FEFF}# comment\r\n[a]\r\nb = \"\"\"\r\nx\r\n\"\"\"\r\n"
        let fromString = try TOML.parse(text)
        let fromBytes = try TOML.parse(utf8: Array(text.utf8))
        #expect(fromString == fromBytes)
        #expect(fromBytes["a"]?.table?["b"] == .string("x\n"))
        #expect(fromBytes["a"]?.table?.entry("b")?.keyPosition == Self.pos(3, 1))
    }

    @Test func emptyDocumentsAreEmptyTables() throws {
        for text in ["", "\n", "   \t\n# only a comment", "\r\n\r\n"] {
            #expect(try TOML.parse(text).isEmpty)
        }
    }
}
