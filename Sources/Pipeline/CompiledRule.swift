import JSON

/// A `RuleSpec` checked and compiled: every template parsed, every path prepared, every
/// constant already in its final form. A class so that handing a rule to the event builder
/// costs one reference count, not one per array it holds.
final class CompiledRule: Sendable {
    /// A `properties` or `context` entry.
    /// A class for the same reason as the rule itself: iterating entries per line then costs
    /// one reference count each.
    final class Entry: Sendable {
        let key: String
        /// `"key":`, escaped, written as is.
        let keyPrefix: [UInt8]
        /// The key as a one-step path: its hash is computed once, for member lookups.
        let keyPath: JSONPath
        let template: CompiledTemplate
        /// `template.singleHandle`.
        let handle: Int32

        init(key: String, template: CompiledTemplate) {
            handle = template.singleHandle
            self.key = key
            var quoted = JSONWriter()
            quoted.key(key)
            keyPrefix = quoted.bytes
            keyPath = JSONPath(components: [key])
            self.template = template
        }
    }

    struct Rename: Sendable {
        var from: String
        var fromUTF8: [UInt8]
        var to: String
    }

    let name: String
    let index: Int
    let conditions: [CompiledCondition]
    let action: RuleSpec.Action
    let eventName: CompiledTemplate
    let renames: [Rename]
    let userID: CompiledTemplate
    /// `nil`: the read time.
    let timestamp: CompiledTemplate?
    /// `singleHandle` of `eventName`, `userID`, `timestamp` (`noHandle` when there is none).
    let eventNameHandle: Int32
    let userIDHandle: Int32
    let timestampHandle: Int32
    let timestampUnit: TimestampUnit?
    /// Minutes east of UTC assumed for zone-less ISO text.
    let timestampZone: Int?
    let timestampMissing: RuleSpec.MissingTimestamp
    /// Constant `event_name` / `user_id`, already as JSON strings (renamed, escaped, quoted).
    let quotedEventName: [UInt8]?
    let quotedUserID: [UInt8]?
    /// A constant `timestamp` template, parsed once.
    let constantTimestamp: Timestamp?
    /// Handles in the mapper's `JSONPathSet` (-1 stands for `$`, the whole line).
    let propertiesFrom: [(handle: Int32, text: String)]
    let properties: [Entry]
    let context: [Entry]
    let dropProperties: [String]
    /// `dropProperties` as one-step paths, for member lookups.
    let dropPaths: [JSONPath]

