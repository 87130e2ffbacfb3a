import JSON
import Testing

/// Every rejection names a reason and the byte where it was noticed.
@Suite struct ParseErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var input: [UInt8]
        var reason: String
        var offset: Int
        var maxDepth = 64
        var testDescription: String { String(decoding: input.prefix(40), as: UTF8.self) }

        init(_ text: String, _ reason: String, _ offset: Int, maxDepth: Int = 64) {
            self.init(bytes: Array(text.utf8), reason, offset, maxDepth: maxDepth)
        }

        init(bytes: [UInt8], _ reason: String, _ offset: Int, maxDepth: Int = 64) {
            self.input = bytes
            self.reason = reason
            self.offset = offset
            self.maxDepth = maxDepth
        }
    }

    static let cases: [Case] = [
        Case("", "empty input", 0),
        Case("  \r\n\t", "empty input", 5),
        Case(bytes: [0xEF, 0xBB, 0xBF], "empty input", 3),
        Case("[1,]", "trailing comma in array", 3),
        Case("[1, ]", "trailing comma in array", 4),
        Case(#"{"a":1,}"#, "trailing comma in object", 7),
        Case("[1] x", "expected end of input after the JSON value, found 'x'", 4),
        Case("{} {}", "expected end of input after the JSON value, found '{'", 3),
        Case("// c\n1", "comments are not allowed in JSON", 0),
        Case("[1/* x */]", "comments are not allowed in JSON", 2),
        Case("NaN", "NaN is not allowed in JSON", 0),
        Case("[-Infinity]", "Infinity is not allowed in JSON", 1),
        Case("Infinity", "Infinity is not allowed in JSON", 0),
        Case("01", "leading zero in number", 0),
        Case("[-012]", "leading zero in number", 2),
        Case("1.", "unexpected end of input, expected a digit after the decimal point", 2),
        Case("1.e3", "expected a digit after the decimal point, found 'e'", 2),
        Case("1e", "unexpected end of input, expected a digit in the exponent", 2),
        Case("1e+]", "expected a digit in the exponent, found ']'", 3),
        Case("-", "unexpected end of input, expected a digit after '-'", 1),
        Case("+1", "expected a value, found '+'", 0),
        Case(".5", "expected a value, found '.'", 0),
        Case("0x10", "expected end of input after the JSON value, found 'x'", 1),
        Case(#""a\x""#, #"invalid escape '\x'"#, 2),
        Case(#""\u12G4""#, #"invalid \u escape: expected 4 hex digits"#, 1),
        Case(#""\u12""#, #"invalid \u escape: expected 4 hex digits"#, 1),
        Case("\"a\nb\"", "unescaped control character 0x0A in string", 2),
        Case("\"a\tb\"", "unescaped control character 0x09 in string", 2),
        Case(bytes: [0x22, 0x00, 0x22], "unescaped control character 0x00 in string", 1),
        Case("\"abc", "unterminated string", 0),
        Case("[\"abc\\", "unterminated string", 5),
        Case(#""\uD800""#, #"lone surrogate \uD800 (high surrogate not followed by a low one)"#, 1),
        Case(#""\uD800\u0041""#, #"lone surrogate \uD800 (high surrogate not followed by a low one)"#, 1),
        Case(#""\uDC00""#, #"lone surrogate \uDC00 (low surrogate without a high one)"#, 1),
        Case(bytes: [0x22, 0xC3, 0x28, 0x22], "invalid UTF-8 byte 0x28", 2),
        Case(bytes: [0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8 byte 0xC0", 1),
        Case(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8 byte 0x80", 2),
        Case(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8 byte 0xA0", 2),
        Case(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8 byte 0x90", 2),
        Case(bytes: [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], "invalid UTF-8 byte 0xF5", 1),
        Case(bytes: [0x22, 0x80, 0x22], "invalid UTF-8 byte 0x80", 1),
        Case(bytes: [0x22, 0xE2, 0x82, 0x22], "invalid UTF-8 byte 0x22", 3),
        Case(bytes: [0x22, 0xC3], "unterminated string (input ends inside a UTF-8 sequence)", 2),
        Case(bytes: [0xC3, 0xA9], "expected a value, found byte 0xC3", 0),
        Case(bytes: [0xC2, 0xA0, 0x31], "expected a value, found byte 0xC2", 0),
        Case(bytes: [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, 0x31], "expected a value, found byte 0xEF", 3),
        Case("\u{0C}1", "expected a value, found byte 0x0C", 0),
        Case("tru", "invalid literal (expected 'true')", 0),
        Case("[nul]", "invalid literal (expected 'null')", 1),
        Case("fals", "invalid literal (expected 'false')", 0),
        Case("True", "expected a value, found 'T'", 0),
        Case(#"{"a" 1}"#, "expected ':' after object key, found '1'", 5),
        Case("{1:2}", "expected a string key, found '1'", 1),
        Case("{'a':2}", "single-quoted strings are not allowed in JSON", 1),
        Case(#"{"a":1 "b":2}"#, #"expected ',' or '}' after object member, found '"'"#, 7),
        Case(#"{"a":1]"#, "expected ',' or '}' after object member, found ']'", 6),
        Case("[1 2]", "expected ',' or ']' after array element, found '2'", 3),
        Case("[1}", "expected ',' or ']' after array element, found '}'", 2),
        Case("[", "unexpected end of input, expected a value", 1),
        Case("[1", "unexpected end of input, expected ',' or ']' after array element", 2),
        Case("{", "unexpected end of input, expected a string key", 1),
        Case(#"{"a":"#, "unexpected end of input, expected a value", 5),
        Case("[,1]", "expected a value, found ','", 1),
        Case("[1,,2]", "expected a value, found ','", 3),
        Case(#"{,"a":1}"#, "expected a string key, found ','", 1),
        Case(bytes: [0x5B, 0x31, 0x2C, 0x00, 0x5D], "expected a value, found byte 0x00", 3),
        Case("[[[1]]]", "nesting deeper than 2", 2, maxDepth: 2),
        Case("[]", "nesting deeper than 0", 0, maxDepth: 0),
        Case(bytes: [0xEF, 0xBB, 0xBF] + Array("[1,]".utf8), "trailing comma in array", 6),
    ]

    @Test(arguments: cases)
    func rejects(_ c: Case) {
        var doc = JSONDocument(maxDepth: c.maxDepth)
        #expect(throws: JSONError(reason: c.reason, offset: c.offset)) {
            try doc.parse(c.input)
        }
    }

    @Test func descriptionNamesTheByte() {
        var doc = JSONDocument()
        do {
            try doc.parse("[1,]")
            Issue.record("accepted a trailing comma")
        } catch {
            #expect(error.description == "byte 3: trailing comma in array")
        }
    }

    @Test func deepNestingIsRejectedWithoutRecursion() {
        var doc = JSONDocument()
        let arrays = [UInt8](repeating: 0x5B, count: 100_000)
        #expect(throws: JSONError(reason: "nesting deeper than 64", offset: 64)) { try doc.parse(arrays) }
        let objects = [UInt8](String(repeating: #"{"a":"#, count: 100_000).utf8)
        #expect(throws: JSONError(reason: "nesting deeper than 64", offset: 64 * 5)) { try doc.parse(objects) }
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        var doc = JSONDocument()
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        try doc.parse(ok)
        #expect(doc.kind(doc.root) == .array)
        let tooDeep = "[" + ok + "]"
        #expect(throws: JSONError(reason: "nesting deeper than 64", offset: 64)) { try doc.parse(tooDeep) }
        var deep = JSONDocument(maxDepth: 10_000)
        try deep.parse(String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000))
        var w = JSONWriter()
        deep.write(deep.root, to: &w)
        #expect(w.bytes.count == 20_000)
    }

    @Test func failedParseLeavesAnEmptyDocument() throws {
        var doc = JSONDocument()
        try doc.parse(#"{"a":1}"#)
        #expect(doc.count(doc.root) == 1)
        #expect(throws: JSONError.self) { try doc.parse(#"{"a":1,}"#) }
        #expect(doc.kind(doc.root) == .null)
        #expect(doc.member(doc.root, "a") == nil)
        #expect(doc.count(doc.root) == 0)
    }
}
