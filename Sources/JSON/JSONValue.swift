/// A small owned JSON tree for paths where convenience beats speed: checkpoint files, tests, printing
/// configuration. Numbers keep their exact text, objects keep member order (and, when built by hand,
/// whatever duplicates the caller put in; parsing resolves duplicates last-wins).
///
/// Building from a document recurses once per nesting level, so depth is bounded by the document's
/// `maxDepth` (64 by default); do not raise that to extreme values for `JSONValue` parsing.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// Parses with the same strict rules as `JSONDocument.parse`.
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = 64) throws(JSONError) {
        var doc = JSONDocument(maxDepth: maxDepth)
        let error: JSONError? =
            bytes.withContiguousStorageIfAvailable { doc.parseBytes(UnsafeRawBufferPointer($0)) }
            ?? Array(bytes).withUnsafeBytes { doc.parseBytes($0) }
        if let error { throw error }
        self.init(doc, doc.root)
    }

    public init(parsing string: String) throws(JSONError) {
        try self.init(parsing: Array(string.utf8))
    }

    /// A copy of the node's subtree, with duplicate keys already resolved (last wins).
    public init(_ doc: JSONDocument, _ node: JSONNode) {
        switch doc.kind(node) {
        case .null: self = .null
        case .bool: self = .bool(doc.bool(node) ?? false)
        case .number: self = .number(doc.numberText(node) ?? "0")
        case .string: self = .string(doc.string(node) ?? "")
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(doc.count(node))
            doc.forEachElement(node) { elements.append(JSONValue(doc, $0)) }
            self = .array(elements)
        case .object:
            var members: [JSONMember] = []
            members.reserveCapacity(doc.count(node))
            doc.forEachMember(node) { k, v in members.append(JSONMember(key: doc.key(k), value: JSONValue(doc, v))) }
            self = .object(members)
        }
    }

    /// Minified JSON.
    public func serialized() -> [UInt8] {
        var w = JSONWriter()
        write(to: &w)
        return w.bytes
    }

    /// Minified JSON as a String.
    public func serializedString() -> String {
        String(decoding: serialized(), as: UTF8.self)
    }

    /// Appends the value, minified, as the writer's next value.
    public func write(to w: inout JSONWriter) {
        switch self {
        case .null: w.null()
        case .bool(let b): w.bool(b)
        case .number(let text): w.number(text: text)
        case .string(let s): w.string(s)
        case .array(let elements):
            w.beginArray()
            for e in elements { e.write(to: &w) }
            w.endArray()
        case .object(let members):
            w.beginObject()
            for m in members {
                w.key(m.key)
                m.value.write(to: &w)
            }
            w.endObject()
        }
    }

    /// The object member named `key` (the last one if repeated); nil if absent or not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    public var stringValue: String? {
        guard case .string(let s) = self else { return nil }
        return s
    }

    /// The number as Int64 when its text is an exact integer that fits (no fraction or exponent).
    public var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        var t = text
        return t.withUTF8 { parseInt64($0) }
    }
}

/// One member of a `JSONValue.object`.
public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}
