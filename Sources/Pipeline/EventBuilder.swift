import JSON

/// Writes one event object for a line that a rule took, or says why the line is rejected.
///
/// Owns the reusable buffers of the hot path (the writer and two scratch arrays), so that in
/// steady state an event costs no allocation beyond the bytes that go out. Values the line
/// holds are copied as JSON (`JSONDocument.write`) or as decoded bytes, never through `String`.
///
/// The object's keys always come in this order, `properties` always present, `context` only
/// when it has a member:
///
/// ```
/// {"event_name":…,"user_id":…,"timestamp":"…Z","properties":{…},"context":{…}}
/// ```
///
/// `properties` is built as: members of the `properties_from` objects (a later object wins on
/// an equal key), then the explicit `properties` (winning over copied ones when they have a
/// value; an explicit property without a value leaves a copied one alone), minus
/// `drop_properties`, plus the event id when `event_id_key` is set.
struct EventBuilder: Sendable {
    var writer = JSONWriter(capacity: 1024)
    /// Decoded text of a mixed template.
    private var text: [UInt8] = []
    /// `"…Z"` and event-id scratch.
    private var small: [UInt8] = []
    private var fromNodes: [JSONNode] = []
    private var present: [Bool] = []
    let eventIDKey: String?
    let eventIDQuotedKey: [UInt8]

    init(eventIDKey: String?) {
        self.eventIDKey = eventIDKey
        var w = JSONWriter()
        if let eventIDKey { w.string(eventIDKey) }
        eventIDQuotedKey = w.bytes
        text.reserveCapacity(256)
        small.reserveCapacity(32)
    }

