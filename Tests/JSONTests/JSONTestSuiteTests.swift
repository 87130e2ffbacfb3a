import JSON
import Testing

@Suite struct JSONTestSuiteTests {
    @Test func corpusIsPresent() {
        #expect(Corpus.files(prefix: "y_").count > 90, "JSONTestSuite missing in \(Corpus.directory.path)")
        #expect(Corpus.files(prefix: "n_").count > 180, "JSONTestSuite missing in \(Corpus.directory.path)")
        #expect(Corpus.files(prefix: "i_").count > 30, "JSONTestSuite missing in \(Corpus.directory.path)")
    }

    @Test(arguments: Corpus.files(prefix: "y_"))
    func accepts(_ name: String) {
        var doc = JSONDocument()
        #expect(throws: Never.self, "\(name)") { try doc.parse(Corpus.bytes(name)) }
    }

    @Test(arguments: Corpus.files(prefix: "n_"))
    func rejects(_ name: String) {
        var doc = JSONDocument()
        #expect(throws: JSONError.self, "\(name)") { try doc.parse(Corpus.bytes(name)) }
    }

    /// How each implementation-defined (`i_`) file goes. Large or tiny numbers are accepted (their text
    /// is kept, never converted); anything that would not decode to valid Unicode (lone surrogates, invalid
    /// UTF-8, UTF-16) is rejected; a leading UTF-8 BOM is tolerated; nesting is limited to 64.
    static let implementationDefined: [String: Bool] = [
        "i_number_double_huge_neg_exp.json": true,
        "i_number_huge_exp.json": true,
        "i_number_neg_int_huge_exp.json": true,
        "i_number_pos_double_huge_exp.json": true,
        "i_number_real_neg_overflow.json": true,
        "i_number_real_pos_overflow.json": true,
        "i_number_real_underflow.json": true,
        "i_number_too_big_neg_int.json": true,
        "i_number_too_big_pos_int.json": true,
        "i_number_very_big_negative_int.json": true,
        "i_object_key_lone_2nd_surrogate.json": false,
        "i_string_1st_surrogate_but_2nd_missing.json": false,
        "i_string_1st_valid_surrogate_2nd_invalid.json": false,
        "i_string_UTF-16LE_with_BOM.json": false,
        "i_string_UTF-8_invalid_sequence.json": false,
        "i_string_UTF8_surrogate_U+D800.json": false,
        "i_string_incomplete_surrogate_and_escape_valid.json": false,
        "i_string_incomplete_surrogate_pair.json": false,
        "i_string_incomplete_surrogates_escape_valid.json": false,
        "i_string_invalid_lonely_surrogate.json": false,
        "i_string_invalid_surrogate.json": false,
        "i_string_invalid_utf-8.json": false,
        "i_string_inverted_surrogates_U+1D11E.json": false,
        "i_string_iso_latin_1.json": false,
        "i_string_lone_second_surrogate.json": false,
        "i_string_lone_utf8_continuation_byte.json": false,
        "i_string_not_in_unicode_range.json": false,
        "i_string_overlong_sequence_2_bytes.json": false,
        "i_string_overlong_sequence_6_bytes.json": false,
        "i_string_overlong_sequence_6_bytes_null.json": false,
        "i_string_truncated-utf-8.json": false,
        "i_string_utf16BE_no_BOM.json": false,
        "i_string_utf16LE_no_BOM.json": false,
        "i_structure_500_nested_arrays.json": false,
        "i_structure_UTF-8_BOM_empty_object.json": true,
    ]

    @Test func everyImplementationDefinedFileIsRecorded() {
        #expect(Set(Corpus.files(prefix: "i_")) == Set(Self.implementationDefined.keys))
    }

    @Test(arguments: Corpus.files(prefix: "i_"))
    func implementationDefined(_ name: String) {
        var doc = JSONDocument()
        let accepted = (try? doc.parse(Corpus.bytes(name))) != nil
        #expect(accepted == Self.implementationDefined[name], "\(name)")
    }

    /// Writing is canonical and stable: write(parse(write(parse(x)))) == write(parse(x)), and the tree is kept.
    @Test(arguments: Corpus.files(prefix: "y_"))
    func writeRoundTrips(_ name: String) throws {
        var doc = JSONDocument()
        try doc.parse(Corpus.bytes(name))
        var w = JSONWriter()
        doc.write(doc.root, to: &w)
        let first = w.bytes
        let tree = JSONValue(doc, doc.root)
        try doc.parse(first)
        w.reset()
        doc.write(doc.root, to: &w)
        #expect(w.bytes == first, "\(name)")
        #expect(JSONValue(doc, doc.root) == tree, "\(name)")
        #expect(tree.serialized() == first, "\(name)")
    }
}
