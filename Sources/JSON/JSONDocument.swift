/// One parsed JSON text: a private copy of the bytes plus a flat tape of nodes (simdjson-style), read
/// through `JSONNode` handles. Nothing is decoded up front: strings and numbers stay source bytes until
/// asked for, which is what makes parsing an NDJSON line cheap.
///
/// Reusable: `parse` keeps the buffers' capacity, so parsing line after line allocates nothing in steady
/// state. A copy of a document is a value (copy-on-write): parsing into one copy never changes another.
///
/// Rules (strict RFC 8259, with two tolerances for log lines):
///
/// | input                                   | result                                      |
/// |-----------------------------------------|---------------------------------------------|
/// | UTF-8 BOM at the start                  | skipped (offsets still count it)            |
/// | trailing `\r` (any RFC whitespace)      | skipped                                     |
/// | duplicate keys                          | last wins (`member`, `forEachMember`, `write`) |
/// | numbers                                 | kept as exact text, any size or precision   |
/// | `\uD800` without a low surrogate (and vice versa) | rejected: decoded strings are always valid UTF-8 |
/// | trailing commas, comments, NaN, leading zeros, control characters, invalid UTF-8, garbage after the value, empty input | rejected with reason and byte offset |
/// | nesting deeper than `maxDepth`          | rejected (the parser never recurses)        |
public struct JSONDocument: @unchecked Sendable {
    // @unchecked: `tape` is a class-owned allocation. It is written only by `parse`, and only after
    // `isKnownUniquelyReferenced` proved this document is its sole owner, so shared copies are read-only.

    /// Containers nested deeper than this are rejected. The parser keeps one 24-byte frame per level, so
    /// the value is clamped to 0...1_000_000.
    public let maxDepth: Int
    /// The input followed by `Parser.padding` zero bytes.
    @usableFromInline var input: [UInt8] = []
    @usableFromInline var tape: TapeBuffer
    /// Entries of the last successful parse (0 after a failed one).
    @usableFromInline var tapeCount = 0
    /// True when every node's source text is already canonical minified JSON, so `write` can copy it.
    @usableFromInline var canonical = false

    public init(maxDepth: Int = 64) {
        self.maxDepth = min(max(0, maxDepth), 1_000_000)
        self.tape = TapeBuffer(capacity: 64, maxDepth: self.maxDepth)
    }

    // MARK: - Parsing

