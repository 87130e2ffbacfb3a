/// Where something was written in a TOML document, so that configuration errors can point at it.
///
/// | field    | counts from | unit                                                        |
/// |----------|-------------|-------------------------------------------------------------|
/// | `line`   | 1           | lines ended by LF or CRLF                                   |
/// | `column` | 1           | Unicode scalars since the line start (a tab counts as one)  |
///
/// Columns count scalars rather than bytes so that `é = 1` reports the `=` at column 3, as an
/// editor would show it.
public struct TOMLPosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The start of the document, the position given to the root table.
    public static let start = TOMLPosition(line: 1, column: 1)

    /// `line:column`, the form compilers use, so editors can jump to it.
    public var description: String { "\(line):\(column)" }

    public static func < (lhs: TOMLPosition, rhs: TOMLPosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}