    private static let eventNameKey = Array(#""event_name""#.utf8)
    private static let userIDKey = Array(#""user_id""#.utf8)
    private static let timestampKey = Array(#""timestamp""#.utf8)
    private static let propertiesKey = Array(#""properties""#.utf8)
    private static let contextKey = Array(#""context""#.utf8)

    /// Builds the event into `writer.bytes`; returns the rejection reason instead when the line
    /// cannot make a valid event (the writer then holds garbage).
    mutating func build(
        _ rule: CompiledRule, _ doc: JSONDocument, readTime: Int64, sourceKey: UInt64, offset: Int64
    ) -> String? {
        writer.reset()
        writer.beginObject()
        writer.rawKey(EventBuilder.eventNameKey)
        if let reason = writeEventName(rule, doc) { return reason }
        writer.rawKey(EventBuilder.userIDKey)
        if let reason = writeUserID(rule, doc) { return reason }
        writer.rawKey(EventBuilder.timestampKey)
        if let reason = writeTimestamp(rule, doc, readTime: readTime) { return reason }
        writer.rawKey(EventBuilder.propertiesKey)
        if let reason = writeProperties(rule, doc, sourceKey: sourceKey, offset: offset) { return reason }
        if let reason = writeContext(rule, doc) { return reason }
        writer.endObject()
        return nil
    }

    // MARK: - Evaluating templates

    /// A template's value in one line. `.text` means: the decoded string is in `text`.
    private enum Evaluated {
        case node(JSONNode)
        case text
        case constant(String)
        case missing(CompiledPlaceholder)
        case notText(CompiledPlaceholder, JSONKind)
    }

    private mutating func evaluate(_ t: CompiledTemplate, _ doc: JSONDocument) -> Evaluated {
        switch t {
        case .constant(let s):
            return .constant(s)
        case .single(let p):
            switch p.resolve(in: doc) {
            case .node(let n): return .node(n)
            case .fallback: return .constant(p.fallback!)
            case .missing: return .missing(p)
            }
        case .mixed(let parts):
            text.removeAll(keepingCapacity: true)
            switch CompiledTemplate.render(parts, doc, into: &text) {
            case .rendered: return .text
            case .missing(let p): return .missing(p)
            case .notText(let p, let kind): return .notText(p, kind)
            }
        }
    }

    private static func noValue(_ field: String, _ p: CompiledPlaceholder) -> String {
        "\(field): no value at \(p.describedPaths)"
    }

    private static func notText(_ field: String, _ p: CompiledPlaceholder, _ kind: JSONKind) -> String {
        "\(field): the value at \(p.describedPaths) is \(kind.phrase), which cannot be part of a text (only a template that is exactly one placeholder copies it)"
    }

    private static func wrongKind(_ field: String, _ p: CompiledPlaceholder, _ kind: JSONKind, wanted: String) -> String {
        "\(field): expected \(wanted) at \(p.describedPaths), got \(kind.phrase)"
    }

    // MARK: - Fields

    private mutating func writeEventName(_ rule: CompiledRule, _ doc: JSONDocument) -> String? {
        switch evaluate(rule.eventName, doc) {
        case .constant(let s):
            // Constants were renamed at compile time; defaults are renamed here.
            let name = rule.renames.first { $0.from == s }?.to ?? s
            guard !name.isEmpty else { return "event_name: the event name is empty" }
            writer.string(name)
        case .node(let n):
            guard case .single(let p) = rule.eventName else { return nil }
            let kind = doc.kind(n)
            guard kind == .string else { return EventBuilder.wrongKind("event_name", p, kind, wanted: "a string") }
            guard doc.rawBytes(n).count > 2 else { return "event_name: empty string at \(p.describedPaths)" }
            for r in rule.renames where doc.stringEquals(n, r.from) {
                writer.string(r.to)
                return nil
            }
            doc.write(n, to: &writer)
        case .text:
            guard !text.isEmpty else { return "event_name: the event name is empty" }
            for r in rule.renames where r.fromUTF8 == text {
                writer.string(r.to)
                return nil
            }
            writer.string(utf8: text)
        case .missing(let p):
            return EventBuilder.noValue("event_name", p)
        case .notText(let p, let kind):
            return EventBuilder.notText("event_name", p, kind)
        }
        return nil
    }

    /// A string as is, a number as its decimal text (`12345678901234567891` → `"12345678901234567891"`).
    private mutating func writeUserID(_ rule: CompiledRule, _ doc: JSONDocument) -> String? {
        switch evaluate(rule.userID, doc) {
        case .constant(let s):
            guard !s.isEmpty else { return "user_id: the user id is empty" }
            writer.string(s)
        case .node(let n):
            guard case .single(let p) = rule.userID else { return nil }
            switch doc.kind(n) {
            case .string:
                guard doc.rawBytes(n).count > 2 else { return "user_id: empty string at \(p.describedPaths)" }
                doc.write(n, to: &writer)
            case .number:
                writer.string(utf8: doc.rawBytes(n))
            case let kind:
                return EventBuilder.wrongKind("user_id", p, kind, wanted: "a string or a number")
            }
        case .text:
            guard !text.isEmpty else { return "user_id: the user id is empty" }
            writer.string(utf8: text)
        case .missing(let p):
            return EventBuilder.noValue("user_id", p)
        case .notText(let p, let kind):
            return EventBuilder.notText("user_id", p, kind)
        }
        return nil
    }

    private mutating func writeTimestamp(_ rule: CompiledRule, _ doc: JSONDocument, readTime: Int64) -> String? {
        let stamp: Timestamp
        if let constant = rule.constantTimestamp {
            stamp = constant
        } else if let template = rule.timestamp {
            let source: ArraySlice<UInt8>
            var isNumber = false
            switch evaluate(template, doc) {
            case .constant(let s):
                source = ArraySlice(s.utf8)
            case .node(let n):
                guard case .single(let p) = template else { return nil }
                let raw = doc.rawBytes(n)
                switch doc.kind(n) {
                case .number:
                    source = raw
                    isNumber = true
                case .string:
                    if raw.contains(UInt8(ascii: "\\")) {
                        text.removeAll(keepingCapacity: true)
                        _ = doc.withStringBytes(n) { text.append(contentsOf: $0) }
                        source = text[...]
                    } else {
                        source = raw.dropFirst().dropLast()
                    }
                case let kind:
                    return EventBuilder.wrongKind("timestamp", p, kind, wanted: "a string or a number")
                }
            case .text:
                source = text[...]
            case .missing(let p):
                guard rule.timestampMissing == .readTime else {
                    return EventBuilder.noValue("timestamp", p) + " (set timestamp_missing = \"read_time\" to use the time the line was read)"
                }
                return writeStamp(Timestamp(epochNanoseconds: readTime))
            case .notText(let p, let kind):
                return EventBuilder.notText("timestamp", p, kind)
            }
            do {
                stamp = isNumber
                    ? try Timestamp.parse(epoch: source, unit: rule.timestampUnit)
                    : try Timestamp.parse(text: source, unit: rule.timestampUnit)
            } catch {
                return "timestamp: \(EventBuilder.quoted(source, isNumber: isNumber)): \(error.reason)"
            }
        } else {
            stamp = Timestamp(epochNanoseconds: readTime)
        }
        return writeStamp(stamp)
    }

    private mutating func writeStamp(_ stamp: Timestamp) -> String? {
        small.removeAll(keepingCapacity: true)
        small.append(UInt8(ascii: "\""))
        stamp.write(to: &small)
        small.append(UInt8(ascii: "\""))
        writer.raw(small)
        return nil
    }

    /// A value for a message: at most 64 bytes, quoted unless a number.
    private static func quoted(_ value: ArraySlice<UInt8>, isNumber: Bool) -> String {
        let cut = value.count > 64 ? String(decoding: value.prefix(64), as: UTF8.self) + "…" : String(decoding: value, as: UTF8.self)
        return isNumber ? cut : "\"\(cut)\""
    }

    private mutating func writeProperties(
        _ rule: CompiledRule, _ doc: JSONDocument, sourceKey: UInt64, offset: Int64
    ) -> String? {
        writer.beginObject()
        fromNodes.removeAll(keepingCapacity: true)
        for (path, described) in rule.propertiesFrom {
            guard let node = path.map({ doc.lookup($0) }) ?? doc.root else { continue }
            let kind = doc.kind(node)
            if kind == .null { continue }
            guard kind == .object else { return "properties_from: \"\(described)\" is \(kind.phrase), not an object" }
            fromNodes.append(node)
        }
        if !fromNodes.isEmpty {
            // Which explicit properties have a value: those replace copied members.
            present.removeAll(keepingCapacity: true)
            for entry in rule.properties {
                switch evaluate(entry.template, doc) {
                case .missing: present.append(false)
                case .notText(let p, let kind): return EventBuilder.notText("properties.\(entry.key)", p, kind)
                default: present.append(true)
                }
            }
            for i in fromNodes.indices {
                let node = fromNodes[i]
                doc.forEachMember(node) { key, value in
                    for drop in rule.dropProperties where doc.keyEquals(key, drop) { return }
                    if let eventIDKey, doc.keyEquals(key, eventIDKey) { return }
                    for (j, entry) in rule.properties.enumerated() where present[j] && doc.keyEquals(key, entry.key) { return }
                    for later in fromNodes[(i + 1)...] where EventBuilder.has(doc, later, key) { return }
                    doc.writeKey(key, to: &writer)
                    doc.write(value, to: &writer)
                }
            }
        }
        var opened = true
        if let reason = writeEntries(rule.properties, "properties", doc, lazyHead: nil, opened: &opened) { return reason }
        if eventIDKey != nil {
            writer.rawKey(eventIDQuotedKey)
            small.removeAll(keepingCapacity: true)
            EventID.appendHex(EventID.hash(sourceKey: sourceKey, offset: offset), to: &small)
            writer.string(utf8: small)
        }
        writer.endObject()
        return nil
    }

    private mutating func writeContext(_ rule: CompiledRule, _ doc: JSONDocument) -> String? {
        var opened = false
        if let reason = writeEntries(rule.context, "context", doc, lazyHead: EventBuilder.contextKey, opened: &opened) {
            return reason
        }
        if opened { writer.endObject() }
        return nil
    }

    /// Writes each entry with a value. With a `lazyHead` key, `"key":{` is written before the
    /// first entry that has a value (so an empty context is left out), and `opened` set.
    private mutating func writeEntries(
        _ entries: [CompiledRule.Entry], _ table: String, _ doc: JSONDocument, lazyHead: [UInt8]?, opened: inout Bool
    ) -> String? {
        for entry in entries {
            let value = evaluate(entry.template, doc)
            switch value {
            case .missing: continue
            case .notText(let p, let kind): return EventBuilder.notText("\(table).\(entry.key)", p, kind)
            default: break
            }
            if !opened, let lazyHead {
                writer.rawKey(lazyHead)
                writer.beginObject()
                opened = true
            }
            writer.rawKey(entry.quotedKey)
            switch value {
            case .node(let n): doc.write(n, to: &writer)
            case .constant(let s): writer.string(s)
            case .text: writer.string(utf8: text)
            case .missing, .notText: break
            }
        }
        return nil
    }

    /// Whether `object` has a member whose decoded key equals `key` (from another object).
    private static func has(_ doc: JSONDocument, _ object: JSONNode, _ key: JSONKey) -> Bool {
        let raw = doc.rawKeyBytes(key)
        let escaped = raw.contains(UInt8(ascii: "\\"))
        var found = false
        doc.forEachMember(object) { other, _ in
            if found { return }
            let otherRaw = doc.rawKeyBytes(other)
            if escaped || otherRaw.contains(UInt8(ascii: "\\")) {
                found = doc.key(other) == doc.key(key)   // rare: keys written with escapes
            } else {
                found = otherRaw.elementsEqual(raw)
            }
        }
        return found
    }
}