    /// Parses one JSON text (an NDJSON line without its `\n`), replacing the previous content. The bytes are
    /// copied, so the buffer may be reused as soon as this returns. On error the document reads as empty.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) {
        if let error = parseBytes(bytes) { throw error }
    }

    /// `parse` of a slice; error offsets count from the slice's first byte.
    public mutating func parse(_ bytes: ArraySlice<UInt8>) throws(JSONError) {
        let error = bytes.withUnsafeBytes { parseBytes($0) }
        if let error { throw error }
    }

    /// `parse` of an array.
    public mutating func parse(_ bytes: [UInt8]) throws(JSONError) {
        let error = bytes.withUnsafeBytes { parseBytes($0) }
        if let error { throw error }
    }

    /// `parse` of a string's UTF-8 (tests and configuration; lines arrive as bytes).
    public mutating func parse(_ string: String) throws(JSONError) {
        var string = string
        let error = string.withUTF8 { parseBytes(UnsafeRawBufferPointer($0)) }
        if let error { throw error }
    }

    /// The parse itself; returns the error instead of throwing so that it can run inside the buffer
    /// closures (which rethrow untyped errors).
    mutating func parseBytes(_ bytes: UnsafeRawBufferPointer) -> JSONError? {
        tapeCount = 0
        canonical = false
        let n = bytes.count
        guard n < Int(UInt32.max) - Parser.padding else {
            return JSONError(reason: "input of \(n) bytes is too large (limit 4 GiB)", offset: 0)
        }
        // `input` only grows: bytes past `n + padding` are stale and never read (every read goes
        // through a tape entry). Writing through the buffer pointer costs no per-parse append; if
        // a caller still holds a `rawBytes` slice of the old input, the write copies first and
        // the slice keeps the old bytes.
        let needed = n + Parser.padding
        if input.count < needed { input = [UInt8](repeating: 0, count: max(needed, 2 * input.count)) }
        input.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            if n > 0 { base.update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n) }
            (base + n).update(repeating: 0, count: Parser.padding)
        }
        if !isKnownUniquelyReferenced(&tape) {
            tape = TapeBuffer(capacity: tape.capacity, maxDepth: maxDepth)
        }
        let maxDepth = self.maxDepth
        let entries = tape.pointer
        let capacity = tape.capacity
        let frames = tape.frames
        var grown: TapeBuffer? = nil
        var count = 0
        var canonical = false
        let error: JSONError? = input.withUnsafeBufferPointer { all in
            let base = all.baseAddress!
            var start = 0
            if n >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { start = 3 }
            var parser = Parser(bytes: base, start: start, count: n, tape: entries, capacity: capacity, stack: frames, maxDepth: maxDepth)
            let error = parser.run()
            grown = parser.grown
            count = parser.count
            canonical = !parser.nonCanonical
            return error
        }
        if let grown { tape = grown }
        if error != nil { return error }
        tapeCount = count
        self.canonical = canonical
        return nil
    }

    // MARK: - Reading

    /// The document's value. After a failed parse (or before any) it reads as `null`.
    public var root: JSONNode { JSONNode(0) }

    @inlinable
    func entry(_ n: Int32) -> TapeEntry? {
        guard n >= 0 && Int(n) < tapeCount else { return nil }
        return tape.pointer[Int(n)]
    }

    @inlinable
    func entryAt(_ n: Int) -> TapeEntry { tape.pointer[n] }

    /// The node's type; `.null` for a node that is not from this document's last successful parse.
    @inlinable
    public func kind(_ n: JSONNode) -> JSONKind {
        guard let e = entry(n.index) else { return .null }
        return JSONKind(rawValue: e.kind) ?? .null
    }

    /// nil unless the node is a boolean.
    public func bool(_ n: JSONNode) -> Bool? {
        guard let e = entry(n.index), e.kind == JSONKind.bool.rawValue else { return nil }
        return e.aux == 1
    }

    /// The decoded string value; nil unless the node is a string.
    public func string(_ n: JSONNode) -> String? {
        guard let e = entry(n.index), e.kind == JSONKind.string.rawValue else { return nil }
        return decodedText(e)
    }

    func decodedText(_ e: TapeEntry) -> String {
        input.withUnsafeBufferPointer { all in
            let content = UnsafeBufferPointer(rebasing: all[Int(e.start + 1)..<Int(e.end - 1)])
            if e.flags & TapeFlag.escaped == 0 {
                return String(decoding: content, as: UTF8.self)
            }
            return String(decoding: JSONStringDecoding.decoded(content, escaped: true), as: UTF8.self)
        }
    }

    /// The decoded bytes of a string node (nil unless `.string`); allocates only for strings with escapes.
    public func withStringBytes<R>(_ n: JSONNode, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        guard let e = entry(n.index), e.kind == JSONKind.string.rawValue else { return nil }
        return try input.withUnsafeBufferPointer { all in
            let content = UnsafeBufferPointer(rebasing: all[Int(e.start + 1)..<Int(e.end - 1)])
            if e.flags & TapeFlag.escaped == 0 { return try body(content) }
            return try JSONStringDecoding.decoded(content, escaped: true).withUnsafeBufferPointer(body)
        }
    }

    /// Whether the node is a string whose decoded value is `s`; no allocation when it has no escapes.
    public func stringEquals(_ n: JSONNode, _ s: String) -> Bool {
        guard let e = entry(n.index), e.kind == JSONKind.string.rawValue else { return false }
        return compare(e, s, prefix: false)
    }

    /// Whether the node is a string whose decoded value starts with `s`.
    public func hasPrefix(_ n: JSONNode, _ s: String) -> Bool {
        guard let e = entry(n.index), e.kind == JSONKind.string.rawValue else { return false }
        return compare(e, s, prefix: true)
    }

    func compare(_ e: TapeEntry, _ s: String, prefix: Bool) -> Bool {
        withUTF8(s) { target in
            input.withUnsafeBufferPointer { all in
                let content = UnsafeBufferPointer(rebasing: all[Int(e.start + 1)..<Int(e.end - 1)])
                return JSONStringDecoding.compare(content, escaped: e.flags & TapeFlag.escaped != 0, target, prefix: prefix)
            }
        }
    }

    /// The exact source text of a number (`12345678901234567891`, `1.5e3`); nil unless `.number`.
    public func numberText(_ n: JSONNode) -> String? {
        guard let e = entry(n.index), e.kind == JSONKind.number.rawValue else { return nil }
        return String(decoding: input[Int(e.start)..<Int(e.end)], as: UTF8.self)
    }

    /// The number as an `Int64` when its text is an integer (no fraction, no exponent) that fits; else nil.
    public func int64(_ n: JSONNode) -> Int64? {
        guard let e = entry(n.index), e.kind == JSONKind.number.rawValue else { return nil }
        return input.withUnsafeBufferPointer { all in
            parseInt64(UnsafeBufferPointer(rebasing: all[Int(e.start)..<Int(e.end)]))
        }
    }

    /// The exact source text of any value (a string includes its quotes); empty for an invalid node.
    public func rawBytes(_ n: JSONNode) -> ArraySlice<UInt8> {
        guard let e = entry(n.index) else { return input[0..<0] }
        return input[Int(e.start)..<Int(e.end)]
    }

    /// Members of an object (after de-duplication) or elements of an array; 0 for anything else.
    public func count(_ n: JSONNode) -> Int {
        guard let e = entry(n.index), e.kind >= JSONKind.array.rawValue else { return 0 }
        return Int(e.aux)
    }

    /// The value of the object member named `key` (duplicate keys: the last one); nil if absent or not an object.
    public func member(_ n: JSONNode, _ key: String) -> JSONNode? {
        withUTF8(key) { member(n, utf8: $0, hash: quickKeyHash(UnsafeRawPointer($0.baseAddress!), $0.count)) }
    }

    func member(_ n: JSONNode, utf8 key: UnsafeBufferPointer<UInt8>, hash: UInt32) -> JSONNode? {
        guard let e = entry(n.index), e.kind == JSONKind.object.rawValue else { return nil }
        let end = Int(e.next)
        var k = Int(n.index) + 1
        let entries = tape.pointer
        return input.withUnsafeBufferPointer { all -> JSONNode? in
            let src = all.baseAddress!
            while k < end {
                let ke = entries[k]
                if ke.aux == hash && ke.flags & TapeFlag.shadowed == 0 {
                    let content = UnsafeBufferPointer(start: src + Int(ke.start) + 1, count: Int(ke.end - ke.start) - 2)
                    if ke.flags & TapeFlag.escaped == 0
                        ? JSONStringDecoding.bytesEqual(content, key)
                        : JSONStringDecoding.compare(content, escaped: true, key, prefix: false) {
                        return JSONNode(k + 1)
                    }
                }
                k = Int(entries[k + 1].next)
            }
            return nil
        }
    }

    /// The `i`th element of an array (O(i): elements are found by skipping subtrees); nil if out of range.
    public func element(_ n: JSONNode, _ i: Int) -> JSONNode? {
        guard let e = entry(n.index), e.kind == JSONKind.array.rawValue, i >= 0, i < Int(e.aux) else { return nil }
        var j = Int(n.index) + 1
        for _ in 0..<i { j = Int(entryAt(j).next) }
        return JSONNode(j)
    }

    /// Follows `path` from `from` (the root by default): a component names an object member, or indexes an
    /// array when it is all digits. nil when any step is missing.
    public func lookup(_ path: JSONPath, from: JSONNode? = nil) -> JSONNode? {
        // Steps are read in place through a buffer pointer: no copy of a step (and no reference
        // count on its key) per lookup.
        path.steps.withUnsafeBufferPointer { steps in
            var node = from ?? root
            for k in steps.indices {
                guard let next = step(node, steps.baseAddress! + k) else { return nil }
                node = next
            }
            return node
        }
    }

    /// One step of a path from `node`: a member of an object, or an element of an array.
    @inline(__always)
    func step(_ node: JSONNode, _ c: UnsafePointer<JSONPath.Step>) -> JSONNode? {
        guard let e = entry(node.index) else { return nil }
        if e.kind == JSONKind.object.rawValue {
            return c.pointee.key.withUnsafeBufferPointer { member(node, utf8: $0, hash: c.pointee.hash) }
        }
        if e.kind == JSONKind.array.rawValue, let index = c.pointee.index { return element(node, index) }
        return nil
    }

    /// Calls `body` for each member in order; with duplicate keys only the last occurrence is reported (at
    /// its position). Does nothing unless the node is an object.
    public func forEachMember(_ n: JSONNode, _ body: (_ key: JSONKey, _ value: JSONNode) throws -> Void) rethrows {
        guard let e = entry(n.index), e.kind == JSONKind.object.rawValue else { return }
        let end = Int(e.next)
        var k = Int(n.index) + 1
        while k < end {
            if entryAt(k).flags & TapeFlag.shadowed == 0 {
                try body(JSONKey(k), JSONNode(k + 1))
            }
            k = Int(entryAt(k + 1).next)
        }
    }

    /// Calls `body` for each element in order. Does nothing unless the node is an array.
    public func forEachElement(_ n: JSONNode, _ body: (JSONNode) throws -> Void) rethrows {
        guard let e = entry(n.index), e.kind == JSONKind.array.rawValue else { return }
        let end = Int(e.next)
        var j = Int(n.index) + 1
        while j < end {
            try body(JSONNode(j))
            j = Int(entryAt(j).next)
        }
    }

    /// The decoded key text.
    public func key(_ k: JSONKey) -> String {
        guard let e = entry(k.index), e.kind == JSONKind.string.rawValue else { return "" }
        return decodedText(e)
    }

    /// Whether the decoded key equals `s`; no allocation when the key has no escapes.
    public func keyEquals(_ k: JSONKey, _ s: String) -> Bool {
        guard let e = entry(k.index), e.kind == JSONKind.string.rawValue else { return false }
        return compare(e, s, prefix: false)
    }

    /// The exact source text of a key, quotes included.
    public func rawKeyBytes(_ k: JSONKey) -> ArraySlice<UInt8> {
        guard let e = entry(k.index) else { return input[0..<0] }
        return input[Int(e.start)..<Int(e.end)]
    }
}

