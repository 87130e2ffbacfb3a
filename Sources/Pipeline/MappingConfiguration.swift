/// The mapping as the configuration states it: plain values, filled from the decoded TOML by the
/// executable and checked by `Mapper.init`, which reports problems as `MappingError`s naming the
/// rule and key (`rule[2].user_id: …`).
///
/// Suggested TOML (the names in `MappingError.key` follow it):
///
/// ```toml
/// [mapping]
/// unmatched = "drop"                 # or "dead_letter": what happens to a line no rule takes
/// event_id_key = "event_id"          # optional: a deterministic id in properties
///
/// [[rule]]
/// name = "app-events"
/// when = [{ field = "level", in = ["info", "warn"] }, { field = "event", exists = true }]
/// event_name = "{event}"
/// rename_events = { signed_up = "user_signed_up" }
/// user_id = "{user.id|uid}"
/// timestamp = "{ts|time}"
/// timestamp_unit = "ms"              # optional; otherwise by magnitude
/// timestamp_missing = "read_time"    # or "reject" (the default)
/// timestamp_zone = "UTC"             # optional: for ISO times written without a zone
/// properties_from = ["props"]
/// properties = { email = "{user.email}", plan = "{plan|'free'}" }
/// drop_properties = ["password"]
/// context = { group_id = "{account}" }
///
/// [[rule]]
/// name = "noise"
/// action = "drop"
/// when = { field = "event", exists = false }
/// ```
public struct MappingConfiguration: Sendable {
    /// Tried in order; the first whose `when` holds takes the line.
    public var rules: [RuleSpec]
    public var unmatched: UnmatchedPolicy
    /// When set, every event gets `properties[eventIDKey]`: 16 hex digits derived from the
    /// source's identity and the line's offset, equal for a line sent twice after a crash.
    public var eventIDKey: String?

    public init(rules: [RuleSpec] = [], unmatched: UnmatchedPolicy = .drop, eventIDKey: String? = nil) {
        self.rules = rules
        self.unmatched = unmatched
        self.eventIDKey = eventIDKey
    }
}

/// What happens to a line that no rule takes.
public enum UnmatchedPolicy: String, Sendable, CaseIterable {
    /// Done at once, counted as dropped: the usual choice when the log mixes events and noise.
    case drop
    /// Rejected with the reason "no rule matched", so it lands in the dead letter for review.
    case deadLetter = "dead_letter"
}

/// One `[[rule]]`.
public struct RuleSpec: Sendable {
    public enum Action: String, Sendable, CaseIterable {
        /// Build an event from the line.
        case map
        /// Consume the line without an event (noise filters placed before a catch-all rule).
        case drop
    }

    /// What to do when `timestamp` has no value in a line.
    public enum MissingTimestamp: String, Sendable, CaseIterable {
        /// Reject the line (the default: a wrong time is worse than a dead-lettered line).
        case reject
        /// Use the time tracktail read the line.
        case readTime = "read_time"
    }

    /// Names the rule in `map` output, metrics and warnings; `rule[i]` when empty.
    public var name: String
    /// All must hold; empty means always.
    public var when: [ConditionSpec]
    public var action: Action
    /// Required for `.map`: the event name template (must give a non-empty string).
    public var eventName: String?
    /// Required for `.map`: the user id template (a non-empty string, or a number, written as its decimal text).
    public var userID: String?
    /// The timestamp template; `nil` means the read time for every line.
    public var timestamp: String?
    /// `s`, `ms`, `us`, `ns` (see `TimestampUnit`); `nil`: by magnitude.
    public var timestampUnit: String?
    public var timestampMissing: MissingTimestamp
    /// The fixed offset to assume for ISO timestamps written without a zone (`UTC`, `+02:00`);
    /// `nil`: such timestamps are rejected. Zone names with daylight saving are not supported.
    public var timestampZone: String?
    /// Paths of objects whose members are copied into `properties`; later paths win on equal keys.
    /// `$` is the whole line (then `dropProperties` usually removes the logger's own keys).
    /// A path with no value is skipped; a value that is not an object rejects the line.
    public var propertiesFrom: [String]
    /// Explicit properties (key, template), written over those from `propertiesFrom`.
    public var properties: [(key: String, template: String)]
    /// Context entries (key, template).
    public var context: [(key: String, template: String)]
    /// Keys removed from the final `properties`.
    public var dropProperties: [String]
    /// Event names replaced after the `eventName` template is evaluated (old, new).
    public var renameEvents: [(from: String, to: String)]

