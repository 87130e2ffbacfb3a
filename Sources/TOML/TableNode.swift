/// The mutable table tree built while parsing, with the bookkeeping TOML's definition rules
/// need. It is frozen into `TOMLTable` values once the document has been read.
///
/// Every table remembers how it came to exist, because that decides what may still add to it:
///
/// | kind       | created by                               | `[header]` naming it | dotted key through it | header through it |
/// |------------|------------------------------------------|----------------------|-----------------------|-------------------|
/// | `implicit` | a longer header (`[a.b]` implies `a`)    | defines it (once)    | allowed, makes it `dotted` | allowed      |
/// | `explicit` | its own `[header]`, `[[header]]`, root   | error: redefinition  | error                 | allowed           |
/// | `dotted`   | a dotted key (`a.b = 1` implies `a`)     | error: redefinition  | allowed               | allowed           |
///
/// Inline tables and inline arrays are stored as finished `TOMLValue`s, so anything that tries
/// to add to them fails, as the specification requires.
final class TableNode {
    enum Kind { case implicit, explicit, dotted }

    /// What a key of a table holds while the document is being read.
    enum Item {
        case value(TOMLValue)
        case table(TableNode)
        case tableArray(TableArrayNode)
    }

    struct Slot {
        var key: String
        var keyPosition: TOMLPosition
        var valuePosition: TOMLPosition
        var item: Item
    }

    var kind: Kind
    var position: TOMLPosition
    /// Keys from the root, for messages (`table "a.b" is already defined`).
    let path: [String]
    private(set) var slots: [Slot] = []
    private var index: [String: Int] = [:]

    init(kind: Kind, position: TOMLPosition, path: [String]) {
        self.kind = kind
        self.position = position
        self.path = path
    }

    func slotIndex(_ key: String) -> Int? { index[key] }

    func append(_ slot: Slot) {
        index[slot.key] = slots.count
        slots.append(slot)
    }

    func setPositions(of slot: Int, key: TOMLPosition, value: TOMLPosition) {
        slots[slot].keyPosition = key
        slots[slot].valuePosition = value
    }

    /// The finished table. Recursion depth is bounded by the parser's key and nesting limits.
    func freeze() -> TOMLTable {
        TOMLTable(
            entries: slots.map { slot in
                let value: TOMLValue
                switch slot.item {
                case .value(let finished): value = finished
                case .table(let table): value = .table(table.freeze())
                case .tableArray(let array): value = .array(array.freeze())
                }
                return TOMLTable.Entry(key: slot.key, value: value, keyPosition: slot.keyPosition, valuePosition: slot.valuePosition)
            },
            position: position
        )
    }
}

/// An array of tables (`[[name]]`): the only kind of array that later headers may extend.
final class TableArrayNode {
    var tables: [TableNode] = []
    let position: TOMLPosition

    init(position: TOMLPosition) {
        self.position = position
    }

    func freeze() -> TOMLArray {
        TOMLArray(
            elements: tables.map { .table($0.freeze()) },
            positions: tables.map(\.position),
            position: position
        )
    }
}
