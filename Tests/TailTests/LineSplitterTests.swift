import Pipeline
@testable import Tail
import Testing

struct Emitted: Equatable, CustomStringConvertible {
    var text: String
    var start: Int64
    var end: Int64
    var truncated: Bool = false
    var description: String { "\(text.debugDescription)@\(start)..<\(end)\(truncated ? " truncated" : "")" }
}

func split(_ chunks: [[UInt8]], max: Int = 1 << 20, head: Int = 1024, offset: Int64 = 0) -> (lines: [Emitted], splitter: LineSplitter) {
    var s = LineSplitter(maxLineBytes: max, headBytes: head, offset: offset)
    var batch = LineBatch(source: SourceID(1))
    for c in chunks { s.feed(c, into: &batch) }
    let out = batch.lines.map { Emitted(text: String(decoding: batch.text(of: $0), as: UTF8.self), start: $0.start, end: $0.end, truncated: $0.truncated) }
    return (out, s)
}

struct SplitCase: CustomTestStringConvertible, Sendable {
    var name: String
    var input: [UInt8]
    var max: Int = 1 << 20
    var head: Int = 1024
    var expected: [Emitted]
    var pending: Int
    var testDescription: String { name }
}

let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
let splitCases: [SplitCase] = [
    SplitCase(name: "two lines", input: Array("a\nbc\n".utf8), expected: [.init(text: "a", start: 0, end: 2), .init(text: "bc", start: 2, end: 5)], pending: 0),
    SplitCase(name: "partial last line waits", input: Array("a\nbc".utf8), expected: [.init(text: "a", start: 0, end: 2)], pending: 2),
    SplitCase(name: "empty lines", input: Array("\n\n".utf8), expected: [.init(text: "", start: 0, end: 1), .init(text: "", start: 1, end: 2)], pending: 0),
    SplitCase(name: "CRLF", input: Array("a\r\nb\r\n".utf8), expected: [.init(text: "a", start: 0, end: 3), .init(text: "b", start: 3, end: 6)], pending: 0),
    SplitCase(name: "only one CR stripped", input: Array("a\r\r\n".utf8), expected: [.init(text: "a\r", start: 0, end: 4)], pending: 0),
    SplitCase(name: "BOM at 0", input: bom + Array("{}\nx\n".utf8), expected: [.init(text: "{}", start: 0, end: 6), .init(text: "x", start: 6, end: 8)], pending: 0),
    SplitCase(name: "BOM not at 0 kept", input: Array("a\n".utf8) + bom + Array("b\n".utf8), expected: [.init(text: "a", start: 0, end: 2), .init(text: "\u{FEFF}b", start: 2, end: 7)], pending: 0),
    SplitCase(name: "BOM and CRLF", input: bom + Array("a\r\n".utf8), expected: [.init(text: "a", start: 0, end: 6)], pending: 0),
    SplitCase(name: "line at the limit", input: Array("abcd\n".utf8), max: 4, expected: [.init(text: "abcd", start: 0, end: 5)], pending: 0),
    SplitCase(name: "too long line: head, full range", input: Array("abcdefgh\nok\n".utf8), max: 4, head: 3,
              expected: [.init(text: "abc", start: 0, end: 9, truncated: true), .init(text: "ok", start: 9, end: 12)], pending: 0),
    SplitCase(name: "too long partial holds head only", input: Array("abcdefghijkl".utf8), max: 4, head: 2, expected: [], pending: 2),
    SplitCase(name: "binary bytes pass through", input: [0x00, 0xFF, 0x0A], expected: [.init(text: "\u{0}\u{FFFD}", start: 0, end: 3)], pending: 0),
]

/// Each case fed whole, split at every point into two chunks, and byte by byte.
@Test(arguments: splitCases)
func lineSplitterTable(_ c: SplitCase) {
    #expect(split([c.input], max: c.max, head: c.head).lines == c.expected)
    for cut in 0...c.input.count {
        let r = split([Array(c.input[..<cut]), Array(c.input[cut...])], max: c.max, head: c.head)
        #expect(r.lines == c.expected, "cut at \(cut)")
        #expect(r.splitter.pendingBytes == c.pending, "cut at \(cut)")
    }
    let bytewise = split(c.input.map { [$0] }, max: c.max, head: c.head)
    #expect(bytewise.lines == c.expected)
    #expect(bytewise.splitter.pendingBytes == c.pending)
}

