/// The six JSON value types (RFC 8259 section 3). Numbers are one kind: their text is kept exactly,
/// so whether a number is an integer is a question for the caller (`JSONDocument.int64(_:)`).
public enum JSONKind: UInt8, Sendable, Equatable {
    case null, bool, number, string, array, object
}
