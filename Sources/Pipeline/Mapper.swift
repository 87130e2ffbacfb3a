import JSON

/// Turns log lines into Track API events by the configured rules.
///
/// For each line:
///
/// | step | outcome when it fails |
/// | --- | --- |
/// | the line was cut at `max_line_bytes` | rejected: `line longer than max_line_bytes` |
/// | it parses as JSON | rejected: `invalid JSON at byte 17: trailing comma in object` |
/// | it is an object | rejected: `not a JSON object but an array` |
/// | the first rule whose `when` all hold takes it | `unmatched`: dropped, or rejected `no rule matched` |
/// | the rule says `action = "drop"` | dropped |
/// | a `map` rule builds the event (see `EventBuilder`) | rejected, e.g. `user_id: no value at "user.id" or "uid"` |
///
/// A `Mapper` is a value with its own parse and write buffers: one per mapping thread, no
/// locks. In steady state mapping allocates nothing per event except the output bytes
/// (rejections allocate their reason and line head).
public struct Mapper: Sendable {
    let rules: [CompiledRule]
    let unmatched: UnmatchedPolicy
    var document: JSONDocument
    var builder: EventBuilder

    /// Rule names in configuration order (`rule[i]` for unnamed rules).
    public var ruleNames: [String] { rules.map(\.name) }

    /// Checks and compiles the configuration. Errors name the rule (0-based) and key.
    public init(_ configuration: MappingConfiguration) throws(MappingError) {
        if let key = configuration.eventIDKey, key.isEmpty {
            throw MappingError(rule: nil, key: "event_id_key", reason: "an empty key")
        }
        var rules: [CompiledRule] = []
        var seen: [String: Int] = [:]
        var paths = JSONPathSet()
        for (i, spec) in configuration.rules.enumerated() {
            let rule = try CompiledRule(spec, index: i, eventIDKey: configuration.eventIDKey, paths: &paths)
            if !spec.name.isEmpty, let first = seen[spec.name] {
                throw MappingError(rule: i, key: "name", reason: "\"\(spec.name)\" is also the name of rule[\(first)]")
            }
            seen[spec.name] = i
            rules.append(rule)
        }
        self.rules = rules
        unmatched = configuration.unmatched
        document = JSONDocument()
        builder = EventBuilder(eventIDKey: configuration.eventIDKey, paths: paths)
    }

    /// What happened to one line, by rule index; the event itself is in `builder.event`.
    enum Step: Equatable {
        case event(rule: Int)
        case dropped(rule: Int?)
        case rejected(String, rule: Int?)
    }

    mutating func step(
        _ line: ArraySlice<UInt8>, truncated: Bool, readTime: Int64, sourceKey: UInt64, offset: Int64
    ) -> Step {
        if truncated { return .rejected("line longer than max_line_bytes", rule: nil) }
        do {
            try document.parse(line)
        } catch {
            return .rejected("invalid JSON at byte \(error.offset): \(error.reason)", rule: nil)
        }
        let kind = document.kind(document.root)
        guard kind == .object else { return .rejected("not a JSON object but \(kind.phrase)", rule: nil) }
        builder.cache.reset(for: builder.paths)
        for i in rules.indices where rules[i].matches(document, builder.paths, &builder.cache) {
            if rules[i].action == .drop { return .dropped(rule: i) }
            if let reason = builder.build(rules[i], document, readTime: readTime, sourceKey: sourceKey, offset: offset) {
                return .rejected(reason, rule: i)
            }
            return .event(rule: i)
        }
        return unmatched == .drop ? .dropped(rule: nil) : .rejected("no rule matched", rule: nil)
    }

