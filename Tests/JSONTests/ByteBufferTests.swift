import JSON
import Testing

@Suite struct ByteBufferTests {
    /// Random appends, truncations and copies against an array doing the same; a copy taken along
    /// the way keeps its bytes when the original is made unique and written again.
    @Test func behavesLikeAnArray() {
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        var buffer = ByteBuffer(capacity: 4)
        var model: [UInt8] = []
        var snapshots: [(ByteBuffer, [UInt8])] = []
        for step in 0..<3000 {
            buffer.makeUnique()
            switch next(6) {
            case 0:
                let b = UInt8(next(256))
                buffer.append(b)
                model.append(b)
            case 1:
                let bytes = (0..<next(300)).map { _ in UInt8(next(256)) }
                buffer.append(bytes)
                model.append(contentsOf: bytes)
            case 2:
                buffer.append("literal")
                model.append(contentsOf: Array("literal".utf8))
            case 3:
                let to = next(model.count + 1)
                buffer.truncate(to: to)
                model.removeSubrange(to...)
            case 4 where !model.isEmpty:
                buffer.removeLast()
                model.removeLast()
            default:
                if step % 7 == 0 { snapshots.append((buffer, model)) }
            }
            #expect(buffer.count == model.count)
            #expect(buffer.last == model.last)
        }
        #expect(buffer.withBytes { Array($0) } == model)
        for (copy, bytes) in snapshots { #expect(copy.withBytes { Array($0) } == bytes) }
    }

    /// Values written into a buffer are the bytes `JSONWriter` writes for them.
    @Test(arguments: ["", "plain", "quote\" back\\ tab\t nl\n ctl\u{1} del\u{7F}", "é日本😀", String(repeating: "\u{0}", count: 40)])
    func quotedStringsMatchTheWriter(_ s: String) {
        var w = JSONWriter()
        w.string(s)
        var buffer = ByteBuffer(capacity: 1)
        JSONWriter.appendQuoted(s, to: &buffer)
        var bytes: [UInt8] = [1]
        JSONWriter.appendQuoted(s, to: &bytes)
        #expect(buffer.withBytes { Array($0) } == w.bytes)
        #expect(bytes == [1] + w.bytes)
    }

    @Test(arguments: [
        #"{"a":1,"b":[true,null,"x"]}"#, #" { "a" : 1 , "a" : 2 } "#, #""\/\u00e9\ud83d\ude00""#, "-1.5e3", #"[{"k":"\u0041"},[]]"#,
    ])
    func nodesMatchTheWriter(_ text: String) throws {
        var doc = JSONDocument()
        try doc.parse(text)
        var w = JSONWriter()
        doc.write(doc.root, to: &w)
        var buffer = ByteBuffer(capacity: 2)
        buffer.append("x")
        doc.append(doc.root, to: &buffer)
        var bytes: [UInt8] = [0x78]
        doc.append(doc.root, to: &bytes)
        #expect(buffer.withBytes { Array($0) } == [0x78] + w.bytes)
        #expect(bytes == [0x78] + w.bytes)
    }
}

@Suite struct PathSetTests {
    static let document = #"{"a":{"b":{"c":1},"x":null,"l":[10,{"m":"n"}]},"a.b":2,"k":"v","k":"w","e\u0301":3,"":4}"#
    static let paths = ["a", "a.b", "a.b.c", "a.b.c.d", "a.x", "a.l", "a.l.0", "a.l.1.m", "a.l.2", "a\\.b", "k", "e\u{301}", "missing", "a.missing.deeper", "k.0"]

    /// Every path resolves to the node `lookup` finds, on the first and on the cached call, and
    /// again after the cache is reset for another document.
    @Test func resolveAgreesWithLookup() throws {
        var set = JSONPathSet()
        var handles: [(JSONPath, Int32)] = []
        for text in PathSetTests.paths {
            let path = try JSONPath(text)
            handles.append((path, set.add(path)))
        }
        // Shared prefixes and repeated paths add no steps: a, b, c, d, x, l, 0, 1, m, 2, a.b, k, é, missing, missing, deeper, 0.
        #expect(set.count == 17)
        #expect(set.add(try JSONPath("a.b.c")) == handles[2].1)
        var cache = JSONPathCache()
        for text in [PathSetTests.document, #"{"a":{"l":[{"m":1}],"b":{}},"k":[5]}"#, "[1]"] {
            var doc = JSONDocument()
            try doc.parse(text)
            cache.reset(for: set)
            for _ in 0..<2 {
                for (path, handle) in handles {
                    #expect(doc.resolve(handle, in: set, cache: &cache) == doc.lookup(path), "\(path) in \(text)")
                }
            }
        }
        #expect(JSONDocument().resolve(-1, in: set, cache: &cache) == JSONDocument().root)
    }
}
