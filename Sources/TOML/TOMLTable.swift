/// A TOML table with its keys in the order they were defined.
///
/// Each entry keeps where its key and its value were written, so that a decoder can say
/// `tracktail.toml:12:1: rule[2].when: unknown operator` and a check for unknown keys can point
/// at the key itself. For a sub-table, `valuePosition` is where the table was defined (its
/// `[header]` or inline `{`); for a table only implied by a longer header or a dotted key, it is
/// the position of that key.
///
/// Lookup by key is a linear scan: configuration tables hold a few dozen keys at most, and a
/// plain array keeps the type simple to build in tests.
public struct TOMLTable: Equatable, Sendable {
    /// One key of the table with its value and where both were written.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: TOMLValue
        public var keyPosition: TOMLPosition
        public var valuePosition: TOMLPosition

        public init(key: String, value: TOMLValue, keyPosition: TOMLPosition, valuePosition: TOMLPosition) {
            self.key = key
            self.value = value
            self.keyPosition = keyPosition
            self.valuePosition = valuePosition
        }
    }

    public var entries: [Entry]
    /// Where the table was defined: its `[header]` or `[[header]]`, an inline `{`, the first key
    /// that implied it, or 1:1 for the root.
    public var position: TOMLPosition

    public init(entries: [Entry] = [], position: TOMLPosition = .start) {
        self.entries = entries
        self.position = position
    }

    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> TOMLValue? {
        entry(key)?.value
    }

    public func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }
}
