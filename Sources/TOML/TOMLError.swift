/// Why a document is not valid TOML, and where.
///
/// The message is written for the person who edits the file: it names the offending text and,
/// for redefinitions, where the first definition was. The position is that of the offending
/// token (not of the line start), so `description` can be prefixed with a file name:
/// `tracktail.toml:2:1: duplicate key "a" (first defined at 1:1)`.
public struct TOMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var position: TOMLPosition

    public init(_ message: String, at position: TOMLPosition) {
        self.message = message
        self.position = position
    }

    /// `line:column: message`.
    public var description: String { "\(position): \(message)" }
}
