/// The byte-level parser behind `JSONDocument.parse`. One pass, no recursion (open containers live on an
/// explicit stack bounded by `maxDepth`), no allocation in steady state (the tape is reused), no String.
///
/// The input is a private copy followed by `Parser.padding` zero bytes. A zero byte is invalid everywhere
/// JSON can be, so the hot loops read ahead without bounds checks and only ask "is this the end?" when a
/// byte turns out to be wrong. The same padding lets the string scanner load eight bytes at a time.
struct Parser {
    /// Zero bytes after the input; at least 8 (SWAR loads) + 11 (`\uXXXX\uXXXX` look-ahead).
    static let padding = 32

    let b: UnsafePointer<UInt8>
    let n: Int
    var i: Int
    var tape: UnsafeMutablePointer<TapeEntry>
    var capacity: Int
    /// A bigger tape, when the one passed in filled up; the caller adopts it.
    var grown: TapeBuffer? = nil
    var count = 0
    /// Open containers, innermost last.
    let stack: UnsafeMutablePointer<Frame>
    let maxDepth: Int
    var depth = 0
    /// Whitespace seen between tokens, or an escape `JSONWriter` would write differently, or a duplicate key:
    /// when none of these happened the source text of any node is already its canonical form.
    var nonCanonical = false

    /// An open container: its tape index and, for objects, two 64-bit Bloom filters of its key hashes. Only
    /// when a key hits both filters can it repeat an earlier key, so duplicate resolution (a second walk
    /// over the members) runs only for those objects.
    struct Frame {
        var index: Int32
        var bloomA: UInt64
        var bloomB: UInt64
    }

    init(bytes: UnsafePointer<UInt8>, start: Int, count n: Int, tape: UnsafeMutablePointer<TapeEntry>, capacity: Int, stack: UnsafeMutablePointer<Frame>, maxDepth: Int) {
        self.b = bytes
        self.n = n
        self.i = start
        self.tape = tape
        self.capacity = capacity
        self.stack = stack
        self.maxDepth = maxDepth
    }

    // MARK: - Driver

