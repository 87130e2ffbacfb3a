import Pipeline
import TOML

extension Configuration {
    /// Where each mapping key was written, so a `MappingError` from `Mapper.init` (which knows
    /// rules and keys, not files) can be reported at file:line:column.
    typealias Positions = [String: TOMLPosition]

    static func decodeMapping(_ top: inout ConfigReader) -> MappingConfiguration {
        var mapping = MappingConfiguration()
        var positions: Positions = [:]
        let errorsBefore = top.diagnostics.errors.count
        if var m = top.table("mapping") {
            let unmatched = m.choice("unmatched", UnmatchedPolicy.allCases.map(\.rawValue), default: "drop")
            mapping.unmatched = UnmatchedPolicy(rawValue: unmatched)!
            mapping.eventIDKey = m.nonEmptyString("event_id_key")
            positions["event_id_key"] = m.position(of: "event_id_key")
            m.finish(known: ["unmatched", "event_id_key"])
        }
        let rules = top.tables("rule")
        for (i, var r) in rules.enumerated() {
            mapping.rules.append(decodeRule(&r, index: i, positions: &positions))
        }
        if rules.isEmpty && !top.table.entries.isEmpty && !top.has("rule") {
            top.report(ConfigurationError(file: top.file, position: top.table.position, keyPath: "rule",
                                          message: "no [[rule]] table: without rules every line is \(mapping.unmatched == .drop ? "dropped" : "dead-lettered")"))
        }
        // The compiler's checks (templates, paths) only on rules that decoded cleanly: an error
        // already reported would otherwise be reported twice, once as a broken template.
        if top.diagnostics.errors.count == errorsBefore {
            do {
                _ = try Mapper(mapping)
            } catch {
                let pos = bestPosition(for: error, in: positions) ?? top.table.position
                top.report(ConfigurationError(file: top.file, position: pos, keyPath: error.keyPath, message: error.reason))
            }
        }
        return mapping
    }

    /// The most specific recorded key path that prefixes the error's key path.
    private static func bestPosition(for error: MappingError, in positions: Positions) -> TOMLPosition? {
        var path = error.keyPath
        while true {
            if let p = positions[path] { return p }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            path = String(path[..<cut])
        }
    }

    private static func decodeRule(_ r: inout ConfigReader, index: Int, positions: inout Positions) -> RuleSpec {
        let base = "rule[\(index)]"
        positions[base] = r.table.position
        for e in r.table.entries { positions["\(base).\(e.key)"] = e.valuePosition }

        var rule = RuleSpec()
        rule.name = r.nonEmptyString("name") ?? base
        rule.action = RuleSpec.Action(rawValue: r.choice("action", RuleSpec.Action.allCases.map(\.rawValue), default: "map"))!
        rule.when = decodeConditions(&r, base: base, positions: &positions)
        rule.eventName = r.string("event_name")
        rule.userID = r.string("user_id")
        rule.timestamp = r.string("timestamp")
        rule.timestampUnit = r.string("timestamp_unit")
        rule.timestampZone = r.string("timestamp_zone")
        let missing = r.choice("timestamp_missing", RuleSpec.MissingTimestamp.allCases.map(\.rawValue), default: "reject")
        rule.timestampMissing = RuleSpec.MissingTimestamp(rawValue: missing)!
        rule.propertiesFrom = r.strings("properties_from") ?? []
        for (k, v, p) in r.stringTable("properties") {
            rule.properties.append((k, v))
            positions["\(base).properties.\(k)"] = p
        }
        for (k, v, p) in r.stringTable("context") {
            rule.context.append((k, v))
            positions["\(base).context.\(k)"] = p
        }
        rule.dropProperties = r.strings("drop_properties") ?? []
        for (k, v, p) in r.stringTable("rename_events") {
            rule.renameEvents.append((k, v))
            positions["\(base).rename_events.\(k)"] = p
        }
        if rule.action == .map {
            for key in ["event_name", "user_id"] where !r.has(key) {
                r.report(r.error(nil, "a rule that maps needs \(key) (or action = \"drop\")"))
            }
        }
        r.finish(known: ["name", "when", "action", "event_name", "rename_events", "user_id", "timestamp", "timestamp_unit",
                             "timestamp_missing", "timestamp_zone", "properties_from", "properties", "drop_properties", "context"])
        return rule
    }

