import JSON
import Testing

@Suite struct PathTests {
    @Test(arguments: [
        ("user.id", ["user", "id"]),
        ("props", ["props"]),
        ("items.0.sku", ["items", "0", "sku"]),
        ("@timestamp", ["@timestamp"]),
        (#"a\.b"#, ["a.b"]),
        (#"a\.b.c"#, ["a.b", "c"]),
        (#"a\\b"#, [#"a\b"#]),
        (#"a\\.b"#, [#"a\"#, "b"]),
        ("café.ü", ["café", "ü"]),
        ("a b.c-d", ["a b", "c-d"]),
    ])
    func parsesComponents(_ dotted: String, _ components: [String]) throws {
        let path = try JSONPath(dotted)
        #expect(path.components == components)
        #expect(try JSONPath(path.description) == path)
        #expect(JSONPath(components: components) == path)
    }

    @Test(arguments: ["", ".", ".a", "a.", "a..b", #"a\"#, #"a\b"#, #"\"#])
    func rejects(_ dotted: String) {
        #expect(throws: JSONPathError.self) { try JSONPath(dotted) }
    }

    @Test func errorMessageNamesThePath() {
        #expect(throws: JSONPathError(reason: #"path "a..b": empty component"#)) { try JSONPath("a..b") }
    }

    @Test func pathsAreHashableByComponents() throws {
        let set: Set<JSONPath> = [try JSONPath("a.b"), try JSONPath("a.b"), try JSONPath(#"a\.b"#)]
        #expect(set.count == 2)
        var p = try JSONPath("a.b")
        p.components = ["x"]
        #expect(p == (try JSONPath("x")))
    }

    static let document = #"""
        {"user":{"id":"u1","tags":["a","b"]},"items":[{"sku":"x"},{"sku":"y"}],"a.b":1,"0":"zero",
         "@timestamp":"t","nested":{"0":{"k":true}},"dup":{"v":1},"dup":{"v":2}}
        """#

    @Test(arguments: [
        ("user.id", #""u1""#),
        ("user.tags.1", #""b""#),
        ("items.1.sku", #""y""#),
        ("items.0", #"{"sku":"x"}"#),
        (#"a\.b"#, "1"),
        ("0", #""zero""#),
        ("@timestamp", #""t""#),
        ("nested.0.k", "true"),
        ("dup.v", "2"),
        ("items.2", nil),
        ("items.-1", nil),
        ("items.sku", nil),
        ("user.id.x", nil),
        ("user.missing", nil),
        ("a", nil),
        ("user.tags.01", nil),
        ("user.tags.0", #""a""#),
        ("items.99999999999999999999999", nil),
    ] as [(String, String?)])
    func lookup(_ dotted: String, _ expected: String?) throws {
        var doc = JSONDocument()
        try doc.parse(Self.document)
        let node = doc.lookup(try JSONPath(dotted))
        #expect(node.map { String(decoding: doc.rawBytes($0), as: UTF8.self) } == expected)
    }

    @Test func lookupFromANode() throws {
        var doc = JSONDocument()
        try doc.parse(Self.document)
        let user = try #require(doc.member(doc.root, "user"))
        let id = try #require(doc.lookup(try JSONPath("id"), from: user))
        #expect(doc.stringEquals(id, "u1"))
        #expect(doc.lookup(try JSONPath("user"), from: user) == nil)
    }
}
