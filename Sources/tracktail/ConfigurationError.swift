import TOML

/// A configuration problem, said the way an editor can jump to it:
/// `tracktail.toml:12:1: rule[2].when: unknown operator "~="`.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var position: TOMLPosition
    public var keyPath: String
    public var message: String

    public var description: String {
        keyPath.isEmpty ? "\(file):\(position): \(message)" : "\(file):\(position): \(keyPath): \(message)"
    }
}

/// Every problem of one configuration file, in file order, so that one `check` names all of
/// them instead of one per run. At most `limit` are kept; the description says how many more.
public struct ConfigurationErrors: Error, CustomStringConvertible, Sendable {
    public static let limit = 20
    public var errors: [ConfigurationError]
    /// Errors past `limit`, counted but not listed.
    public var more: Int

    public init(_ errors: [ConfigurationError]) {
        let sorted = errors.enumerated().sorted {
            ($0.element.position.line, $0.element.position.column, $0.offset) < ($1.element.position.line, $1.element.position.column, $1.offset)
        }.map(\.element)
        self.errors = Array(sorted.prefix(Self.limit))
        self.more = max(0, sorted.count - Self.limit)
    }

    /// One error as before; several as a count and then one `file:line:column: key: message`
    /// per line, the way compilers list them.
    public var description: String {
        if errors.count == 1 && more == 0 { return errors[0].description }
        let total = errors.count + more
        var text = "\(total) configuration errors:"
        for e in errors { text += "\n" + e.description }
        if more > 0 { text += "\n… and \(more) more (fix these first)" }
        return text
    }
}