/// Calls `body` with the UTF-8 bytes of `s`, without copying native strings. The buffer always has a base
/// address (an empty string gets a one-byte dummy) so callers may form raw pointers from it.
@inlinable
func withUTF8<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = s.utf8.withContiguousStorageIfAvailable({ buf -> R in
        if buf.baseAddress == nil {
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { body(UnsafeBufferPointer(start: $0, count: 0)) }
        }
        return body(buf)
    }) {
        return r
    }
    var copy = s
    return copy.withUTF8 { buf in
        if buf.baseAddress == nil {
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { body(UnsafeBufferPointer(start: $0, count: 0)) }
        }
        return body(buf)
    }
}

/// An exact integer text (`-?[0-9]+`) as Int64; nil for fractions, exponents or overflow.
func parseInt64(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
    var k = 0
    let negative = text.first == 0x2D
    if negative { k = 1 }
    guard k < text.count else { return nil }
    var magnitude: UInt64 = 0
    while k < text.count {
        let d = text[k] &- 0x30
        guard d < 10 else { return nil }
        let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (m2, o2) = m1.addingReportingOverflow(UInt64(d))
        guard !o1 && !o2 else { return nil }
        magnitude = m2
        k += 1
    }
    if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    }
    guard magnitude <= UInt64(Int64.max) else { return nil }
    return Int64(magnitude)
}
