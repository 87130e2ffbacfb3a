import JSON
import Testing

@Suite struct DocumentTests {
    static func parsed(_ text: String, maxDepth: Int = 64) throws -> JSONDocument {
        var doc = JSONDocument(maxDepth: maxDepth)
        try doc.parse(text)
        return doc
    }

    static func written(_ doc: JSONDocument, _ node: JSONNode? = nil) -> String {
        var w = JSONWriter()
        doc.write(node ?? doc.root, to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test(arguments: [
        (#""\u00e9""#, "é"),
        (#""\u00E9t\u00e9""#, "été"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD834\uDD1E""#, "𝄞"),
        (#""a\/b""#, "a/b"),
        (#""\b\f\n\r\t\"\\""#, "\u{8}\u{C}\n\r\t\"\\"),
        (#""\u0000""#, "\u{0}"),
        (#""\u20AC""#, "€"),
        (#""é€😀""#, "é€😀"),
        (#""""#, ""),
    ])
    func decodesEscapes(_ json: String, _ expected: String) throws {
        let doc = try Self.parsed(json)
        #expect(doc.kind(doc.root) == .string)
        #expect(doc.string(doc.root) == expected)
        #expect(doc.stringEquals(doc.root, expected))
        #expect(!doc.stringEquals(doc.root, expected + "x"))
        #expect(doc.hasPrefix(doc.root, String(expected.prefix(1))))
        #expect(doc.hasPrefix(doc.root, ""))
        #expect(!doc.hasPrefix(doc.root, expected + "x"))
        let bytes = doc.withStringBytes(doc.root) { Array($0) }
        #expect(bytes == Array(expected.utf8))
    }

    /// Canonical output: minified, duplicates resolved, strings re-escaped minimally, numbers verbatim.
    @Test(arguments: [
        (#"{ "a" : [ 1 , 2 ] }"#, #"{"a":[1,2]}"#),
        (#"{"a":1,"b":2,"a":3}"#, #"{"b":2,"a":3}"#),
        (#"{"a\u0062":1,"ab":2}"#, #"{"ab":2}"#),
        (#"{"a":{"b":1,"b":2},"c":[{"d":1,"d":{"e":[]}}]}"#, #"{"a":{"b":2},"c":[{"d":{"e":[]}}]}"#),
        (#""\/\u0041\u00e9""#, #""/Aé""#),
        (#""\u001F\u001f\u000a\u0009""#, #""\u001f\u001f\n\t""#),
        (#""\ud83d\ude00""#, #""😀""#),
        (#""q\"b\\""#, #""q\"b\\""#),
        ("12345678901234567891", "12345678901234567891"),
        ("[1.5e3,-0,0.0e-0,1E+2]", "[1.5e3,-0,0.0e-0,1E+2]"),
        ("  [ ]  ", "[]"),
        ("\t{ }\r\n", "{}"),
        (" true ", "true"),
        ("[null,false,true,{},[]]", "[null,false,true,{},[]]"),
        (#"{"k\"":"v\n"}"#, #"{"k\"":"v\n"}"#),
        (#"{"\u006b":1}"#, #"{"k":1}"#),
    ])
    func writesCanonically(_ json: String, _ expected: String) throws {
        let doc = try Self.parsed(json)
        #expect(Self.written(doc) == expected)
        #expect(JSONValue(doc, doc.root).serializedString() == expected)
    }

    @Test func writesSubtrees() throws {
        let text = #"{"x": [1, {"y" : "\u0041", "y": 2}], "z": "s"}"#
        let doc = try Self.parsed(text)
        #expect(Self.written(doc, doc.lookup(try JSONPath("x.1"))) == #"{"y":2}"#)
        #expect(Self.written(doc, doc.lookup(try JSONPath("x"))) == #"[1,{"y":2}]"#)
        #expect(Self.written(doc, doc.member(doc.root, "z")) == #""s""#)
        let minified = try Self.parsed(#"{"x":[1,{"y":"A"}],"z":"s"}"#)
        #expect(Self.written(minified, minified.lookup(try JSONPath("x.1"))) == #"{"y":"A"}"#)
        var w = JSONWriter()
        w.beginObject()
        doc.forEachMember(doc.root) { k, v in
            doc.writeKey(k, to: &w)
            doc.write(v, to: &w)
        }
        w.endObject()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"x":[1,{"y":2}],"z":"s"}"#)
    }

    @Test func writeKeyReescapesOnlyWhenNeeded() throws {
        let doc = try Self.parsed(#"{"a\/b":1,"c\"d":2,"e":3}"#)
        var keys: [String] = []
        doc.forEachMember(doc.root) { k, _ in
            var w = JSONWriter()
            doc.writeKey(k, to: &w)
            keys.append(String(decoding: w.bytes, as: UTF8.self))
        }
        #expect(keys == [#""a/b":"#, #""c\"d":"#, #""e":"#])
    }

    @Test func duplicateKeysLastWins() throws {
        let doc = try Self.parsed(#"{"a":1,"b":2,"a":3,"\u0062":4,"c":5}"#)
        #expect(doc.count(doc.root) == 3)
        #expect(doc.member(doc.root, "a").flatMap { doc.numberText($0) } == "3")
        #expect(doc.member(doc.root, "b").flatMap { doc.numberText($0) } == "4")
        var seen: [String] = []
        doc.forEachMember(doc.root) { k, v in seen.append(doc.key(k) + "=" + (doc.numberText(v) ?? "?")) }
        #expect(seen == ["a=3", "b=4", "c=5"])
        #expect(JSONValue(doc, doc.root)["a"] == .number("3"))
    }

    /// Objects with many members take the sorted-hash path; it must agree with the pairwise one.
    @Test func duplicateKeysInLargeObjects() throws {
        var members = (0..<100).map { #""k\#($0)":\#($0)"# }
        members.append(#""k5":"five""#)
        members.append(#""k\u0035\u0030":"fifty""#)
        let doc = try Self.parsed("{" + members.joined(separator: ",") + "}")
        #expect(doc.count(doc.root) == 100)
        #expect(doc.member(doc.root, "k5").flatMap { doc.string($0) } == "five")
        #expect(doc.member(doc.root, "k50").flatMap { doc.string($0) } == "fifty")
        #expect(doc.member(doc.root, "k99").flatMap { doc.numberText($0) } == "99")
        var count = 0
        doc.forEachMember(doc.root) { _, _ in count += 1 }
        #expect(count == 100)
        // Keys that collide on the quick hash (same length, same first and last eight bytes).
        let colliding = (0..<2_000).map { #""prefix__\#(String(1_000_000 + $0))__suffix":\#($0)"# }
        let big = try Self.parsed("{" + colliding.joined(separator: ",") + "," + colliding[7] + "}")
        #expect(big.count(big.root) == 2_000)
        #expect(big.member(big.root, "prefix__1000007__suffix").flatMap { big.numberText($0) } == "7")
    }

    @Test func bomAndTrailingCarriageReturnAreTolerated() throws {
        var doc = JSONDocument()
        try doc.parse([0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8) + [0x0D])
        #expect(String(decoding: doc.rawBytes(doc.root), as: UTF8.self) == #"{"a":1}"#)
        #expect(Self.written(doc) == #"{"a":1}"#)
        try doc.parse(#"{"a":1}"# + "\r\n")
        #expect(doc.count(doc.root) == 1)
    }

    @Test func numbersKeepTheirExactText() throws {
        let doc = try Self.parsed(#"{"id":12345678901234567891,"f":1.50,"e":-2E-10,"min":-9223372036854775808,"max":9223372036854775807,"over":9223372036854775808,"z":-0}"#)
        func text(_ k: String) -> String? { doc.member(doc.root, k).flatMap { doc.numberText($0) } }
        func int(_ k: String) -> Int64? { doc.member(doc.root, k).flatMap { doc.int64($0) } }
        #expect(text("id") == "12345678901234567891")
        #expect(int("id") == nil)
        #expect(text("f") == "1.50")
        #expect(int("f") == nil)
        #expect(text("e") == "-2E-10")
        #expect(int("min") == Int64.min)
        #expect(int("max") == Int64.max)
        #expect(int("over") == nil)
        #expect(int("z") == 0)
        #expect(Self.written(doc, doc.member(doc.root, "id")) == "12345678901234567891")
        #expect(JSONValue(doc, doc.root)["id"] == .number("12345678901234567891"))
        #expect(JSONValue(doc, doc.root)["max"]?.int64Value == Int64.max)
    }

    @Test func accessorsByKind() throws {
        let doc = try Self.parsed(#"[null,true,false,7,"s",[1,2,3],{"k":"v"}]"#)
        let kinds = (0..<7).map { doc.element(doc.root, $0).map { doc.kind($0) } }
        #expect(kinds == [.null, .bool, .bool, .number, .string, .array, .object])
        #expect(doc.element(doc.root, 7) == nil)
        #expect(doc.element(doc.root, -1) == nil)
        #expect(doc.count(doc.root) == 7)
        let e = { (i: Int) in doc.element(doc.root, i)! }
        #expect(doc.bool(e(1)) == true)
        #expect(doc.bool(e(2)) == false)
        #expect(doc.bool(e(0)) == nil)
        #expect(doc.string(e(3)) == nil)
        #expect(doc.numberText(e(4)) == nil)
        #expect(doc.count(e(3)) == 0)
        #expect(doc.count(e(5)) == 3)
        #expect(doc.element(e(5), 2).flatMap { doc.numberText($0) } == "3")
        #expect(doc.member(e(5), "k") == nil)
        #expect(doc.member(e(6), "k").flatMap { doc.string($0) } == "v")
        #expect(doc.member(e(6), "x") == nil)
        #expect(String(decoding: doc.rawBytes(e(4)), as: UTF8.self) == #""s""#)
        #expect(String(decoding: doc.rawBytes(e(6)), as: UTF8.self) == #"{"k":"v"}"#)
        var elements: [String] = []
        doc.forEachElement(e(5)) { elements.append(doc.numberText($0) ?? "") }
        #expect(elements == ["1", "2", "3"])
        doc.forEachMember(e(6)) { k, _ in
            #expect(doc.keyEquals(k, "k"))
            #expect(!doc.keyEquals(k, "kk"))
            #expect(doc.key(k) == "k")
        }
    }

    @Test func keysWithEscapesCompareDecoded() throws {
        let doc = try Self.parsed(#"{"caf\u00e9":1,"a\"b":2,"":3}"#)
        #expect(doc.member(doc.root, "café").flatMap { doc.numberText($0) } == "1")
        #expect(doc.member(doc.root, "a\"b").flatMap { doc.numberText($0) } == "2")
        #expect(doc.member(doc.root, "").flatMap { doc.numberText($0) } == "3")
        var keys: [String] = []
        doc.forEachMember(doc.root) { k, _ in keys.append(doc.key(k)) }
        #expect(keys == ["café", "a\"b", ""])
    }

    @Test func documentsAreReusableValues() throws {
        var doc = JSONDocument()
        try doc.parse(#"{"a":"first","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#)
        let copy = doc
        let slice = doc.rawBytes(doc.member(doc.root, "a")!)
        try doc.parse(#"{"a":"second"}"#)
        #expect(doc.member(doc.root, "a").flatMap { doc.string($0) } == "second")
        #expect(copy.member(copy.root, "a").flatMap { copy.string($0) } == "first")
        #expect(String(decoding: slice, as: UTF8.self) == #""first""#)
        // Grows past the initial tape capacity and back.
        let many = "[" + (0..<5_000).map(String.init).joined(separator: ",") + "]"
        try doc.parse(many)
        #expect(doc.count(doc.root) == 5_000)
        #expect(doc.element(doc.root, 4_999).flatMap { doc.numberText($0) } == "4999")
        try doc.parse("1")
        #expect(doc.numberText(doc.root) == "1")
        // The grown buffer brings its own stack of open containers, deep enough for maxDepth.
        try doc.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))
        #expect(doc.count(doc.root) == 1)
        #expect(throws: JSONError(reason: "nesting deeper than 64", offset: 64)) {
            try doc.parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))
        }
        var fromSlice = JSONDocument()
        let bytes = Array(#"xx{"k":true}yy"#.utf8)
        try fromSlice.parse(bytes[2..<12])
        #expect(fromSlice.member(fromSlice.root, "k").flatMap { fromSlice.bool($0) } == true)
        try bytes[2..<12].withUnsafeBytes { try fromSlice.parse($0) }
        #expect(fromSlice.count(fromSlice.root) == 1)
    }

    @Test func topLevelScalars() throws {
        let null = try Self.parsed("null")
        #expect(null.kind(null.root) == .null)
        let five = try Self.parsed(" 5 ")
        #expect(five.numberText(five.root) == "5")
        let s = try Self.parsed(#""s""#)
        #expect(s.string(s.root) == "s")
    }

    /// The string scanner reads eight bytes at a time: put every kind of special byte at every offset.
    @Test func stringScanningAtEveryAlignment() throws {
        var doc = JSONDocument()
        for prefix in 0..<20 {
            let pad = String(repeating: "a", count: prefix)
            for (inner, decoded) in [("", ""), (#"\n"#, "\n"), ("é", "é"), ("😀", "😀"), (#"\u00e9"#, "é"), (#"\""#, "\"")] {
                let text = "[\"" + pad + inner + pad + "\",\"" + pad + "\"]"
                try doc.parse(text)
                let expected = pad + decoded + pad
                #expect(doc.element(doc.root, 0).flatMap { doc.string($0) } == expected, "\(text)")
                #expect(doc.element(doc.root, 1).flatMap { doc.string($0) } == pad)
            }
            #expect(throws: JSONError(reason: "unescaped control character 0x0A in string", offset: 2 + prefix)) {
                try doc.parse("[\"" + pad + "\n" + pad + "\"]")
            }
            #expect(throws: JSONError(reason: "invalid UTF-8 byte 0xFF", offset: 2 + prefix)) {
                try doc.parse([0x5B, 0x22] + Array(pad.utf8) + [0xFF] + Array(pad.utf8) + [0x22, 0x5D])
            }
            #expect(throws: JSONError(reason: "unterminated string", offset: 1)) {
                try doc.parse("[\"" + pad)
            }
        }
    }
}
