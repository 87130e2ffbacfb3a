extension JSONDocument {
    /// Writes the node minified and canonical: duplicate keys resolved (last wins), strings re-escaped
    /// minimally, numbers as their exact text.
    ///
    /// | source                                         | how                                         |
    /// |------------------------------------------------|---------------------------------------------|
    /// | whole line canonical (usual minified NDJSON)   | one copy of the node's source bytes         |
    /// | a scalar whose text is canonical               | one copy                                    |
    /// | anything else                                  | iterative walk of the tape (no recursion) writing through a pointer into space reserved up front |
    ///
    /// The canonical form is never longer than the source (whitespace and shadowed members only go away,
    /// and every escape sequence re-escapes to at most its own length), so the node's source length is
    /// enough space to reserve.
    public func write(_ n: JSONNode, to w: inout JSONWriter) {
        guard entry(n.index) != nil else {
            w.null()
            return
        }
        w.comma()
        w.needsComma = true
        append(n, to: &w.bytes)
    }

    /// Appends the node's canonical JSON (as `write` does) to a plain byte buffer, with no comma
    /// logic: for callers that lay out their own JSON around values (`null` for an invalid node).
    public func append(_ n: JSONNode, to bytes: inout [UInt8]) {
        guard let e = entry(n.index) else {
            bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            return
        }
        input.withUnsafeBufferPointer { all in
            let src = all.baseAddress!
            let start = Int(e.start)
            let bound = Int(e.end) - start
            if canonical || e.flags & TapeFlag.rewrite == 0 && e.kind < JSONKind.array.rawValue {
                bytes.append(contentsOf: UnsafeBufferPointer(start: src + start, count: bound))
                return
            }
            // The canonical form is never longer than the source (see above): make room with a
            // copy of the source (one memcpy), overwrite it from the start, cut what is left.
            let before = bytes.count
            bytes.append(contentsOf: UnsafeBufferPointer(start: src + start, count: bound))
            let written = bytes.withUnsafeMutableBufferPointer { out in
                writeCanonical(Int(n.index), src, into: out.baseAddress! + before)
            }
            bytes.removeLast(bound - written)
        }
    }

    /// `append` into a `ByteBuffer` (the mapping hot path): one `memcpy` when the node's source is
    /// canonical, else the canonical form written in place.
    public func append(_ n: JSONNode, to buffer: inout ByteBuffer) {
        guard let e = entry(n.index) else {
            buffer.append("null")
            return
        }
        input.withUnsafeBufferPointer { all in
            let src = all.baseAddress!
            let start = Int(e.start)
            let bound = Int(e.end) - start
            if canonical || e.flags & TapeFlag.rewrite == 0 && e.kind < JSONKind.array.rawValue {
                buffer.append(src + start, count: bound)
            } else {
                buffer.commit(writeCanonical(Int(n.index), src, into: buffer.reserve(bound)))
            }
        }
    }

    /// Writes a member's key as an escaped JSON string followed by `:` (a copy of the source bytes unless
    /// the key's escapes need rewriting).
    public func writeKey(_ k: JSONKey, to w: inout JSONWriter) {
        guard let e = entry(k.index), e.kind == JSONKind.string.rawValue else {
            w.key("")
            return
        }
        w.comma()
        input.withUnsafeBufferPointer { all in
            if e.flags & TapeFlag.rewrite == 0 {
                w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: all[Int(e.start)..<Int(e.end)]))
            } else {
                let bound = Int(e.end - e.start)
                let before = w.bytes.count
                w.bytes.append(contentsOf: repeatElement(0, count: bound))
                let written = w.bytes.withUnsafeMutableBufferPointer { out in
                    Self.writeString(e, all.baseAddress!, into: out.baseAddress! + before)
                }
                w.bytes.removeLast(bound - written)
            }
        }
        w.bytes.append(0x3A)
        w.needsComma = false
    }

    /// The canonical form of the subtree at tape index `root`; returns the bytes written.
    func writeCanonical(_ root: Int, _ src: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxDepth + 1) { open in
            var o = out
            var depth = 0
            var needsComma = false
            var j = root
            let stop = Int(entryAt(root).next)
            while true {
                while depth > 0 && j == Int(entryAt(Int(open[depth - 1])).next) {
                    o.pointee = entryAt(Int(open[depth - 1])).kind == JSONKind.object.rawValue ? 0x7D : 0x5D
                    o += 1
                    needsComma = true
                    depth -= 1
                }
                if j >= stop { break }
                let inObject = depth > 0 && entryAt(Int(open[depth - 1])).kind == JSONKind.object.rawValue
                if inObject && entryAt(j).flags & TapeFlag.shadowed != 0 {
                    j = Int(entryAt(j + 1).next) // a later member repeats this key: skip key and value
                    continue
                }
                if needsComma {
                    o.pointee = 0x2C
                    o += 1
                }
                if inObject {
                    o += Self.writeString(entryAt(j), src, into: o)
                    o.pointee = 0x3A
                    o += 1
                    j += 1
                }
                let v = entryAt(j)
                if v.kind >= JSONKind.array.rawValue {
                    o.pointee = v.kind == JSONKind.object.rawValue ? 0x7B : 0x5B
                    o += 1
                    open[depth] = Int32(truncatingIfNeeded: j)
                    depth += 1
                    needsComma = false
                    j += 1
                } else {
                    o += Self.writeString(v, src, into: o)
                    needsComma = true
                    j = Int(v.next)
                }
            }
            return o - out
        }
    }

    /// A scalar: its source bytes, or for a string whose escapes are not canonical, decoded and re-escaped.
    @inline(__always)
    static func writeString(_ e: TapeEntry, _ src: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let start = Int(e.start)
        let count = Int(e.end) - start
        if e.flags & TapeFlag.rewrite == 0 {
            out.update(from: src + start, count: count)
            return count
        }
        var o = out
        o.pointee = 0x22
        o += 1
        JSONStringDecoding.decode(UnsafeBufferPointer(start: src + start + 1, count: count - 2)) { c in
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                o.pointee = c
                o += 1
            } else {
                o += JSONWriter.escape(c, into: o)
            }
        }
        o.pointee = 0x22
        o += 1
        return o - out
    }
}