    /// Maps every line of `batch`, appending events to `out.eventBytes`/`out.events` and dropped
    /// or rejected lines to `out.others` (nothing is cleared: the caller owns `out`).
    /// `sourceKey` identifies the file for the event id (see `EventID`).
    public mutating func map(_ batch: LineBatch, sourceKey: UInt64, into out: inout MappedBatch) {
        out.source = batch.source
        // Events are about as long as their lines: one allocation up front instead of growing
        // (and copying) step by step. Geometric, so that appending batch after batch to one
        // `out` stays linear.
        let bytes = out.eventBytes.count + batch.bytes.count
        if out.eventBytes.capacity < bytes { out.eventBytes.reserveCapacity(max(bytes, 2 * out.eventBytes.capacity)) }
        let events = out.events.count + batch.lines.count
        if out.events.capacity < events { out.events.reserveCapacity(max(events, 2 * out.events.capacity)) }
        for line in batch.lines {
            let text = batch.bytes[line.textStart..<line.textEnd]
            switch step(text, truncated: line.truncated, readTime: batch.readTime, sourceKey: sourceKey, offset: line.start) {
            case .event(let rule):
                // One copy of the finished event into the batch (the builder wrote it through a
                // pointer, piece by piece).
                let start = out.eventBytes.count
                builder.event.withBytes { out.eventBytes.append(contentsOf: $0) }
                out.events.append(EventRecord(byteStart: start, byteEnd: out.eventBytes.count, start: line.start, end: line.end,
                                              rule: rules[rule].name))
            case .dropped:
                out.others.append(NonEventRecord(start: line.start, end: line.end, rejection: nil, lineHead: []))
            case .rejected(let reason, let rule):
                out.others.append(NonEventRecord(start: line.start, end: line.end, rejection: reason, lineHead: Mapper.head(text),
                                                 rule: rule.map { rules[$0].name }))
            }
        }
    }

    /// The most of a rejected line the dead letter keeps.
    public static let lineHeadLimit = 1024

    /// At most `lineHeadLimit` bytes, cut before a UTF-8 continuation byte so the head stays valid text.
    static func head(_ text: ArraySlice<UInt8>) -> [UInt8] {
        guard text.count > lineHeadLimit else { return Array(text) }
        var end = text.startIndex + lineHeadLimit
        while end > text.startIndex, text[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(text[text.startIndex..<end])
    }

    /// One line for the `map` command: the event with the rule that made it and catalogue
    /// warnings, or why there is none.
    public mutating func mapLine(
        _ text: ArraySlice<UInt8>, readTime: Int64, sourceKey: UInt64 = 0, offset: Int64 = 0
    ) -> MapResult {
        switch step(text, truncated: false, readTime: readTime, sourceKey: sourceKey, offset: offset) {
        case .event(let i):
            let json = builder.event.withBytes { Array($0) }
            return .event(json: json, rule: rules[i].name, warnings: Mapper.catalogueWarnings(json))
        case .dropped(let i):
            return .dropped(rule: i.map { rules[$0].name })
        case .rejected(let reason, let i):
            return .rejected(reason: reason, rule: i.map { rules[$0].name })
        }
    }

    public mutating func mapLine(_ text: String, readTime: Int64, sourceKey: UInt64 = 0, offset: Int64 = 0) -> MapResult {
        mapLine(ArraySlice(text.utf8), readTime: readTime, sourceKey: sourceKey, offset: offset)
    }

    /// Catalogue warnings for one built event.
    static func catalogueWarnings(_ json: [UInt8]) -> [String] {
        var doc = JSONDocument()
        guard (try? doc.parse(json)) != nil,
              let nameNode = doc.member(doc.root, "event_name"),
              let name = doc.string(nameNode),
              Catalogue.entry(named: name) != nil
        else { return [] }
        func keys(_ field: String) -> [String] {
            var keys: [String] = []
            if let node = doc.member(doc.root, field) { doc.forEachMember(node) { k, _ in keys.append(doc.key(k)) } }
            return keys
        }
        return Catalogue.missing(eventName: name, propertyKeys: keys("properties"), contextKeys: keys("context"))
    }
}

/// What the `map` command shows for one line.
public enum MapResult: Equatable, Sendable {
    /// The minified event object, the name of the rule that built it, and catalogue warnings.
    case event(json: [UInt8], rule: String, warnings: [String])
    /// Dropped by the named rule, or (`nil`) because no rule matched and `unmatched = "drop"`.
    case dropped(rule: String?)
    /// Why the line makes no event; `rule` is the rule that took it, if one did.
    case rejected(reason: String, rule: String?)
}
