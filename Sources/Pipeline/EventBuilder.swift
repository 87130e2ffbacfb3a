import JSON

/// Writes one event object for a line that a rule took, or says why the line is rejected.
///
/// Owns the reusable buffers of the hot path, so that in steady state an event costs no
/// allocation beyond the bytes that go out. Values the line holds are copied as JSON
/// (`JSONDocument.write`) or as decoded bytes, never through `String`.
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
///
/// Everything is appended to `event` directly: the frame from static strings, values from the
/// line through `JSONDocument.append` (canonical JSON, source bytes copied once when already
/// canonical) and `JSONWriter.appendQuoted`. Only members picked from several `properties_from`
/// objects go through a `JSONWriter` first. (Calling the writer's generic `raw`/`rawKey` from
/// this module costs a generic-metadata lookup per call, which measured as a sixth of the
/// mapping time: the hot path uses only non-generic calls into the JSON module.)
struct EventBuilder: Sendable {
    /// The event built by the last successful `build` (garbage after a rejection).
    private(set) var event = ByteBuffer(capacity: 1024)
    private var w = JSONWriter(capacity: 512)
    /// Decoded text of a mixed template.
    private var text: [UInt8] = []
    private var fromNodes: [JSONNode] = []
    /// Explicit properties evaluated once to learn which have a value (see `writeProperties`).
    private var explicit: [Evaluated] = []
    /// The date part of the last timestamp written: consecutive events share it.
    private var dateCache = Timestamp.DateCache()
    let eventIDKey: String?
    let eventIDPath: JSONPath?
    /// Every path the rules read; `cache` holds what they resolved to in the current line
    /// (reset by the mapper after each parse), so each is looked up once per line.
    let paths: JSONPathSet
    var cache = JSONPathCache()

    init(eventIDKey: String?, paths: JSONPathSet = JSONPathSet()) {
        self.paths = paths
        self.eventIDKey = eventIDKey
        eventIDPath = eventIDKey.map { JSONPath(components: [$0]) }
        text.reserveCapacity(256)
    }

    /// Appends literal JSON text (static strings: no allocation, no reference counting).
    @inline(__always)
    private mutating func append(_ literal: StaticString) {
        event.append(literal)
    }