    /// Parses one JSON text; on success the tape holds `count` entries, the root at index 0.
    mutating func run() -> JSONError? {
        skipWhitespace()
        if i >= n { return JSONError(reason: "empty input", offset: i) }
        nonCanonical = false
        outer: while true {
            skipWhitespace()
            switch b[i] {
            case 0x22: // "
                if let e = scanString(key: false) { return e }
            case 0x7B: // {
                if let e = open(.object) { return e }
                skipWhitespace()
                if b[i] == 0x7D {
                    close(Int(stack[depth - 1].index))
                } else {
                    if let e = memberKey() { return e }
                    continue outer
                }
            case 0x5B: // [
                if let e = open(.array) { return e }
                skipWhitespace()
                if b[i] == 0x5D {
                    close(Int(stack[depth - 1].index))
                } else {
                    continue outer
                }
            case 0x74: // t
                guard UnsafeRawPointer(b + i).loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x6575_7274) else {
                    return literalError("true")
                }
                append(.bool, start: i, end: i + 4, aux: 1)
                i += 4
            case 0x66: // f
                guard UnsafeRawPointer(b + i + 1).loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x6573_6C61) else {
                    return literalError("false")
                }
                append(.bool, start: i, end: i + 5)
                i += 5
            case 0x6E: // n
                guard UnsafeRawPointer(b + i).loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x6C6C_756E) else {
                    return literalError("null")
                }
                append(.null, start: i, end: i + 4)
                i += 4
            case 0x2D, 0x30...0x39: // - 0-9
                if let e = scanNumber() { return e }
            default:
                return unexpected(expecting: "a value")
            }
            // A value is complete: continue in the enclosing container, closing as many as end here.
            while true {
                guard depth > 0 else { break outer }
                let top = Int(stack[depth - 1].index)
                tape[top].aux &+= 1
                skipWhitespace()
                let c = b[i]
                if tape[top].kind == JSONKind.object.rawValue {
                    if c == 0x2C { // ,
                        i += 1
                        skipWhitespace()
                        if b[i] == 0x7D { return JSONError(reason: "trailing comma in object", offset: i) }
                        if let e = memberKey() { return e }
                        continue outer
                    }
                    if c == 0x7D {
                        close(top)
                        continue
                    }
                    return unexpected(expecting: "',' or '}' after object member")
                } else {
                    if c == 0x2C {
                        i += 1
                        skipWhitespace()
                        if b[i] == 0x5D { return JSONError(reason: "trailing comma in array", offset: i) }
                        continue outer
                    }
                    if c == 0x5D {
                        close(top)
                        continue
                    }
                    return unexpected(expecting: "',' or ']' after array element")
                }
            }
        }
        let sawWhitespace = nonCanonical
        skipWhitespace()
        nonCanonical = sawWhitespace
        if i < n { return unexpected(expecting: "end of input after the JSON value") }
        return nil
    }

    // MARK: - Tape

    @inline(__always)
    mutating func append(_ kind: JSONKind, start: Int, end: Int, aux: UInt32 = 0, flags: UInt8 = 0) {
        if count == capacity { grow() }
        tape[count] = TapeEntry(
            start: UInt32(truncatingIfNeeded: start), end: UInt32(truncatingIfNeeded: end),
            next: UInt32(truncatingIfNeeded: count + 1), aux: aux, kind: kind.rawValue, flags: flags)
        count += 1
    }

    @inline(never)
    mutating func grow() {
        // This parse keeps using the frames of the original buffer, which the document keeps alive until it
        // returns; the next parse uses the new buffer's own frames.
        let bigger = TapeBuffer(capacity: capacity * 2, maxDepth: maxDepth)
        bigger.pointer.moveInitialize(from: tape, count: count)
        grown = bigger
        tape = bigger.pointer
        capacity = bigger.capacity
    }

    @inline(__always)
    mutating func open(_ kind: JSONKind) -> JSONError? {
        if depth >= maxDepth { return JSONError(reason: "nesting deeper than \(maxDepth)", offset: i) }
        stack[depth] = Frame(index: Int32(truncatingIfNeeded: count), bloomA: 0, bloomB: 0)
        depth += 1
        append(kind, start: i, end: i)
        i += 1
        return nil
    }

    /// Closes the container at tape index `top`, whose closing bracket is at `i`.
    @inline(__always)
    mutating func close(_ top: Int) {
        tape[top].end = UInt32(truncatingIfNeeded: i + 1)
        tape[top].next = UInt32(truncatingIfNeeded: count)
        if tape[top].flags & TapeFlag.checkDuplicates != 0 {
            tape[top].flags &= ~TapeFlag.checkDuplicates
            resolveDuplicates(top)
        }
        depth -= 1
        i += 1
    }

    @inline(__always)
    mutating func skipWhitespace() {
        var c = b[i]
        guard c <= 0x20 else { return }
        while c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
            nonCanonical = true
            i += 1
            c = b[i]
        }
    }

    /// `"key"` then `:`; leaves `i` at the member's value.
    @inline(__always)
    mutating func memberKey() -> JSONError? {
        guard b[i] == 0x22 else { return unexpected(expecting: "a string key") }
        if let e = scanString(key: true) { return e }
        let hash = tape[count - 1].aux
        let bitA: UInt64 = 1 << UInt64(hash & 63)
        let bitB: UInt64 = 1 << UInt64((hash >> 6) & 63)
        let frame = stack + (depth - 1)
        if frame.pointee.bloomA & bitA != 0 && frame.pointee.bloomB & bitB != 0 {
            tape[Int(frame.pointee.index)].flags |= TapeFlag.checkDuplicates
        }
        frame.pointee.bloomA |= bitA
        frame.pointee.bloomB |= bitB
        skipWhitespace()
        guard b[i] == 0x3A else { return unexpected(expecting: "':' after object key") }
        i += 1
        return nil
    }

    // MARK: - Strings

    /// A word whose lowest set bit marks the first of eight bytes (in memory order) that is a quote, a
    /// backslash, a control character or non-ASCII; zero when there is none. The classic "has zero byte"
    /// tricks can flag bytes after a true hit (borrows), never before one, so the lowest bit is exact.
    @inline(__always)
    static func attention(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let control = (w &- ones &* 0x20) & ~w
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        return (w | control | hasQuote | hasBackslash) & highs
    }

    @inline(__always)
    mutating func scanString(key: Bool) -> JSONError? {
        let s = i
        var flags: UInt8 = 0
        // The position lives in a local so the hot loop keeps it in a register; `i` is synced around
        // the (rare) calls that need it.
        var j = i &+ 1
        while true {
            let hits = Parser.attention(UInt64(littleEndian: UnsafeRawPointer(b + j).loadUnaligned(as: UInt64.self)))
            if hits == 0 {
                j &+= 8
                continue
            }
            j &+= hits.trailingZeroBitCount &>> 3
            let c = b[j]
            if c == 0x22 { break }
            i = j
            if c == 0x5C {
                flags |= TapeFlag.escaped
                if let e = scanEscape(&flags) { return e }
            } else if c >= 0x80 {
                if let e = scanUTF8() { return e }
            } else if i >= n {
                return JSONError(reason: "unterminated string", offset: s)
            } else {
                return JSONError(reason: "unescaped control character \(hexByte(c)) in string", offset: i)
            }
            j = i
        }
        i = j &+ 1 // past the closing quote
        var aux: UInt32 = 0
        if key {
            if flags & TapeFlag.escaped == 0 {
                aux = quickKeyHash(UnsafeRawPointer(b + s + 1), i - s - 2, padded: true)
            } else {
                aux = decodedString(start: s, end: i) { quickKeyHash($0.baseAddress!, $0.count) }
            }
        }
        if flags & TapeFlag.rewrite != 0 { nonCanonical = true }
        append(.string, start: s, end: i, aux: aux, flags: flags)
        return nil
    }

    /// One escape sequence at `i` (a backslash). Lone surrogates are rejected, so every decoded string is
    /// valid UTF-8 and can become a Swift `String` without replacement characters.
    mutating func scanEscape(_ flags: inout UInt8) -> JSONError? {
        switch b[i + 1] {
        case 0x22, 0x5C, 0x62, 0x66, 0x6E, 0x72, 0x74: // " \ b f n r t
            i += 2
        case 0x2F: // /
            flags |= TapeFlag.rewrite
            i += 2
        case 0x75: // u
            guard let unit = hex4(i + 2) else {
                if i + 2 >= n { return JSONError(reason: "unterminated string", offset: i) }
                return JSONError(reason: "invalid \\u escape: expected 4 hex digits", offset: i)
            }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard b[i + 6] == 0x5C, b[i + 7] == 0x75, let low = hex4(i + 8), low >= 0xDC00 && low <= 0xDFFF else {
                    return JSONError(reason: "lone surrogate \\u\(hex4Text(unit)) (high surrogate not followed by a low one)", offset: i)
                }
                flags |= TapeFlag.rewrite
                i += 12
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                return JSONError(reason: "lone surrogate \\u\(hex4Text(unit)) (low surrogate without a high one)", offset: i)
            } else {
                // Canonical only if JSONWriter would write exactly this: a control character without a
                // short escape, in lowercase hex.
                let short = unit == 0x08 || unit == 0x09 || unit == 0x0A || unit == 0x0C || unit == 0x0D
                if unit >= 0x20 || short || b[i + 4] >= 0x41 && b[i + 4] <= 0x46 || b[i + 5] >= 0x41 && b[i + 5] <= 0x46 {
                    flags |= TapeFlag.rewrite
                }
                i += 6
            }
        default:
            if i + 1 >= n { return JSONError(reason: "unterminated string", offset: i) }
            return JSONError(reason: "invalid escape '\\\(printable(b[i + 1]))'", offset: i)
        }
        return nil
    }

    @inline(__always)
    func hex4(_ at: Int) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[at + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c &- 0x30
            case 0x41...0x46: d = c &- 0x37
            case 0x61...0x66: d = c &- 0x57
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// One multi-byte UTF-8 sequence at `i` (Unicode table 3-7: no overlongs, no surrogates, ≤ U+10FFFF).
    mutating func scanUTF8() -> JSONError? {
        let lead = b[i]
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return JSONError(reason: "invalid UTF-8 byte \(hexByte(lead))", offset: i)
        }
        let second = b[i + 1]
        guard second >= low && second <= high else { return utf8Error(at: i + 1) }
        if length > 2 {
            guard b[i + 2] & 0xC0 == 0x80 else { return utf8Error(at: i + 2) }
            if length > 3 {
                guard b[i + 3] & 0xC0 == 0x80 else { return utf8Error(at: i + 3) }
            }
        }
        i += length
        return nil
    }

    func utf8Error(at offset: Int) -> JSONError {
        if offset >= n { return JSONError(reason: "unterminated string (input ends inside a UTF-8 sequence)", offset: offset) }
        return JSONError(reason: "invalid UTF-8 byte \(hexByte(b[offset]))", offset: offset)
    }

    /// Calls `body` with the decoded bytes (plus 8 readable bytes of slack) of the validated string at `start..<end`.
    func decodedString<R>(start: Int, end: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var out: [UInt8] = []
        out.reserveCapacity(end - start + 8)
        JSONStringDecoding.decode(UnsafeBufferPointer(start: b + start + 1, count: end - start - 2)) { out.append($0) }
        let count = out.count
        out.append(contentsOf: repeatElement(0, count: 8))
        return out.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<count])) }
    }

    // MARK: - Numbers

    /// RFC 8259 number grammar; the text is kept, never converted.
    mutating func scanNumber() -> JSONError? {
        let s = i
        if b[i] == 0x2D {
            i += 1
            if b[i] == 0x49 { return JSONError(reason: "Infinity is not allowed in JSON", offset: s) }
        }
        let first = b[i]
        if first == 0x30 {
            i += 1
            if isDigit(b[i]) { return JSONError(reason: "leading zero in number", offset: i - 1) }
        } else if isDigit(first) {
            i += 1
            while isDigit(b[i]) { i += 1 }
        } else {
            return unexpected(expecting: "a digit after '-'")
        }
        if b[i] == 0x2E { // .
            i += 1
            guard isDigit(b[i]) else { return unexpected(expecting: "a digit after the decimal point") }
            i += 1
            while isDigit(b[i]) { i += 1 }
        }
        if b[i] | 0x20 == 0x65 { // e E
            i += 1
            if b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            guard isDigit(b[i]) else { return unexpected(expecting: "a digit in the exponent") }
            i += 1
            while isDigit(b[i]) { i += 1 }
        }
        append(.number, start: s, end: i)
        return nil
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    // MARK: - Duplicate keys

    /// Marks every key of the object at `top` that a later member repeats as shadowed, and stores the
    /// deduplicated member count. Small objects compare quick hashes pairwise; large ones sort a seeded
    /// full hash, so a crafted object cannot make this quadratic.
    mutating func resolveDuplicates(_ top: Int) {
        let members = Int(tape[top].aux)
        var shadowed = 0
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: members) { buffer in
            var keys = buffer
            var k = top + 1
            for j in 0..<members {
                keys[j] = UInt64(k)
                k = Int(tape[k + 1].next)
            }
            if members <= 24 {
                for a in 0..<(members - 1) {
                    let ka = Int(keys[a])
                    let ha = tape[ka].aux
                    for c in (a + 1)..<members {
                        let kc = Int(keys[c])
                        if tape[kc].aux == ha && sameKey(ka, kc) {
                            tape[ka].flags |= TapeFlag.shadowed
                            shadowed += 1
                            break
                        }
                    }
                }
            } else {
                for j in 0..<members {
                    let k = Int(keys[j])
                    let h = fullHash(k)
                    keys[j] = UInt64(h) << 32 | UInt64(k)
                }
                keys.sort()
                var runStart = 0
                while runStart < members {
                    var runEnd = runStart + 1
                    while runEnd < members && keys[runEnd] >> 32 == keys[runStart] >> 32 { runEnd += 1 }
                    if runEnd - runStart > 1 {
                        for a in runStart..<(runEnd - 1) {
                            let ka = Int(keys[a] & 0xFFFF_FFFF)
                            for c in (a + 1)..<runEnd where sameKey(ka, Int(keys[c] & 0xFFFF_FFFF)) {
                                tape[ka].flags |= TapeFlag.shadowed
                                shadowed += 1
                                break
                            }
                        }
                    }
                    runStart = runEnd
                }
            }
        }
        if shadowed > 0 {
            tape[top].aux -= UInt32(shadowed)
            tape[top].flags |= TapeFlag.duplicates
            nonCanonical = true
        }
    }

    func fullHash(_ k: Int) -> UInt32 {
        let e = tape[k]
        var hasher = Hasher()
        if e.flags & TapeFlag.escaped == 0 {
            hasher.combine(bytes: UnsafeRawBufferPointer(start: b + Int(e.start) + 1, count: Int(e.end - e.start) - 2))
        } else {
            decodedString(start: Int(e.start), end: Int(e.end)) { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    func sameKey(_ x: Int, _ y: Int) -> Bool {
        let ex = tape[x]
        let ey = tape[y]
        let px = UnsafeBufferPointer(start: b + Int(ex.start) + 1, count: Int(ex.end - ex.start) - 2)
        let py = UnsafeBufferPointer(start: b + Int(ey.start) + 1, count: Int(ey.end - ey.start) - 2)
        return JSONStringDecoding.equal(px, escaped: ex.flags & TapeFlag.escaped != 0, py, escaped: ey.flags & TapeFlag.escaped != 0)
    }

    // MARK: - Errors

    @inline(never)
    func literalError(_ literal: String) -> JSONError {
        JSONError(reason: "invalid literal (expected '\(literal)')", offset: i)
    }

    /// The error for an unexpected byte at `i`, naming the common mistakes explicitly.
    @inline(never)
    func unexpected(expecting: String) -> JSONError {
        if i >= n { return JSONError(reason: "unexpected end of input, expected \(expecting)", offset: i) }
        let c = b[i]
        switch c {
        case 0x2F: return JSONError(reason: "comments are not allowed in JSON", offset: i)
        case 0x4E: return JSONError(reason: "NaN is not allowed in JSON", offset: i)
        case 0x49: return JSONError(reason: "Infinity is not allowed in JSON", offset: i)
        case 0x27: return JSONError(reason: "single-quoted strings are not allowed in JSON", offset: i)
        default: return JSONError(reason: "expected \(expecting), found \(describe(c))", offset: i)
        }
    }
}

@usableFromInline
func hexByte(_ c: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    return "0x" + String(digits[Int(c >> 4)]) + String(digits[Int(c & 15)])
}

func hex4Text(_ v: UInt32) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
    var s = ""
    for shift in stride(from: 12, through: 0, by: -4) { s.append(digits[Int((v >> UInt32(shift)) & 15)]) }
    return s
}

func printable(_ c: UInt8) -> String {
    c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : hexByte(c)
}

/// `'x'` for printable ASCII, `byte 0xC3` otherwise.
func describe(_ c: UInt8) -> String {
    c > 0x20 && c < 0x7F ? "'\(String(UnicodeScalar(c)))'" : "byte \(hexByte(c))"
}
