import JSON

/// One entry of `journalctl --output=json`, turned into the line the mapper sees.
///
/// The line is `MESSAGE` (the application's NDJSON line) with the entry's other fields spliced
/// in as one more member, `"journal"`, at the end of the object. Duplicate keys resolve last
/// wins, so `{journal._SYSTEMD_UNIT}` always finds the journal's field, and a parse error in the
/// message still points at the right byte (the splice comes after it). Nothing else in the
/// mapper changes: rules, templates and the dead letter work on this line like on any other.
///
/// | `MESSAGE` in the entry                       | line                                         |
/// |----------------------------------------------|----------------------------------------------|
/// | `"{\"event\":\"x\"}"` (a JSON object text)   | `{"event":"x","journal":{…}}`                |
/// | `"{}"`                                       | `{"journal":{…}}`                            |
/// | `[123, 34, …]` (bytes: not valid UTF-8, or control characters) | decoded, then as above      |
/// | `["a","b"]` (the field repeated)             | the first value                              |
/// | not an object (`"plain text"`, `"[1]"`)      | the message as it is: the mapper rejects it like any bad line |
/// | `null` (over journalctl's size limit) or missing | empty: rejected as invalid JSON           |
struct JournalEntry: Equatable {
    var cursor: String
    /// `__REALTIME_TIMESTAMP`, microseconds since the epoch (0 when missing).
    var realtime: Int64
    var line: [UInt8]

    /// `nil` for a line that is not a journal entry (not JSON, or no `__CURSOR`).
    static func decode(_ bytes: ArraySlice<UInt8>, document: inout JSONDocument, writer: inout JSONWriter) -> JournalEntry? {
        do { try document.parse(bytes) } catch { return nil }
        let root = document.root
        guard document.kind(root) == .object, let c = document.member(root, "__CURSOR"), let cursor = document.string(c) else { return nil }
        let realtime = document.member(root, "__REALTIME_TIMESTAMP").flatMap { document.string($0) }.flatMap { Int64($0) } ?? 0
        var message = document.member(root, "MESSAGE").map { messageBytes(document, $0) } ?? []
        while let last = message.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { message.removeLast() }

        var start = 0
        while start < message.count, message[start] == 0x20 || message[start] == 0x09 { start += 1 }
        guard start < message.count, message[start] == UInt8(ascii: "{"), message.last == UInt8(ascii: "}") else {
            return JournalEntry(cursor: cursor, realtime: realtime, line: message)
        }
        writer.reset()
        writer.beginObject()
        document.forEachMember(root) { key, value in
            if document.keyEquals(key, "MESSAGE") { return }
            document.writeKey(key, to: &writer)
            document.write(value, to: &writer)
        }
        writer.endObject()
        var line = message
        line.removeLast()   // the closing brace
        var k = line.count - 1
        while k >= 0, line[k] == 0x20 || line[k] == 0x09 || line[k] == 0x0A || line[k] == 0x0D { k -= 1 }
        if k >= 0 && line[k] != UInt8(ascii: "{") { line.append(UInt8(ascii: ",")) }
        line.append(contentsOf: #""journal":"#.utf8)
        line.append(contentsOf: writer.bytes)
        line.append(UInt8(ascii: "}"))
        return JournalEntry(cursor: cursor, realtime: realtime, line: line)
    }

    /// `decode` with its own buffers (tests, one-shot probes).
    static func decode(_ bytes: ArraySlice<UInt8>) -> JournalEntry? {
        var d = JSONDocument()
        var w = JSONWriter()
        return decode(bytes, document: &d, writer: &w)
    }

    /// A string's bytes, a byte array decoded, the first of a repeated field.
    static func messageBytes(_ d: JSONDocument, _ n: JSONNode) -> [UInt8] {
        switch d.kind(n) {
        case .string:
            return d.withStringBytes(n) { Array($0) } ?? []
        case .array:
            guard let first = d.element(n, 0) else { return [] }
            if d.kind(first) != .number { return messageBytes(d, first) }
            var out: [UInt8] = []
            out.reserveCapacity(d.count(n))
            d.forEachElement(n) { e in
                if let v = d.int64(e), (0...255).contains(v) { out.append(UInt8(v)) }
            }
            return out
        default:
            return []
        }
    }
}