    static let conditionOperators = ["equals", "not_equals", "in", "not_in", "exists", "prefix"]

    private static func decodeConditions(_ r: inout ConfigReader, base: String, positions: inout Positions) -> [ConditionSpec] {
        guard let entry = r.value("when") else { return [] }
        var tables: [(TOMLTable, String)] = []
        switch entry.value {
        case .table(let t):
            tables = [(t, "\(base).when")]
        case .array(let a):
            for (i, el) in a.elements.enumerated() {
                guard case .table(let t) = el else {
                    r.report(r.error(at: a.positions[i], path: "\(base).when[\(i)]", "expected a condition table like { field = \"level\", equals = \"info\" }, found \(el.typeNameWithArticle)"))
                    continue
                }
                tables.append((t, "\(base).when[\(i)]"))
            }
        default:
            r.report(r.error("when", "expected a condition table like { field = \"level\", equals = \"info\" } or an array of them, found \(entry.value.typeNameWithArticle)"))
        }
        var out: [ConditionSpec] = []
        for (t, path) in tables {
            positions[path] = t.position
            var c = r.child(t, path: path)
            if let condition = c.diagnostics.attempt(nil, { () throws(ConfigurationError) -> ConditionSpec? in try decodeCondition(&c, t, path: path) }) {
                out.append(condition)
            }
        }
        return out
    }

    /// One `{ field = "…", <operator> = … }`.
    private static func decodeCondition(_ c: inout ConfigReader, _ t: TOMLTable, path: String) throws(ConfigurationError) -> ConditionSpec {
        guard let field = c.nonEmptyString("field") else {
            throw c.error(nil, "a condition needs field = \"path.to.value\"")
        }
        let ops = t.entries.filter { $0.key != "field" }
        guard let opEntry = ops.first else {
            throw c.error(nil, "a condition needs an operator: one of \(conditionOperators.joined(separator: ", "))")
        }
        if ops.count > 1 {
            throw c.error(at: ops[1].keyPosition, path: path, "one operator per condition (found \(ops[0].key) and \(ops[1].key)); use an array of conditions to combine them")
        }
        guard conditionOperators.contains(opEntry.key) else {
            throw c.error(at: opEntry.keyPosition, path: path, "unknown operator \"\(opEntry.key)\" (expected one of \(conditionOperators.joined(separator: ", ")))")
        }
        let op: ConditionSpec.Operator
        func scalar(_ v: TOMLValue, _ at: TOMLPosition) throws(ConfigurationError) -> ConditionValue {
            switch v {
            case .string(let s): return .string(s)
            case .integer(let i): return .integer(i)
            case .float(let f): return .float(f)
            case .bool(let b): return .bool(b)
            default:
                throw c.error(at: at, path: "\(path).\(opEntry.key)", "expected a string, number or boolean, found \(v.typeNameWithArticle)")
            }
        }
        switch opEntry.key {
        case "equals": op = .equals(try scalar(opEntry.value, opEntry.valuePosition))
        case "not_equals": op = .notEquals(try scalar(opEntry.value, opEntry.valuePosition))
        case "in", "not_in":
            guard case .array(let a) = opEntry.value else {
                throw c.error(at: opEntry.valuePosition, path: "\(path).\(opEntry.key)", "expected an array like [\"info\", \"warn\"], found \(opEntry.value.typeNameWithArticle)")
            }
            var values: [ConditionValue] = []
            for (i, v) in a.elements.enumerated() { values.append(try scalar(v, a.positions[i])) }
            op = opEntry.key == "in" ? .in(values) : .notIn(values)
        case "exists":
            guard case .bool(let b) = opEntry.value else {
                throw c.error(at: opEntry.valuePosition, path: "\(path).exists", "expected true or false, found \(opEntry.value.typeNameWithArticle)")
            }
            op = .exists(b)
        default:
            guard case .string(let s) = opEntry.value else {
                throw c.error(at: opEntry.valuePosition, path: "\(path).prefix", "expected a string, found \(opEntry.value.typeNameWithArticle)")
            }
            op = .prefix(s)
        }
        return ConditionSpec(field: field, op)
    }
}