    public init(
        name: String = "",
        when: [ConditionSpec] = [],
        action: Action = .map,
        eventName: String? = nil,
        userID: String? = nil,
        timestamp: String? = nil,
        timestampUnit: String? = nil,
        timestampMissing: MissingTimestamp = .reject,
        timestampZone: String? = nil,
        propertiesFrom: [String] = [],
        properties: [(key: String, template: String)] = [],
        context: [(key: String, template: String)] = [],
        dropProperties: [String] = [],
        renameEvents: [(from: String, to: String)] = []
    ) {
        self.name = name
        self.when = when
        self.action = action
        self.eventName = eventName
        self.userID = userID
        self.timestamp = timestamp
        self.timestampUnit = timestampUnit
        self.timestampMissing = timestampMissing
        self.timestampZone = timestampZone
        self.propertiesFrom = propertiesFrom
        self.properties = properties
        self.context = context
        self.dropProperties = dropProperties
        self.renameEvents = renameEvents
    }
}

/// One test on a line: `{ field = "level", in = ["info", "warn"] }`.
///
/// | operator | holds when the value at `field` … |
/// | --- | --- |
/// | `equals` | has the same JSON type and value (numbers compare by value: `30` = `30.0`) |
/// | `not_equals` | has no value, or a different type or value |
/// | `in` | equals one of the list |
/// | `not_in` | has no value, or equals none of the list |
/// | `exists = true` / `false` | has a value / has none (JSON `null` counts as none) |
/// | `prefix` | is a string starting with the text |
///
/// Comparison is type-strict: `equals = "30"` does not match the number `30`.
public struct ConditionSpec: Sendable, Equatable {
    public enum Operator: Sendable, Equatable {
        case equals(ConditionValue)
        case notEquals(ConditionValue)
        case `in`([ConditionValue])
        case notIn([ConditionValue])
        case exists(Bool)
        case prefix(String)
    }

    /// A dotted path (see `JSONPath`); `$` has no special meaning here.
    public var field: String
    public var op: Operator

    public init(field: String, _ op: Operator) {
        self.field = field
        self.op = op
    }
}

/// A scalar to compare a line's value with (TOML has no null, so neither has this).
public enum ConditionValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    /// Decimal text in JSON number syntax.
    case number(String)
    case bool(Bool)

    public static func integer(_ v: Int64) -> ConditionValue { .number(String(v)) }
    /// Uses Swift's shortest round-trip text, so `0.1` compares equal to a line's `0.1`.
    public static func float(_ v: Double) -> ConditionValue { .number(v.description) }

    public var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        }
    }
}

/// A configuration problem, naming the rule (by position in the configuration, 0-based) and
/// the key, so that the caller can prefix the file, line and column:
/// `tracktail.toml:12:1: rule[2].when[0]: unknown path syntax …`.
public struct MappingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `nil` for settings outside the rules (`event_id_key`).
    public var rule: Int?
    /// The key inside the rule: `when[0]`, `user_id`, `properties.email`, `rename_events.signed_up`.
    public var key: String
    public var reason: String

    public init(rule: Int?, key: String, reason: String) {
        self.rule = rule
        self.key = key
        self.reason = reason
    }

    /// `rule[2].user_id`, or the bare key outside rules.
    public var keyPath: String { rule.map { "rule[\($0)].\(key)" } ?? key }

    public var description: String { "\(keyPath): \(reason)" }
}
