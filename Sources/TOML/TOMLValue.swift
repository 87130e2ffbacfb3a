/// One TOML value. Containers keep the positions of what they hold (see `TOMLTable.Entry`,
/// `TOMLArray.positions`), so a decoder can report a bad value at the place it was written.
///
/// Equality is structural and includes those positions (the same table written elsewhere is not
/// equal), and `nan` is unequal to itself, as for `Double`.
public indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case datetime(TOMLDateTime)
    case array(TOMLArray)
    case table(TOMLTable)

    /// The TOML name of the value's type, for messages such as `expected a string, found an
    /// integer`:
    ///
    /// | case        | typeName                                                          |
    /// |-------------|-------------------------------------------------------------------|
    /// | `.string`   | `string`                                                          |
    /// | `.integer`  | `integer`                                                         |
    /// | `.float`    | `float`                                                           |
    /// | `.bool`     | `boolean`                                                         |
    /// | `.datetime` | `offset date-time`, `local date-time`, `local date`, `local time` |
    /// | `.array`    | `array`                                                           |
    /// | `.table`    | `table`                                                           |
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        case .datetime(let value): return value.kind.rawValue
        case .array: return "array"
        case .table: return "table"
        }
    }

    /// `typeName` with its indefinite article (`an integer`, `a table`), so messages read as
    /// English without every caller choosing the article.
    public var typeNameWithArticle: String {
        let name = typeName
        let article = name.first.map { "aeiou".contains($0) } == true ? "an" : "a"
        return article + " " + name
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The value of a float; integers are not converted, so a decoder decides that itself.
    public var float: Double? {
        if case .float(let value) = self { return value }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var datetime: TOMLDateTime? {
        if case .datetime(let value) = self { return value }
        return nil
    }

    public var array: TOMLArray? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var table: TOMLTable? {
        if case .table(let value) = self { return value }
        return nil
    }
}
