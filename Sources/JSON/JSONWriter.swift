/// Appends minified JSON to a byte buffer. Commas are placed automatically: the writer remembers whether
/// the last thing written was a complete value, so callers only say what comes next.
///
/// | call                      | writes                                    |
/// |---------------------------|-------------------------------------------|
/// | `beginObject()`           | `,` if needed, `{`                        |
/// | `key("a")`                | `,` if needed, `"a":`                     |
/// | `string`/`int`/`raw`/...  | `,` if needed, the value                  |
/// | `endObject()`             | `}`                                       |
///
/// Strings are escaped minimally per RFC 8259: `"` `\` and control characters (`\b \f \n \r \t`, others
/// as `\u00XX` lowercase); everything else, including non-ASCII, is written as UTF-8.
public struct JSONWriter: Sendable {
    /// The JSON written so far; take it (or a slice) when done, then `reset()` to reuse the capacity.
    public var bytes: [UInt8]
    /// True after a complete value: the next value or key needs a comma first.
    @usableFromInline var needsComma = false

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties `bytes`, keeping their capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inlinable
    mutating func comma() {
        if needsComma { bytes.append(0x2C) }
    }

    public mutating func beginObject() {
        comma()
        bytes.append(0x7B)
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(0x7D)
        needsComma = true
    }

    public mutating func beginArray() {
        comma()
        bytes.append(0x5B)
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(0x5D)
        needsComma = true
    }

    /// `"k":` (escaped), preceded by a comma when a member came before.
    public mutating func key(_ k: String) {
        string(k)
        bytes.append(0x3A)
        needsComma = false
    }

    /// A key given as its already-escaped JSON text, quotes included.
    public mutating func rawKey(_ quoted: some Collection<UInt8>) {
        comma()
        bytes.append(contentsOf: quoted)
        bytes.append(0x3A)
        needsComma = false
    }

    /// A string value, escaped minimally.
    public mutating func string(_ s: String) {
        comma()
        withUTF8(s) { appendEscaped($0) }
        needsComma = true
    }

    /// A string value from UTF-8 bytes. They are escaped but not validated: pass only valid UTF-8 (for
    /// example the decoded bytes of a document string).
    public mutating func string(utf8 bytes: some Collection<UInt8>) {
        comma()
        if bytes.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            Array(bytes).withUnsafeBufferPointer { appendEscaped($0) }
        }
        needsComma = true
    }

    /// Already-valid JSON number text, written as is.
    public mutating func number(text: String) {
        comma()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    public mutating func int(_ v: Int64) {
        comma()
        if v < 0 { bytes.append(0x2D) }
        var magnitude = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes ≥ 20 digits of UInt64.max
        withUnsafeMutableBytes(of: &digits) { buf in
            var k = buf.count
            repeat {
                k -= 1
                buf[k] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[k...]))
        }
        needsComma = true
    }

    public mutating func bool(_ v: Bool) {
        comma()
        bytes.append(contentsOf: v ? "true".utf8 : "false".utf8)
        needsComma = true
    }

    public mutating func null() {
        comma()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// An already-valid JSON value, written as is (comma handled).
    public mutating func raw(_ json: some Collection<UInt8>) {
        comma()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// `"…"` with the contents escaped; does not touch `needsComma`.
    @usableFromInline
    mutating func appendEscaped(_ s: UnsafeBufferPointer<UInt8>) {
        JSONWriter.appendQuoted(utf8: s, to: &bytes)
    }

    /// Appends `s` as a JSON string (quoted, escaped minimally) to a plain byte buffer: for callers
    /// that lay out their own JSON (no comma logic).
    public static func appendQuoted(_ s: String, to bytes: inout [UInt8]) {
        withUTF8(s) { appendQuoted(utf8: $0, to: &bytes) }
    }

    /// `appendQuoted` of UTF-8 bytes; they are escaped, not validated (pass valid UTF-8).
    public static func appendQuoted(utf8 s: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: quotedBound(s.count)) { tmp in
            let written = writeQuoted(s, into: tmp.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: tmp[0..<written]))
        }
    }

    /// `appendQuoted` into a `ByteBuffer` (the mapping hot path).
    public static func appendQuoted(_ s: String, to buffer: inout ByteBuffer) {
        withUTF8(s) { appendQuoted(utf8: $0, to: &buffer) }
    }

    /// `appendQuoted` of UTF-8 bytes into a `ByteBuffer`.
    public static func appendQuoted(utf8 s: UnsafeBufferPointer<UInt8>, to buffer: inout ByteBuffer) {
        buffer.commit(writeQuoted(s, into: buffer.reserve(quotedBound(s.count))))
    }

    /// The most bytes a string of `count` bytes takes quoted: every byte a `\u00XX`.
    static func quotedBound(_ count: Int) -> Int { 6 * count + 2 }

    /// Writes `"…"` with the contents escaped minimally to `out` (room for `quotedBound` bytes);
    /// returns the bytes written.
    static func writeQuoted(_ s: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = out
        o.pointee = 0x22
        o += 1
        var runStart = 0
        var k = 0
        let n = s.count
        while k < n {
            let c = s[k]
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                k += 1
                continue
            }
            if k > runStart {
                o.update(from: s.baseAddress! + runStart, count: k - runStart)
                o += k - runStart
            }
            o += JSONWriter.escape(c, into: o)
            k += 1
            runStart = k
        }
        if n > runStart {
            o.update(from: s.baseAddress! + runStart, count: n - runStart)
            o += n - runStart
        }
        o.pointee = 0x22
        o += 1
        return o - out
    }

    /// Writes the escape sequence of `c` (a quote, a backslash or a control character) and returns its
    /// length: the short forms where JSON has them, `\u00xx` (lowercase hex) otherwise.
    @inline(__always)
    static func escape(_ c: UInt8, into o: UnsafeMutablePointer<UInt8>) -> Int {
        o[0] = 0x5C
        switch c {
        case 0x22, 0x5C: o[1] = c
        case 0x08: o[1] = 0x62 // b
        case 0x0C: o[1] = 0x66 // f
        case 0x0A: o[1] = 0x6E // n
        case 0x0D: o[1] = 0x72 // r
        case 0x09: o[1] = 0x74 // t
        default:
            let low = c & 15
            o[1] = 0x75 // u
            o[2] = 0x30
            o[3] = 0x30
            o[4] = (c >> 4) + 0x30
            o[5] = low < 10 ? low + 0x30 : low + 0x57
            return 6
        }
        return 2
    }
}
