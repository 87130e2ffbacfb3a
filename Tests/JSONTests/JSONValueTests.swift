import JSON
import Testing

@Suite struct JSONValueTests {
    @Test func parsesIntoATree() throws {
        let v = try JSONValue(parsing: #"{"a":[1,"x",null,true],"b":{"c":12345678901234567891},"a":false}"#)
        #expect(v == .object([
            JSONMember(key: "b", value: .object([JSONMember(key: "c", value: .number("12345678901234567891"))])),
            JSONMember(key: "a", value: .bool(false)),
        ]))
        #expect(v["a"] == .bool(false))
        #expect(v["b"]?["c"]?.int64Value == nil)
        #expect(v["zz"] == nil)
        #expect(v.serializedString() == #"{"b":{"c":12345678901234567891},"a":false}"#)
    }

    @Test func valueHelpers() throws {
        #expect(JSONValue.string("s").stringValue == "s")
        #expect(JSONValue.number("1").stringValue == nil)
        #expect(JSONValue.number("-42").int64Value == -42)
        #expect(JSONValue.number("4.2").int64Value == nil)
        #expect(JSONValue.array([]).serializedString() == "[]")
        #expect(JSONValue.string("a\"b").serialized() == Array(#""a\"b""#.utf8))
        #expect(JSONValue.null["x"] == nil)
    }

    @Test func parsingErrorsAndDepth() {
        #expect(throws: JSONError(reason: "trailing comma in array", offset: 3)) { try JSONValue(parsing: "[1,]") }
        #expect(throws: JSONError(reason: "nesting deeper than 1", offset: 1)) { try JSONValue(parsing: Array("[[]]".utf8), maxDepth: 1) }
        #expect((try? JSONValue(parsing: "[1,2]".utf8)) == .array([.number("1"), .number("2")]))
    }
}
