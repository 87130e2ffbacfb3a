/// Why a JSON text was rejected and where: `reason` is a short phrase a person can act on, `offset` is
/// the byte offset in the input that was passed to `parse` (a skipped UTF-8 BOM still counts).
///
/// | reason (examples)                          | offset points at              |
/// |--------------------------------------------|-------------------------------|
/// | `empty input`                              | end of input                  |
/// | `trailing comma in object`                 | the `}` after the comma       |
/// | `invalid UTF-8 byte 0xC3`                  | the offending byte            |
/// | `unescaped control character 0x0A in string` | the control byte            |
/// | `nesting deeper than 64`                   | the opening bracket too many  |
/// | `unexpected end of input`                  | end of input                  |
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public init(reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// `byte 17: trailing comma in object`
    public var description: String { "byte \(offset): \(reason)" }
}

/// A `JSONPath` that cannot be parsed (empty component, dangling backslash).
public struct JSONPathError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