@Test func splitterOffsetsContinueFromStart() {
    let r = split([Array("x\ny\n".utf8)], offset: 100)
    #expect(r.lines == [.init(text: "x", start: 100, end: 102), .init(text: "y", start: 102, end: 104)])
    #expect(r.splitter.position == 104)
}

@Test func splitterBOMOnlyAtZero() {
    // A file resumed at offset 3 must not treat bytes there as a BOM, and one starting at 0 must.
    let r = split([bom + Array("a\n".utf8)], offset: 3)
    #expect(r.lines.first?.text == "\u{FEFF}a")
}

@Test func splitterFlushEmitsPartial() {
    var s = LineSplitter()
    var b = LineBatch(source: SourceID(1))
    s.feed(Array("a\nlast".utf8), into: &b)
    s.flush(into: &b)
    #expect(b.lines.count == 2)
    #expect(String(decoding: b.text(of: b.lines[1]), as: UTF8.self) == "last")
    #expect(b.lines[1].start == 2 && b.lines[1].end == 6)
}

/// A 20 MB line in 64 KiB chunks: one record with the head, and never more than the head held.
@Test func splitterHugeLineIsNotHeld() {
    var s = LineSplitter(maxLineBytes: 1 << 20, headBytes: 1024)
    var b = LineBatch(source: SourceID(1))
    let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
    var maxHeld = 0
    for _ in 0..<320 {
        s.feed(chunk, into: &b)
        maxHeld = max(maxHeld, s.pendingBytes)
    }
    s.feed(Array("\nnext\n".utf8), into: &b)
    #expect(b.lines.count == 2)
    #expect(b.lines[0].truncated && b.lines[0].textCount == 1024)
    #expect(b.lines[0].start == 0 && b.lines[0].end == 320 * 65536 + 1)
    #expect(maxHeld <= 1 << 20)
    #expect(s.pendingBytes == 0)
    #expect(b.bytes.count == 1024 + 4)
}

@Test func splitterResetAfterTruncation() {
    var s = LineSplitter()
    var b = LineBatch(source: SourceID(1))
    s.feed(Array("abc\npartial".utf8), into: &b)
    s.reset(to: 0)
    s.feed(Array("new\n".utf8), into: &b)
    #expect(b.lines.map { String(decoding: b.text(of: $0), as: UTF8.self) } == ["abc", "new"])
    #expect(b.lines[1].start == 0 && b.lines[1].end == 4)
}

/// The word-at-a-time newline search against a byte loop: every position of a newline relative to
/// the 8-byte words, and random chunkings of random text.
@Test func splitterNewlineSearchAgreesWithAByteLoop() {
    for length in 0..<40 {
        for at in 0...length {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            if at < length { bytes[at] = 10 }
            for from in 0...length {
                let expected = (from..<length).first { bytes[$0] == 10 } ?? length
                let found = bytes.withUnsafeBufferPointer { LineSplitter.newline(in: $0, from: from) }
                #expect(found == expected, "length \(length), newline at \(at), from \(from)")
            }
        }
    }
    var state: UInt64 = 42
    func next() -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(state >> 33)
    }
    let alphabet: [UInt8] = [10, 10, 13, 0x80, 0xFF, 0x09, 0x0B, 0x8A] + Array("abc{}\"".utf8)
    let text = (0..<20_000).map { _ in alphabet[next() % alphabet.count] }
    var s = LineSplitter(maxLineBytes: 64, headBytes: 16)
    var b = LineBatch(source: SourceID(1))
    var i = 0
    while i < text.count {
        let n = min(text.count - i, 1 + next() % 50)
        s.feed(Array(text[i..<(i + n)]), into: &b)
        i += n
    }
    // Reference: split at every newline, drop one trailing CR, cut at 16 bytes past 64.
    var expected: [(String, Int64, Int64, Bool)] = []
    var start = 0
    for (k, c) in text.enumerated() where c == 10 {
        var line = Array(text[start..<k])
        let truncated = line.count > 64
        if truncated { line = Array(line.prefix(16)) } else if line.last == 13 { line.removeLast() }
        expected.append((String(decoding: line, as: UTF8.self), Int64(start), Int64(k + 1), truncated))
        start = k + 1
    }
    #expect(b.lines.count == expected.count)
    for (line, e) in zip(b.lines, expected) {
        #expect(String(decoding: b.text(of: line), as: UTF8.self) == e.0)
        #expect(line.start == e.1 && line.end == e.2 && line.truncated == e.3)
    }
}
