/// A value in a `JSONDocument`: the index of its entry on the document's tape. Only meaningful for the
/// document (and the parse) that produced it; a node from elsewhere reads as `null` or garbage, never
/// out of bounds.
public struct JSONNode: Hashable, Sendable {
    public let index: Int32

    @inlinable
    init(_ index: Int) {
        self.index = Int32(truncatingIfNeeded: index)
    }
}

/// An object member's key in a `JSONDocument` (the tape index of the key string). Read it with
/// `JSONDocument.key(_:)`, compare it without allocating with `keyEquals(_:_:)`.
public struct JSONKey: Hashable, Sendable {
    public let index: Int32

    @inlinable
    init(_ index: Int) {
        self.index = Int32(truncatingIfNeeded: index)
    }
}
