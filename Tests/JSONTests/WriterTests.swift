import JSON
import Testing

@Suite struct WriterTests {
    static func text(_ w: JSONWriter) -> String { String(decoding: w.bytes, as: UTF8.self) }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("a\"b\\c", #""a\"b\\c""#),
        ("\n\r\t\u{8}\u{C}", #""\n\r\t\b\f""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("\u{7F}/é€😀\u{2028}", "\"\u{7F}/é€😀\u{2028}\""),
        ("", #""""#),
    ])
    func escapesStrings(_ s: String, _ expected: String) throws {
        var w = JSONWriter()
        w.string(s)
        #expect(Self.text(w) == expected)
        var u = JSONWriter()
        u.string(utf8: Array(s.utf8))
        #expect(u.bytes == w.bytes)
        var l = JSONWriter()
        l.string(utf8: s.utf8)
        #expect(l.bytes == w.bytes)
        var doc = JSONDocument()
        try doc.parse(w.bytes)
        #expect(doc.string(doc.root) == s)
    }

    /// Every scalar below U+0800 and a sample above survive writer → parser unchanged.
    @Test func roundTripsAllSmallScalars() throws {
        var s = ""
        for v in 0..<0x800 { s.unicodeScalars.append(Unicode.Scalar(UInt32(v))!) }
        for v in [0xFFFD, 0xFEFF, 0xD7FF, 0xE000, 0x10000, 0x10FFFF, 0x1F600] { s.unicodeScalars.append(Unicode.Scalar(UInt32(v))!) }
        var w = JSONWriter()
        w.beginObject()
        w.key(s)
        w.string(s)
        w.endObject()
        var doc = JSONDocument()
        try doc.parse(w.bytes)
        #expect(doc.member(doc.root, s).flatMap { doc.string($0) } == s)
        var again = JSONWriter()
        doc.write(doc.root, to: &again)
        #expect(again.bytes == w.bytes)
    }

    @Test func placesCommas() {
        var w = JSONWriter(capacity: 64)
        w.beginObject()
        w.key("a"); w.int(1)
        w.key("b"); w.beginArray()
        w.int(-5); w.bool(true); w.bool(false); w.null(); w.number(text: "1.5e3"); w.raw(Array(#"{"x":[]}"#.utf8))
        w.beginObject(); w.endObject()
        w.beginArray(); w.endArray()
        w.string("s")
        w.endArray()
        w.key("c"); w.beginObject(); w.key("d"); w.string("e"); w.endObject()
        w.rawKey(Array(#""f""#.utf8)); w.int(Int64.min)
        w.key("g"); w.int(Int64.max)
        w.key("h"); w.int(0)
        w.endObject()
        #expect(Self.text(w) == #"{"a":1,"b":[-5,true,false,null,1.5e3,{"x":[]},{},[],"s"],"c":{"d":"e"},"f":-9223372036854775808,"g":9223372036854775807,"h":0}"#)
        w.reset()
        #expect(w.bytes.isEmpty)
        w.beginArray(); w.int(1); w.endArray()
        #expect(Self.text(w) == "[1]")
    }
}
