/// A recursive-descent TOML 1.0 parser over UTF-8 bytes.
///
/// It reads statement by statement (`key = value`, `[header]`, `[[header]]`), hands every
/// definition to the `TableNode` tree, which enforces the redefinition rules, and tracks the
/// current line so that every key, value and error gets a line:column without a second pass.
/// Values nest (arrays, inline tables), so depth is limited by `maxDepth` instead of by the stack.
struct Parser {
    /// How deeply values may nest, counting both array/inline-table nesting and the keys of one
    /// dotted key; far beyond any configuration, and small enough for any thread's stack.
    static let maxDepth = 128

    let bytes: [UInt8]
    /// Where the document starts (after a byte order mark).
    let bodyStart: Int
    var index: Int
    var line = 1
    var lineStart: Int
    /// A byte offset on the current line and its column, the memo behind `here`.
    var knownColumnOffset = 0
    var knownColumn = 1
    let root: TableNode
    var current: TableNode

    init(bytes: [UInt8]) {
        self.bytes = bytes
        let hasBOM = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
        bodyStart = hasBOM ? 3 : 0
        index = bodyStart
        lineStart = bodyStart
        root = TableNode(kind: .explicit, position: .start, path: [])
        current = root
    }

    // MARK: - Cursor

    func peek(_ ahead: Int = 0) -> UInt8? {
        let at = index + ahead
        return at < bytes.count ? bytes[at] : nil
    }

    /// The line:column of a byte offset. Offsets on the current line are counted from its start;
    /// older ones (rare: only for messages about earlier text) by scanning from the beginning.
    func position(at offset: Int) -> TOMLPosition {
        if offset >= lineStart {
            return TOMLPosition(line: line, column: Self.scalarCount(bytes, from: lineStart, to: offset) + 1)
        }
        return scanPosition(at: offset)
    }

    /// The line:column of any offset, counted from the start of the document.
    func scanPosition(at offset: Int) -> TOMLPosition {
        var line = 1
        var start = bodyStart
        var at = bodyStart
        while at < offset && at < bytes.count {
            if bytes[at] == UInt8(ascii: "\n") {
                line += 1
                start = at + 1
            }
            at += 1
        }
        return TOMLPosition(line: line, column: Self.scalarCount(bytes, from: start, to: offset) + 1)
    }

    /// The position of the cursor. Counts only the scalars since the last position asked for on
    /// this line, so that a long line (a huge inline array) stays linear to parse.
    var here: TOMLPosition {
        mutating get {
            if knownColumnOffset < lineStart || knownColumnOffset > index {
                knownColumnOffset = lineStart
                knownColumn = 1
            }
            knownColumn += Self.scalarCount(bytes, from: knownColumnOffset, to: index)
            knownColumnOffset = index
            return TOMLPosition(line: line, column: knownColumn)
        }
    }

    func error(_ message: String, at offset: Int) -> TOMLError {
        TOMLError(message, at: position(at: offset))
    }

    static func scalarCount(_ bytes: [UInt8], from start: Int, to end: Int) -> Int {
        var count = 0
        var at = start
        while at < end && at < bytes.count {
            if bytes[at] & 0xC0 != 0x80 { count += 1 }
            at += 1
        }
        return count
    }

    /// What is at `offset`, for "expected X, found Y" messages.
    func describe(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of file" }
        let byte = bytes[offset]
        switch byte {
        case UInt8(ascii: "\n"): return "end of line"
        case UInt8(ascii: "\r"): return "a carriage return"
        case UInt8(ascii: "\t"): return "a tab"
        case 0..<0x20, 0x7F: return "control character U+" + Self.hex(UInt32(byte), width: 4)
        case 0x20..<0x7F: return "'" + String(UnicodeScalar(byte)) + "'"
        default:
            let scalar = Self.decodeScalar(bytes, at: offset)
            return "'" + String(Character(scalar)) + "' (U+" + Self.hex(scalar.value, width: 4) + ")"
        }
    }

