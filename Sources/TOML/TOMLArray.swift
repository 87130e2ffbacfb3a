/// A TOML array: an inline `[1, 2]` or an array of tables (`[[rule]]` sections).
///
/// `positions[i]` is where `elements[i]` was written: the first character of an inline element,
/// or the `[[` of the header that opened the table of an array of tables.
public struct TOMLArray: Equatable, Sendable {
    public var elements: [TOMLValue]
    public var positions: [TOMLPosition]
    /// The `[` of an inline array, or the first `[[header]]` of an array of tables.
    public var position: TOMLPosition

    public init(elements: [TOMLValue] = [], positions: [TOMLPosition] = [], position: TOMLPosition = .start) {
        self.elements = elements
        self.positions = positions
        self.position = position
    }

    public var count: Int { elements.count }
    public var isEmpty: Bool { elements.isEmpty }

    public subscript(index: Int) -> TOMLValue { elements[index] }

    /// Elements with their positions, for decoders that report `rule[2]: ...` at the element.
    public var indexed: [(value: TOMLValue, position: TOMLPosition)] {
        Array(zip(elements, positions))
    }
}