    /// Why a line makes no event; a typed error so that throwing costs no existential box.
    struct Rejection: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Builds the event into `event`; returns the rejection reason instead when the line cannot
    /// make a valid event (`event` then holds garbage).
    mutating func build(
        _ rule: CompiledRule, _ doc: JSONDocument, readTime: Int64, sourceKey: UInt64, offset: Int64
    ) -> String? {
        // The one uniqueness check per event; the appends below then write through a pointer.
        event.makeUnique()
        event.removeAll()
        do throws(Rejection) {
            append(#"{"event_name":"#)
            try writeEventName(rule, doc)
            append(#","user_id":"#)
            try writeUserID(rule, doc)
            let stamp = try timestamp(rule, doc, readTime: readTime)
            append(#","timestamp":""#)
            stamp.write(to: &event, cache: &dateCache)
            append(#"","properties":"#)
            try writeProperties(rule, doc, sourceKey: sourceKey, offset: offset)
            try writeContext(rule, doc)
            event.append(UInt8(ascii: "}"))
            return nil
        } catch {
            return error.reason
        }
    }

    // MARK: - Evaluating templates

    /// A template's value in one line. `.text` means: the decoded string is in `text`.
    private enum Evaluated {
        case node(JSONNode)
        case text
        case constant(String)
        case missing(CompiledPlaceholder)
        case notText(CompiledPlaceholder, JSONKind)

        var hasValue: Bool {
            switch self {
            case .node, .text, .constant: true
            case .missing, .notText: false
            }
        }
    }

    /// `evaluate` with the fast path first: a template that is one path (`handle`, see
    /// `CompiledTemplate.singleHandle`) whose value is present is a node, without touching the
    /// template (copying it out of the rule costs a reference count each time). Anything else —
    /// no such handle, no value, a default, text — takes the general path.
    @inline(__always)
    private mutating func evaluate(_ handle: Int32, _ t: @autoclosure () -> CompiledTemplate, _ doc: JSONDocument) -> Evaluated {
        if handle != CompiledTemplate.noHandle, let n = doc.resolve(handle, in: paths, cache: &cache), doc.kind(n) != .null {
            return .node(n)
        }
        return evaluate(t(), doc)
    }

    private mutating func evaluate(_ t: CompiledTemplate, _ doc: JSONDocument) -> Evaluated {
        switch t {
        case .constant(let s):
            return .constant(s)
        case .single(let p):
            switch p.resolve(in: doc, paths, &cache) {
            case .node(let n): return .node(n)
            case .fallback: return .constant(p.fallback!)
            case .missing: return .missing(p)
            }
        case .mixed(let parts):
            text.removeAll(keepingCapacity: true)
            switch CompiledTemplate.render(parts, doc, paths, &cache, into: &text) {
            case .rendered: return .text
            case .missing(let p): return .missing(p)
            case .notText(let p, let kind): return .notText(p, kind)
            }
        }
    }

    private static func noValue(_ field: String, _ p: CompiledPlaceholder) -> Rejection {
        Rejection("\(field): no value at \(p.describedPaths)")
    }

    private static func notText(_ field: String, _ p: CompiledPlaceholder, _ kind: JSONKind) -> Rejection {
        Rejection("\(field): the value at \(p.describedPaths) is \(kind.phrase), which cannot be part of a text (only a template that is exactly one placeholder copies it)")
    }

    private static func wrongKind(_ field: String, _ p: CompiledPlaceholder, _ kind: JSONKind, wanted: String) -> Rejection {
        Rejection("\(field): expected \(wanted) at \(p.describedPaths), got \(kind.phrase)")
    }

    /// The placeholder of a `.single` template (for messages about a `.node` value).
    private static func placeholder(_ t: CompiledTemplate) -> CompiledPlaceholder? {
        if case .single(let p) = t { return p }
        return nil
    }

    // MARK: - Appending single values to `event`

    /// A value from the line. Scalars whose source text is already canonical (numbers, booleans,
    /// strings without escapes) are copied straight from the line; the rest goes through
    /// `JSONDocument.write`, which re-escapes strings minimally and minifies containers.
    private mutating func appendNode(_ n: JSONNode, _ doc: JSONDocument) {
        doc.append(n, to: &event)
    }

    private mutating func appendString(_ s: String) {
        JSONWriter.appendQuoted(s, to: &event)
    }

    private mutating func appendText() {
        text.withUnsafeBufferPointer { JSONWriter.appendQuoted(utf8: $0, to: &event) }
    }

    // MARK: - Fields

    private mutating func writeEventName(_ rule: CompiledRule, _ doc: JSONDocument) throws(Rejection) {
        if let quoted = rule.quotedEventName {
            event.append(quoted)
            return
        }
        switch evaluate(rule.eventNameHandle, rule.eventName, doc) {
        case .constant(let s):
            // Constants were renamed at compile time; defaults are renamed here.
            let name = rule.renames.first { $0.from == s }?.to ?? s
            guard !name.isEmpty else { throw Rejection("event_name: the event name is empty") }
            appendString(name)
        case .node(let n):
            let kind = doc.kind(n)
            guard kind == .string else {
                throw EventBuilder.wrongKind("event_name", EventBuilder.placeholder(rule.eventName)!, kind, wanted: "a string")
            }
            guard doc.rawBytes(n).count > 2 else {
                throw Rejection("event_name: empty string at \(EventBuilder.placeholder(rule.eventName)!.describedPaths)")
            }
            for r in rule.renames where doc.stringEquals(n, r.from) {
                appendString(r.to)
                return
            }
            appendNode(n, doc)
        case .text:
            guard !text.isEmpty else { throw Rejection("event_name: the event name is empty") }
            for r in rule.renames where r.fromUTF8 == text {
                appendString(r.to)
                return
            }
            appendText()
        case .missing(let p):
            throw EventBuilder.noValue("event_name", p)
        case .notText(let p, let kind):
            throw EventBuilder.notText("event_name", p, kind)
        }
    }

    /// A string as is, a number as its decimal text (`12345678901234567891` → `"12345678901234567891"`).
    private mutating func writeUserID(_ rule: CompiledRule, _ doc: JSONDocument) throws(Rejection) {
        if let quoted = rule.quotedUserID {
            event.append(quoted)
            return
        }
        switch evaluate(rule.userIDHandle, rule.userID, doc) {
        case .constant(let s):
            guard !s.isEmpty else { throw Rejection("user_id: the user id is empty") }
            appendString(s)
        case .node(let n):
            switch doc.kind(n) {
            case .string:
                guard doc.rawBytes(n).count > 2 else {
                    throw Rejection("user_id: empty string at \(EventBuilder.placeholder(rule.userID)!.describedPaths)")
                }
                appendNode(n, doc)
            case .number:
                // Number text never needs escaping.
                event.append(UInt8(ascii: "\""))
                doc.append(n, to: &event)
                event.append(UInt8(ascii: "\""))
            case let kind:
                throw EventBuilder.wrongKind("user_id", EventBuilder.placeholder(rule.userID)!, kind, wanted: "a string or a number")
            }
        case .text:
            guard !text.isEmpty else { throw Rejection("user_id: the user id is empty") }
            appendText()
        case .missing(let p):
            throw EventBuilder.noValue("user_id", p)
        case .notText(let p, let kind):
            throw EventBuilder.notText("user_id", p, kind)
        }
    }

    private mutating func timestamp(_ rule: CompiledRule, _ doc: JSONDocument, readTime: Int64) throws(Rejection) -> Timestamp {
        if let constant = rule.constantTimestamp { return constant }
        guard rule.timestamp != nil else { return Timestamp(epochNanoseconds: readTime) }
        let source: ArraySlice<UInt8>
        var isNumber = false
        switch evaluate(rule.timestampHandle, rule.timestamp!, doc) {
        case .constant(let s):
            source = ArraySlice(s.utf8)
        case .node(let n):
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
                throw EventBuilder.wrongKind("timestamp", EventBuilder.placeholder(rule.timestamp!)!, kind, wanted: "a string or a number")
            }
        case .text:
            source = text[...]
        case .missing(let p):
            guard rule.timestampMissing == .readTime else {
                throw Rejection("timestamp: no value at \(p.describedPaths) (set timestamp_missing = \"read_time\" to use the time the line was read)")
            }
            return Timestamp(epochNanoseconds: readTime)
        case .notText(let p, let kind):
            throw EventBuilder.notText("timestamp", p, kind)
        }
        do {
            return isNumber
                ? try Timestamp.parse(epoch: source, unit: rule.timestampUnit)
                : try Timestamp.parse(text: source, unit: rule.timestampUnit, assumedOffset: rule.timestampZone)
        } catch {
            throw Rejection("timestamp: \(EventBuilder.quoted(source, isNumber: isNumber)): \(error.reason)")
        }
    }

    /// A value for a message: at most 64 bytes, quoted unless a number.
    private static func quoted(_ value: ArraySlice<UInt8>, isNumber: Bool) -> String {
        let cut = value.count > 64 ? String(decoding: value.prefix(64), as: UTF8.self) + "…" : String(decoding: value, as: UTF8.self)
        return isNumber ? cut : "\"\(cut)\""
    }

    private mutating func writeProperties(
        _ rule: CompiledRule, _ doc: JSONDocument, sourceKey: UInt64, offset: Int64
    ) throws(Rejection) {
        fromNodes.removeAll(keepingCapacity: true)
        for (handle, described) in rule.propertiesFrom {
            guard let node = doc.resolve(handle, in: paths, cache: &cache) else { continue }
            let kind = doc.kind(node)
            if kind == .null { continue }
            guard kind == .object else { throw Rejection("properties_from: \"\(described)\" is \(kind.phrase), not an object") }
            fromNodes.append(node)
        }
        // One copied object is appended whole (and reopened); members picked from several go
        // through the writer (it places their commas). The explicit ones follow after a comma
        // when needed.
        var hasMembers = false
        if !fromNodes.isEmpty {
            // Which explicit properties have a value: those replace copied members.
            explicit.removeAll(keepingCapacity: true)
            for entry in rule.properties {
                let value = evaluate(entry.handle, entry.template, doc)
                if case .notText(let p, let kind) = value { throw EventBuilder.notText("properties.\(entry.key)", p, kind) }
                explicit.append(value)
            }
            if fromNodes.count == 1, doc.count(fromNodes[0]) > 0,
               EventBuilder.copiesWhole(fromNodes[0], rule, doc, explicit: explicit, eventIDPath: eventIDPath) {
                // The usual case: one object, nothing to leave out. Copy it and reopen it.
                doc.append(fromNodes[0], to: &event)
                event.removeLast()   // `}`
                hasMembers = true
            } else {
                w.reset()
                w.beginObject()
                let nodes = fromNodes, explicit = explicit, eventIDKey = eventIDKey
                for i in nodes.indices {
                    doc.forEachMember(nodes[i]) { key, value in
                        if EventBuilder.isLeftOut(key, nodes[(i + 1)...], rule, doc, explicit: explicit, eventIDKey: eventIDKey) {
                            return
                        }
                        doc.writeKey(key, to: &w)
                        doc.write(value, to: &w)
                    }
                }
                hasMembers = w.bytes.count > 1
                event.append(w.bytes)
            }
            try appendEntries(rule.properties, "properties", doc, hasMembers: &hasMembers, evaluated: true)
        } else {
            event.append(UInt8(ascii: "{"))
            try appendEntries(rule.properties, "properties", doc, hasMembers: &hasMembers, evaluated: false)
        }
        if let eventIDKey {
            if hasMembers { event.append(UInt8(ascii: ",")) }
            appendString(eventIDKey)
            append(#":""#)
            EventID.appendHex(EventID.hash(sourceKey: sourceKey, offset: offset), to: &event)
            event.append(UInt8(ascii: "\""))
        }
        event.append(UInt8(ascii: "}"))
    }

    /// Appends `"key":value` for each entry with a value, after a comma when `hasMembers`.
    /// With `evaluated`, values come from `explicit` (except text, whose buffer was reused).
    private mutating func appendEntries(
        _ entries: [CompiledRule.Entry], _ table: String, _ doc: JSONDocument, hasMembers: inout Bool, evaluated: Bool = false
    ) throws(Rejection) {
        for (i, entry) in entries.enumerated() {
            var value: Evaluated
            if evaluated {
                value = explicit[i]
                if case .text = value { value = evaluate(entry.template, doc) }
            } else {
                value = evaluate(entry.handle, entry.template, doc)
            }
            switch value {
            case .missing: continue
            case .notText(let p, let kind): throw EventBuilder.notText("\(table).\(entry.key)", p, kind)
            default: break
            }
            if hasMembers { event.append(UInt8(ascii: ",")) }
            hasMembers = true
            event.append(entry.keyPrefix)
            switch value {
            case .node(let n): appendNode(n, doc)
            case .constant(let s): appendString(s)
            case .text: appendText()
            case .missing, .notText: break
            }
        }
    }

    /// True when no member of `object` is dropped, replaced or reserved for the event id.
    private static func copiesWhole(
        _ object: JSONNode, _ rule: CompiledRule, _ doc: JSONDocument, explicit: [Evaluated], eventIDPath: JSONPath?
    ) -> Bool {
        for drop in rule.dropPaths where doc.lookup(drop, from: object) != nil { return false }
        if let eventIDPath, doc.lookup(eventIDPath, from: object) != nil { return false }
        for (j, entry) in rule.properties.enumerated() where explicit[j].hasValue && doc.lookup(entry.keyPath, from: object) != nil {
            return false
        }
        return true
    }

    /// A copied member that is dropped, replaced by an explicit property or a later object, or
    /// has the event id's key.
    private static func isLeftOut(
        _ key: JSONKey, _ laterObjects: ArraySlice<JSONNode>, _ rule: CompiledRule, _ doc: JSONDocument,
        explicit: [Evaluated], eventIDKey: String?
    ) -> Bool {
        for drop in rule.dropProperties where doc.keyEquals(key, drop) { return true }
        if let eventIDKey, doc.keyEquals(key, eventIDKey) { return true }
        for j in rule.properties.indices where explicit[j].hasValue && doc.keyEquals(key, rule.properties[j].key) { return true }
        for later in laterObjects where EventBuilder.has(doc, later, key) { return true }
        return false
    }

    /// `,"context":{…}`, left out when no entry has a value.
    private mutating func writeContext(_ rule: CompiledRule, _ doc: JSONDocument) throws(Rejection) {
        guard !rule.context.isEmpty else { return }
        let mark = event.count
        append(#","context":{"#)
        var hasMembers = false
        try appendEntries(rule.context, "context", doc, hasMembers: &hasMembers)
        if hasMembers {
            event.append(UInt8(ascii: "}"))
        } else {
            event.truncate(to: mark)
        }
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
