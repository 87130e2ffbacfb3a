import Testing
import TOML

/// Each bad document must be rejected at the offending token, with a message that names it.
@Suite struct TOMLErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var toml: String
        var line: Int
        var column: Int
        var message: String
        var testDescription: String { toml.debugDescription }
    }

    static let cases: [Case] = [
        // Redefinitions: reported at the second definition, naming the first.
        Case(toml: "a = 1\na = 2", line: 2, column: 1, message: "duplicate key \"a\" (first defined at 1:1)"),
        Case(toml: "[t]\nx.y = 1\nx.y = 2", line: 3, column: 3, message: "duplicate key \"t.x.y\" (first defined at 2:3)"),
        Case(toml: "[a]\n[a]", line: 2, column: 2, message: "table \"a\" is already defined at 1:1"),
        Case(toml: "[a.b]\n[a]\n[a]", line: 3, column: 2, message: "table \"a\" is already defined at 2:1"),
        Case(toml: "[fruit]\napple.color = 1\n[fruit.apple]", line: 3, column: 8, message: "already defined by dotted keys at 2:1"),
        Case(toml: "[a.b.c]\n[a]\nb.c.t = 1", line: 3, column: 3, message: "cannot add to table \"a.b.c\" with a dotted key: it is defined by its header at 1:1"),
        Case(toml: "a = {b = 1}\na.c = 2", line: 2, column: 1, message: "cannot add to inline table \"a\" (defined at 1:5)"),
        Case(toml: "a = {}\n[a.b]", line: 2, column: 2, message: "cannot add to inline table \"a\""),
        Case(toml: "a = [1]\n[[a]]", line: 2, column: 3, message: "it is an inline array (defined at 1:5)"),
        Case(toml: "[[a]]\n[a]", line: 2, column: 2, message: "is an array of tables (defined at 1:1); write [[a]]"),
        Case(toml: "[a]\n[[a]]", line: 2, column: 3, message: "cannot define array of tables \"a\": it is already a table (defined at 1:1)"),
        Case(toml: "a = \"x\"\n[a.b]", line: 2, column: 2, message: "key \"a\" is already defined as a string at 1:5, so it cannot be used as a table"),
        Case(toml: "a = 1\na.b = 2", line: 2, column: 1, message: "already defined as an integer at 1:5"),
        Case(toml: "\"a b\" = 1\n\"a b\" = 2", line: 2, column: 1, message: "duplicate key \"a b\""),
        Case(toml: "x = {a = 1, a = 2}", line: 1, column: 13, message: "duplicate key \"x.a\" (first defined at 1:6)"),
        // Syntax: the column of the offending character.
        Case(toml: "a 1", line: 1, column: 3, message: "expected '=' after key \"a\", found '1'"),
        Case(toml: "a =", line: 1, column: 4, message: "expected a value, found end of file"),
        Case(toml: "a = 1 2", line: 1, column: 7, message: "expected end of line after the value of \"a\", found '2'"),
        Case(toml: "a = hello", line: 1, column: 5, message: "invalid value \"hello\": a string must be in quotes"),
        Case(toml: "a = True", line: 1, column: 5, message: "booleans are written true and false"),
        Case(toml: "a = [1, 2", line: 1, column: 10, message: "unterminated array (opened at 1:5)"),
        Case(toml: "a = [1 2]", line: 1, column: 8, message: "expected ',' or ']' after an array element, found '2'"),
        Case(toml: "a = {b = 1,}", line: 1, column: 12, message: "a trailing comma is not allowed in an inline table"),
        Case(toml: "a = {b = 1,\nc = 2}", line: 1, column: 12, message: "an inline table must be written on one line"),
        Case(toml: "[a", line: 1, column: 3, message: "expected ']' to close the table header, found end of file"),
        Case(toml: "[[a]", line: 1, column: 5, message: "expected ']]' to close the array of tables header"),
        Case(toml: "[a] b = 1", line: 1, column: 5, message: "expected end of line after the header, found 'b'"),
        Case(toml: "\"\"\"k\"\"\" = 1", line: 1, column: 1, message: "a key cannot be a multi-line string"),
        Case(toml: "a.= 1", line: 1, column: 3, message: "expected a key after '.', found '='"),
        Case(toml: "a = 1\r2", line: 1, column: 6, message: "a carriage return must be followed by a line feed"),
        // Strings.
        Case(toml: "a = \"abc", line: 1, column: 9, message: "unterminated string (opened at 1:5)"),
        Case(toml: "a = \"abc\nd\"", line: 1, column: 9, message: "a basic string ends on its line"),
        Case(toml: "a = \"\\q\"", line: 1, column: 6, message: "invalid escape sequence \\q"),
        Case(toml: "a = \"\\uD800\"", line: 1, column: 6, message: "escape \\uD800 is not a Unicode scalar value"),
        Case(toml: "a = \"\\u12\"", line: 1, column: 6, message: "escape \\u12 needs 4 hexadecimal digits"),
        Case(toml: "a = \"tab\tok\u{7}\"", line: 1, column: 12, message: "control character U+0007 is not allowed in a string"),
        Case(toml: "a = '''\nx\n", line: 3, column: 1, message: "unterminated multi-line string (opened at 1:5): expected '''"),
        Case(toml: "a = \"\"\"x \\ y\"\"\"", line: 1, column: 10, message: "invalid escape sequence \\ followed by a space"),
        Case(toml: "# ok\n# bad \u{1}", line: 2, column: 7, message: "control character U+0001 is not allowed in a comment"),
        // Numbers.
        Case(toml: "a = 9223372036854775808", line: 1, column: 5, message: "out of range for a 64-bit integer"),
        Case(toml: "a = -9223372036854775809", line: 1, column: 5, message: "out of range for a 64-bit integer"),
        Case(toml: "a = 0x8000000000000000", line: 1, column: 5, message: "out of range for a 64-bit integer"),
        Case(toml: "a = 012", line: 1, column: 5, message: "leading zeros are not allowed in the number \"012\""),
        Case(toml: "a = 1__0", line: 1, column: 6, message: "an underscore in the number \"1__0\" must be between two digits"),
        Case(toml: "a = -0x1", line: 1, column: 5, message: "a sign is not allowed on a hexadecimal, octal or binary integer"),
        Case(toml: "a = 0b102", line: 1, column: 9, message: "invalid binary digit '2' in \"0b102\""),
        Case(toml: "a = 1.", line: 1, column: 7, message: "expected a digit in the fraction of \"1.\""),
        Case(toml: "a = 1e400", line: 1, column: 5, message: "out of range for a 64-bit float"),
        Case(toml: "a = Inf", line: 1, column: 5, message: "written inf and nan"),
        // Dates and times.
        Case(toml: "d = 2023-02-29", line: 1, column: 13, message: "day 29 is out of range in \"2023-02-29\": that month has 28 days"),
        Case(toml: "d = 2023-13-01", line: 1, column: 10, message: "month 13 is out of range (01-12)"),
        Case(toml: "d = 2023-01-01T24:00:00", line: 1, column: 16, message: "hour 24 is out of range (00-23)"),
        Case(toml: "d = 12:60:00", line: 1, column: 8, message: "minute 60 is out of range (00-59)"),
        Case(toml: "d = 12:00", line: 1, column: 5, message: "invalid time in \"12:00\": expected HH:MM:SS"),
        Case(toml: "d = 2023-01-01T00:00:00+24:00", line: 1, column: 24, message: "time offset out of range"),
        Case(toml: "d = 2023-1-01", line: 1, column: 5, message: "invalid date \"2023-1-01\": expected YYYY-MM-DD"),
        // Positions count Unicode scalars, not bytes; a BOM is not a column.
        Case(toml: "\"é\" = 1 x", line: 1, column: 9, message: "found 'x'"),
        Case(toml: "\u{FEFF}a = ", line: 1, column: 5, message: "expected a value"),
        Case(toml: "a = 1\r\nb = 2\r\nb = 3", line: 3, column: 1, message: "duplicate key \"b\" (first defined at 2:1)"),
        Case(toml: "s = \"\"\"\none\ntwo\"\"\"\nx = ?", line: 4, column: 5, message: "expected a value, found '?'"),
        Case(toml: "\t[a]\n\t[a]", line: 2, column: 3, message: "table \"a\" is already defined at 1:2"),
    ]

    @Test(arguments: cases)
    func rejected(_ example: Case) {
        #expect(throws: TOMLError.self) { try TOML.parse(example.toml) }
        do {
            _ = try TOML.parse(example.toml)
        } catch {
            #expect(error.position == TOMLPosition(line: example.line, column: example.column), "\(error)")
            #expect(error.message.contains(example.message), "\(error)")
            #expect(error.description == "\(example.line):\(example.column): \(error.message)")
        }
    }

    @Test func invalidUTF8IsRejectedAtTheBadByte() {
        let bytes = Array("a = 1\nb = \"x".utf8) + [0xC3, 0x28] + Array("\"".utf8)
        #expect(throws: TOMLError("invalid UTF-8 (byte 0xC3): a TOML document must be UTF-8", at: TOMLPosition(line: 2, column: 7))) {
            try TOML.parse(utf8: bytes)
        }
    }

    @Test(arguments: [
        [0xED, 0xA0, 0x80],        // a surrogate
        [0xC0, 0xAF],              // overlong '/'
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xE2, 0x82],              // truncated
    ] as [[UInt8]])
    func malformedUTF8InACommentIsRejected(_ sequence: [UInt8]) {
        #expect(throws: TOMLError.self) { try TOML.parse(utf8: Array("# ".utf8) + sequence) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deepArray = "a = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(throws: TOMLError.self) { try TOML.parse(deepArray) }
        let deepInline = "a = " + String(repeating: "{b=", count: 5000) + "1" + String(repeating: "}", count: 5000)
        #expect(throws: TOMLError.self) { try TOML.parse(deepInline) }
        let longKey = "[" + Array(repeating: "k", count: 5000).joined(separator: ".") + "]"
        #expect(throws: TOMLError.self) { try TOML.parse(longKey) }
        let fine = "a = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try TOML.parse(fine) }
    }
}