    /// Decodes the scalar starting at `offset` of input already checked to be valid UTF-8.
    static func decodeScalar(_ bytes: [UInt8], at offset: Int) -> Unicode.Scalar {
        var iterator = bytes[offset...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let scalar) = decoder.decode(&iterator) { return scalar }
        return "\u{FFFD}"
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            index += 1
        }
    }

    /// Consumes LF or CRLF; a carriage return on its own is not a line ending in TOML.
    mutating func consumeNewline() throws(TOMLError) {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else {
                throw error("a carriage return must be followed by a line feed", at: index)
            }
            index += 1
        }
        index += 1
        line += 1
        lineStart = index
    }

    /// From `#` to the end of the line (not consuming the line ending).
    mutating func skipComment() throws(TOMLError) {
        index += 1
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n") { return }
            if Self.isControl(byte) {
                throw error("\(describe(at: index)) is not allowed in a comment", at: index)
            }
            index += 1
        }
    }

    /// Whitespace, comments and line endings, as allowed between the elements of an array.
    mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLError) {
        while true {
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "#"): try skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try consumeNewline()
            default: return
            }
        }
    }

    /// After a statement only whitespace and a comment may follow on its line.
    mutating func finishLine(after what: String) throws(TOMLError) {
        skipWhitespace()
        if peek() == UInt8(ascii: "#") { try skipComment() }
        switch peek() {
        case nil: return
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try consumeNewline()
        default: throw error("expected end of line after \(what), found \(describe(at: index))", at: index)
        }
    }

    // MARK: - Document

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        while true {
            skipWhitespace()
            switch peek() {
            case nil:
                return root.freeze()
            case UInt8(ascii: "#"):
                try skipComment()
                try finishLine(after: "a comment")
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try consumeNewline()
            case UInt8(ascii: "["):
                try parseHeader()
            default:
                let keys = try parseKeyValue(into: current)
                try finishLine(after: "the value of \(TableNode.display(keys.map(\.name)))")
            }
        }
    }

    /// `[a.b]` or `[[a.b]]`; makes the named table the target of the following key/values.
    mutating func parseHeader() throws(TOMLError) {
        let header = here
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipWhitespace()
        let keys = try parseKey()
        guard peek() == UInt8(ascii: "]") else {
            throw error("expected '\(isArray ? "]]" : "]")' to close the \(isArray ? "array of tables " : "table ")header, found \(describe(at: index))", at: index)
        }
        index += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else {
                throw error("expected ']]' to close the array of tables header, found \(describe(at: index))", at: index)
            }
            index += 1
            current = try root.appendTableArrayElement(keys, header: header)
        } else {
            current = try root.defineTable(keys, header: header)
        }
        try finishLine(after: "the header")
    }

    /// `key = value`, defined in `table`; returns the key for messages.
    @discardableResult
    mutating func parseKeyValue(into table: TableNode, depth: Int = 0) throws(TOMLError) -> [KeySegment] {
        let keys = try parseKey()
        guard peek() == UInt8(ascii: "=") else {
            throw error("expected '=' after key \(TableNode.display(keys.map(\.name))), found \(describe(at: index))", at: index)
        }
        index += 1
        skipWhitespace()
        let valuePosition = here
        let value = try parseValue(depth: depth + keys.count, path: table.path + keys.map(\.name))
        try table.assign(keys, value: value, at: valuePosition)
        return keys
    }

    /// A bare, quoted or dotted key; leaves the cursor after trailing whitespace.
    mutating func parseKey() throws(TOMLError) -> [KeySegment] {
        var keys: [KeySegment] = []
        while true {
            let position = here
            let name: String
            switch peek() {
            case UInt8(ascii: "\""):
                if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") {
                    throw error("a key cannot be a multi-line string", at: index)
                }
                name = try parseBasicString()
            case UInt8(ascii: "'"):
                if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") {
                    throw error("a key cannot be a multi-line string", at: index)
                }
                name = try parseLiteralString()
            case let byte? where Self.isBareKeyByte(byte):
                let start = index
                while let byte = peek(), Self.isBareKeyByte(byte) { index += 1 }
                name = String(decoding: bytes[start..<index], as: UTF8.self)
            default:
                let what = keys.isEmpty ? "a key" : "a key after '.'"
                throw error("expected \(what), found \(describe(at: index))", at: index)
            }
            keys.append(KeySegment(name: name, position: position))
            if keys.count > Self.maxDepth {
                throw TOMLError("key has more than \(Self.maxDepth) parts", at: position)
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { return keys }
            index += 1
            skipWhitespace()
        }
    }

    // MARK: - Values

    /// `path` names the value's key from the root, for messages about inline tables inside it.
    mutating func parseValue(depth: Int, path: [String]) throws(TOMLError) -> TOMLValue {
        guard depth <= Self.maxDepth else {
            throw error("values are nested more than \(Self.maxDepth) levels deep", at: index)
        }
        switch peek() {
        case UInt8(ascii: "\""):
            return .string(try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(try parseLiteralString())
        case UInt8(ascii: "["):
            return .array(try parseArray(depth: depth + 1, path: path))
        case UInt8(ascii: "{"):
            return .table(try parseInlineTable(depth: depth + 1, path: path))
        default:
            return try parseScalar()
        }
    }

    /// `[v, v, ...]`: newlines and comments are allowed between elements, and a trailing comma.
    mutating func parseArray(depth: Int, path: [String]) throws(TOMLError) -> TOMLArray {
        let open = here
        index += 1
        var array = TOMLArray(position: open)
        while true {
            try skipWhitespaceCommentsAndNewlines()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return array
            }
            if peek() == nil {
                throw error("unterminated array (opened at \(open)): expected ']'", at: index)
            }
            array.positions.append(here)
            array.elements.append(try parseValue(depth: depth, path: path))
            try skipWhitespaceCommentsAndNewlines()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return array
            case nil:
                throw error("unterminated array (opened at \(open)): expected ']'", at: index)
            default:
                throw error("expected ',' or ']' after an array element, found \(describe(at: index))", at: index)
            }
        }
    }

    /// `{ k = v, ... }` on one line, no trailing comma; complete once closed.
    mutating func parseInlineTable(depth: Int, path: [String]) throws(TOMLError) -> TOMLTable {
        let open = here
        index += 1
        let table = TableNode(kind: .explicit, position: open, path: path)
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return table.freeze()
        }
        while true {
            skipWhitespace()
            try checkInlineTableContinues(open: open)
            try parseKeyValue(into: table, depth: depth)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    throw error("a trailing comma is not allowed in an inline table", at: index)
                }
            case UInt8(ascii: "}"):
                index += 1
                return table.freeze()
            default:
                try checkInlineTableContinues(open: open)
                throw error("expected ',' or '}' after a value in an inline table, found \(describe(at: index))", at: index)
            }
        }
    }

    private func checkInlineTableContinues(open: TOMLPosition) throws(TOMLError) {
        switch peek() {
        case nil:
            throw error("unterminated inline table (opened at \(open)): expected '}'", at: index)
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            throw error("an inline table must be written on one line (opened at \(open)); use a [table] for more", at: index)
        case UInt8(ascii: "#"):
            throw error("a comment is not allowed inside an inline table (opened at \(open))", at: index)
        default:
            return
        }
    }
}
