/// The events the ThriveStack documents describe, with the properties they name (docs/track-api.md).
///
/// The API accepts any properties, so a missing one is a warning (`check`, `map`), never a
/// rejection: the event still goes out, but the product's reports for it will be empty.
///
/// | event | required properties | recommended properties | required context |
/// | --- | --- | --- | --- |
/// | `user_waitlisted` | `email`, `id` | | `group_id` |
/// | `invite_sent` | `invitee_email` | `invitee_first_name`, `invitee_last_name`, `invitee_role` | |
/// | `feature_used` | `feature_name` | | |
public enum Catalogue {
    public struct Entry: Sendable, Equatable {
        public var eventName: String
        public var properties: [String]
        public var recommendedProperties: [String]
        public var context: [String]
    }

    public static let entries: [Entry] = [
        Entry(eventName: "user_waitlisted", properties: ["email", "id"], recommendedProperties: [], context: ["group_id"]),
        Entry(
            eventName: "invite_sent", properties: ["invitee_email"],
            recommendedProperties: ["invitee_first_name", "invitee_last_name", "invitee_role"], context: []
        ),
        Entry(eventName: "feature_used", properties: ["feature_name"], recommendedProperties: [], context: []),
    ]

    public static func entry(named name: String) -> Entry? {
        entries.first { $0.eventName == name }
    }

    /// Warnings for a catalogue event that lacks documented keys; empty for other events.
    /// Recommended properties are reported only when `recommended` is set (the `check` command),
    /// because per-line warnings for them would drown the required ones.
    public static func missing(
        eventName: String, propertyKeys: [String], contextKeys: [String], recommended: Bool = false
    ) -> [String] {
        guard let entry = entry(named: eventName) else { return [] }
        var warnings: [String] = []
        for key in entry.properties where !propertyKeys.contains(key) {
            warnings.append("\(eventName): missing property \"\(key)\" (required by the event catalogue)")
        }
        for key in entry.context where !contextKeys.contains(key) {
            warnings.append("\(eventName): missing context \"\(key)\" (required by the event catalogue)")
        }
        if recommended {
            for key in entry.recommendedProperties where !propertyKeys.contains(key) {
                warnings.append("\(eventName): no property \"\(key)\" (recommended by the event catalogue)")
            }
        }
        return warnings
    }
}
