/// One key of a (possibly dotted) key, with where it was written.
struct KeySegment {
    var name: String
    var position: TOMLPosition
}

/// The three ways a document adds to its table tree: `[header]`, `[[header]]` and `key = value`.
/// Each enforces TOML's rule that nothing is defined twice (see `TableNode` for the table kinds).
extension TableNode {
    /// `[a.b.c]`: walks from the root, creating implicit tables, and defines the last one.
    func defineTable(_ keys: [KeySegment], header: TOMLPosition) throws(TOMLError) -> TableNode {
        let parent = try walkHeader(keys.dropLast())
        let last = keys[keys.count - 1]
        let path = parent.path + [last.name]
        guard let slot = parent.slotIndex(last.name) else {
            let table = TableNode(kind: .explicit, position: header, path: path)
            parent.append(Slot(key: last.name, keyPosition: last.position, valuePosition: header, item: .table(table)))
            return table
        }
        switch parent.slots[slot].item {
        case .table(let table):
            switch table.kind {
            case .implicit:
                table.kind = .explicit
                table.position = header
                parent.setPositions(of: slot, key: last.position, value: header)
                return table
            case .explicit:
                throw TOMLError("table \(Self.display(path)) is already defined at \(table.position)", at: last.position)
            case .dotted:
                throw TOMLError(
                    "table \(Self.display(path)) is already defined by dotted keys at \(parent.slots[slot].keyPosition)",
                    at: last.position)
            }
        case .tableArray(let array):
            throw TOMLError(
                "\(Self.display(path)) is an array of tables (defined at \(array.position)); write [[\(Self.bare(path))]] to add a table to it",
                at: last.position)
        case .value(let value):
            throw Self.notATable(path, value, parent.slots[slot].valuePosition, at: last.position)
        }
    }

    /// `[[a.b.c]]`: walks from the root like `defineTable`, then appends a new table to the array
    /// of tables named by the last key, creating the array the first time.
    func appendTableArrayElement(_ keys: [KeySegment], header: TOMLPosition) throws(TOMLError) -> TableNode {
        let parent = try walkHeader(keys.dropLast())
        let last = keys[keys.count - 1]
        let path = parent.path + [last.name]
        let table = TableNode(kind: .explicit, position: header, path: path)
        guard let slot = parent.slotIndex(last.name) else {
            let array = TableArrayNode(position: header)
            array.tables.append(table)
            parent.append(Slot(key: last.name, keyPosition: last.position, valuePosition: header, item: .tableArray(array)))
            return table
        }
        switch parent.slots[slot].item {
        case .tableArray(let array):
            array.tables.append(table)
            return table
        case .table(let existing):
            throw TOMLError(
                "cannot define array of tables \(Self.display(path)): it is already a table (defined at \(existing.position))",
                at: last.position)
        case .value(let value):
            if case .array = value {
                throw TOMLError(
                    "cannot append a table to \(Self.display(path)): it is an inline array (defined at \(parent.slots[slot].valuePosition)), which cannot be extended",
                    at: last.position)
            }
            throw Self.notATable(path, value, parent.slots[slot].valuePosition, at: last.position)
        }
    }

    /// `a.b.c = value` in this table: creates or enters the tables `a` and `a.b` (only ones not
    /// defined by a header), then defines `c`.
    func assign(_ keys: [KeySegment], value: TOMLValue, at valuePosition: TOMLPosition) throws(TOMLError) {
        var table = self
        for key in keys.dropLast() {
            let path = table.path + [key.name]
            let (item, definedAt) = table.itemOrNewTable(key, kind: .dotted)
            switch item {
            case .table(let child):
                switch child.kind {
                case .implicit: child.kind = .dotted
                case .dotted: break
                case .explicit:
                    throw TOMLError(
                        "cannot add to table \(Self.display(path)) with a dotted key: it is defined by its header at \(child.position)",
                        at: key.position)
                }
                table = child
            case .tableArray(let array):
                throw TOMLError(
                    "cannot add to array of tables \(Self.display(path)) (defined at \(array.position)) with a dotted key",
                    at: key.position)
            case .value(let existing):
                throw Self.notATable(path, existing, definedAt, at: key.position)
            }
        }
        let last = keys[keys.count - 1]
        if let slot = table.slotIndex(last.name) {
            throw TOMLError(
                "duplicate key \(Self.display(table.path + [last.name])) (first defined at \(table.slots[slot].keyPosition))",
                at: last.position)
        }
        table.append(Slot(key: last.name, keyPosition: last.position, valuePosition: valuePosition, item: .value(value)))
    }

    /// Follows the keys of a header before its last one: tables of any kind are entered, an array
    /// of tables is entered at its last table (TOML's rule for `[[a]]` followed by `[a.b]`).
    private func walkHeader(_ keys: ArraySlice<KeySegment>) throws(TOMLError) -> TableNode {
        var table = self
        for key in keys {
            let (item, definedAt) = table.itemOrNewTable(key, kind: .implicit)
            switch item {
            case .table(let child):
                table = child
            case .tableArray(let array):
                // Never empty: an array of tables is created with its first table.
                table = array.tables[array.tables.count - 1]
            case .value(let value):
                throw Self.notATable(table.path + [key.name], value, definedAt, at: key.position)
            }
        }
        return table
    }

    /// What `key` holds and where its value was written, or a new table of `kind` there: the
    /// way a header implies the tables on its path (`implicit`) and a dotted key does (`dotted`).
    private func itemOrNewTable(_ key: KeySegment, kind: Kind) -> (item: Item, valuePosition: TOMLPosition) {
        if let slot = slotIndex(key.name) {
            return (slots[slot].item, slots[slot].valuePosition)
        }
        let child = TableNode(kind: kind, position: key.position, path: path + [key.name])
        append(Slot(key: key.name, keyPosition: key.position, valuePosition: key.position, item: .table(child)))
        return (.table(child), key.position)
    }

    private static func notATable(_ path: [String], _ value: TOMLValue, _ defined: TOMLPosition, at position: TOMLPosition) -> TOMLError {
        if case .table = value {
            return TOMLError(
                "cannot add to inline table \(display(path)) (defined at \(defined)): an inline table is complete as written",
                at: position)
        }
        return TOMLError(
            "key \(display(path)) is already defined as \(value.typeNameWithArticle) at \(defined), so it cannot be used as a table",
            at: position)
    }

    /// A key path as it would be written in TOML, in double quotes unless a key needs quoting
    /// itself: `"a.b"`, `"my key".c`.
    static func display(_ path: [String]) -> String {
        let text = bare(path)
        return text.contains("\"") ? text : "\"" + text + "\""
    }

    /// A key path in TOML syntax: bare keys as they are, other keys as basic strings.
    static func bare(_ path: [String]) -> String {
        path.map(TOML.key).joined(separator: ".")
    }
}

extension TOML {
    /// One key as TOML writes it: bare when it can be, otherwise a basic string.
    public static func key(_ key: String) -> String {
        if !key.isEmpty, key.utf8.allSatisfy(Parser.isBareKeyByte) { return key }
        return basicString(key)
    }

    /// A TOML basic string literal (`"…"`) holding `text`, with the escapes TOML requires.
    public static func basicString(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    quoted += "\\u" + Parser.hex(scalar.value, width: 4)
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }
}
