/// Entry points of the TOML 1.0.0 parser.
///
/// ```swift
/// let config = try TOML.parse(utf8: fileBytes)      // throws TOMLError with line:column
/// let rules = config["rule"]?.array                 // [[rule]] sections, in order
/// ```
///
/// The whole document is checked: duplicate keys, redefined tables, bad escapes, out-of-range
/// numbers and dates, control characters and invalid UTF-8 are all errors, each reported at the
/// first offending character. Positions are 1-based; columns count Unicode scalars.
public enum TOML {
    /// Parses a document from its bytes. Invalid UTF-8 is an error (a `String` would have
    /// silently replaced it), so prefer this for files. A leading byte order mark is skipped.
    public static func parse(utf8 bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        if let bad = UTF8Validation.firstInvalidOffset(bytes) {
            let parser = Parser(bytes: bytes)
            throw TOMLError(
                "invalid UTF-8 (byte 0x\(Parser.hex(UInt32(bytes[bad]), width: 2))): a TOML document must be UTF-8",
                at: parser.scanPosition(at: bad))
        }
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses a document held in a string.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }
}