    /// Compiles `spec`, adding every path it reads to `paths` (shared by all rules of a mapper).
    init(_ spec: RuleSpec, index: Int, eventIDKey: String?, paths: inout JSONPathSet) throws(MappingError) {
        func fail(_ key: String, _ reason: String) -> MappingError {
            MappingError(rule: index, key: key, reason: reason)
        }
        func template(_ key: String, _ source: String) throws(MappingError) -> CompiledTemplate {
            do { return try CompiledTemplate(source, paths: &paths) } catch { throw fail(key, error.reason) }
        }

        name = spec.name.isEmpty ? "rule[\(index)]" : spec.name
        self.index = index
        action = spec.action
        timestampMissing = spec.timestampMissing

        var conditions: [CompiledCondition] = []
        for (i, c) in spec.when.enumerated() {
            do throws(TemplateError) {
                conditions.append(try CompiledCondition(c, paths: &paths))
            } catch {
                throw fail("when[\(i)]", error.reason)
            }
        }
        self.conditions = conditions

        if spec.action == .drop {
            // A drop rule that also says how to build an event is a misunderstanding worth reporting.
            let mappingKeys: [(String, Bool)] = [
                ("event_name", spec.eventName != nil), ("user_id", spec.userID != nil),
                ("timestamp", spec.timestamp != nil), ("timestamp_unit", spec.timestampUnit != nil),
                ("timestamp_zone", spec.timestampZone != nil),
                ("properties_from", !spec.propertiesFrom.isEmpty), ("properties", !spec.properties.isEmpty),
                ("context", !spec.context.isEmpty), ("drop_properties", !spec.dropProperties.isEmpty),
                ("rename_events", !spec.renameEvents.isEmpty),
            ]
            if let (key, _) = mappingKeys.first(where: { $0.1 }) {
                throw fail(key, "a rule with action = \"drop\" builds no event; remove this key")
            }
            eventName = .constant("")
            eventNameHandle = CompiledTemplate.noHandle
            userIDHandle = CompiledTemplate.noHandle
            timestampHandle = CompiledTemplate.noHandle
            renames = []
            userID = .constant("")
            quotedEventName = nil
            quotedUserID = nil
            timestamp = nil
            timestampUnit = nil
            timestampZone = nil
            constantTimestamp = nil
            propertiesFrom = []
            properties = []
            context = []
            dropProperties = []
            dropPaths = []
            return
        }

        // event_name and its renames.
        guard let eventNameSource = spec.eventName else { throw fail("event_name", "required (e.g. event_name = \"{event}\")") }
        var renames: [Rename] = []
        for (from, to) in spec.renameEvents {
            guard !from.isEmpty else { throw fail("rename_events", "an empty event name cannot be renamed") }
            guard !to.isEmpty else { throw fail("rename_events.\(from)", "the new event name is empty") }
            guard !renames.contains(where: { $0.from == from }) else { throw fail("rename_events.\(from)", "renamed twice") }
            renames.append(Rename(from: from, fromUTF8: Array(from.utf8), to: to))
        }
        self.renames = renames
        var name = try template("event_name", eventNameSource)
        if case .constant(let constant) = name {
            let renamed = renames.first { $0.from == constant }?.to ?? constant
            guard !renamed.isEmpty else { throw fail("event_name", "the event name is empty") }
            name = .constant(renamed)
        }
        eventName = name
        eventNameHandle = name.singleHandle
        quotedEventName = CompiledRule.quoted(name)

        guard let userIDSource = spec.userID else { throw fail("user_id", "required (e.g. user_id = \"{user.id}\")") }
        let userID = try template("user_id", userIDSource)
        if case .constant(let c) = userID, c.isEmpty { throw fail("user_id", "the user id is empty") }
        self.userID = userID
        userIDHandle = userID.singleHandle
        quotedUserID = CompiledRule.quoted(userID)

        // timestamp
        var unit: TimestampUnit?
        if let unitName = spec.timestampUnit {
            guard let named = TimestampUnit(name: unitName) else {
                throw fail("timestamp_unit", "unknown unit \"\(unitName)\" (use \"s\", \"ms\", \"us\" or \"ns\")")
            }
            unit = named
        }
        timestampUnit = unit
        var zone: Int?
        if let zoneName = spec.timestampZone {
            guard let minutes = Timestamp.offsetMinutes(named: zoneName) else {
                throw fail("timestamp_zone", "\"\(zoneName)\" is not a fixed offset (use \"UTC\" or an offset like \"+02:00\"; zones with daylight saving are not supported)")
            }
            zone = minutes
        }
        timestampZone = zone
        var constantTimestamp: Timestamp?
        if let source = spec.timestamp {
            let t = try template("timestamp", source)
            if case .constant(let c) = t {
                do {
                    constantTimestamp = try Timestamp.parse(text: c, unit: unit, assumedOffset: zone)
                } catch {
                    throw fail("timestamp", "\"\(c)\": \(error.reason)")
                }
            }
            timestamp = t
            timestampHandle = t.singleHandle
        } else {
            timestamp = nil
            timestampHandle = CompiledTemplate.noHandle
        }
        self.constantTimestamp = constantTimestamp

        // properties_from
        var from: [(handle: Int32, text: String)] = []
        for (i, text) in spec.propertiesFrom.enumerated() {
            if text == "$" {
                from.append((-1, text))
                continue
            }
            do throws(JSONPathError) {
                from.append((paths.add(try JSONPath(text)), text))
            } catch {
                throw fail(spec.propertiesFrom.count == 1 ? "properties_from" : "properties_from[\(i)]", error.reason)
            }
        }
        propertiesFrom = from

        var dropped: [String] = []
        for key in spec.dropProperties {
            guard !key.isEmpty else { throw fail("drop_properties", "an empty key") }
            if !dropped.contains(key) { dropped.append(key) }
        }
        if let eventIDKey, dropped.contains(eventIDKey) {
            throw fail("drop_properties", "\"\(eventIDKey)\" is the event_id_key; it cannot be dropped")
        }
        dropProperties = dropped
        dropPaths = dropped.map { JSONPath(components: [$0]) }

        func entries(_ table: String, _ list: [(key: String, template: String)]) throws(MappingError) -> [Entry] {
            var result: [Entry] = []
            for (key, source) in list {
                guard !key.isEmpty else { throw fail(table, "an empty key") }
                guard !result.contains(where: { $0.key == key }) else { throw fail("\(table).\(key)", "defined twice") }
                result.append(Entry(key: key, template: try template("\(table).\(key)", source)))
            }
            return result
        }
        var explicit = try entries("properties", spec.properties)
        if let eventIDKey, explicit.contains(where: { $0.key == eventIDKey }) {
            throw fail("properties.\(eventIDKey)", "collides with event_id_key (the event id is written there)")
        }
        // An explicit property that is dropped again is never written: leave it out now.
        explicit.removeAll { dropped.contains($0.key) }
        properties = explicit
        context = try entries("context", spec.context)
    }

    private static func quoted(_ t: CompiledTemplate) -> [UInt8]? {
        guard case .constant(let s) = t else { return nil }
        var w = JSONWriter()
        w.string(s)
        return w.bytes
    }

    /// All conditions hold (none: always).
    @inline(__always)
    func matches(_ doc: JSONDocument, _ set: JSONPathSet, _ cache: inout JSONPathCache) -> Bool {
        for i in conditions.indices where !conditions[i].holds(in: doc, set, &cache) { return false }
        return true
    }
}
