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
