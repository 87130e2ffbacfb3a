extension JSONDocument {
    /// Writes the node minified and canonical: duplicate keys resolved (last wins), strings re-escaped
    /// minimally, numbers as their exact text. When the whole line was already canonical (the usual
    /// minified NDJSON line) this is one copy of the node's source bytes; otherwise the subtree is walked
    /// iteratively (no recursion, whatever the depth).
    public func write(_ n: JSONNode, to w: inout JSONWriter) {
        guard let e = entry(n.index) else {
            w.null()
            return
        }
        input.withUnsafeBufferPointer { all in
            if canonical || e.kind < JSONKind.array.rawValue {
                writeScalar(e, all, &w)
                return
            }
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxDepth + 1) { open in
                var depth = 0
                var j = Int(n.index)
                let stop = Int(e.next)
                while true {
                    while depth > 0 && j == Int(entryAt(Int(open[depth - 1])).next) {
                        w.bytes.append(entryAt(Int(open[depth - 1])).kind == JSONKind.object.rawValue ? 0x7D : 0x5D)
                        w.needsComma = true
                        depth -= 1
                    }
                    if j >= stop { break }
                    if depth > 0 && entryAt(Int(open[depth - 1])).kind == JSONKind.object.rawValue {
                        let key = entryAt(j)
                        if key.flags & TapeFlag.shadowed != 0 {
                            j = Int(entryAt(j + 1).next)
                            continue
                        }
                        writeKey(key, all, &w)
                        j += 1
                    }
                    let v = entryAt(j)
                    switch v.kind {
                    case JSONKind.object.rawValue:
                        w.beginObject()
                        open[depth] = Int32(truncatingIfNeeded: j)
                        depth += 1
                        j += 1
                    case JSONKind.array.rawValue:
                        w.beginArray()
                        open[depth] = Int32(truncatingIfNeeded: j)
                        depth += 1
                        j += 1
                    default:
                        writeScalar(v, all, &w)
                        j = Int(v.next)
                    }
                }
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
        input.withUnsafeBufferPointer { writeKey(e, $0, &w) }
    }

    func writeKey(_ e: TapeEntry, _ all: UnsafeBufferPointer<UInt8>, _ w: inout JSONWriter) {
        writeScalar(e, all, &w)
        w.bytes.append(0x3A)
        w.needsComma = false
    }

    /// A value whose source text is canonical, or a string to re-escape.
    func writeScalar(_ e: TapeEntry, _ all: UnsafeBufferPointer<UInt8>, _ w: inout JSONWriter) {
        w.comma()
        if e.flags & TapeFlag.rewrite == 0 {
            w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: all[Int(e.start)..<Int(e.end)]))
        } else {
            let content = UnsafeBufferPointer(rebasing: all[Int(e.start + 1)..<Int(e.end - 1)])
            JSONStringDecoding.decoded(content, escaped: true).withUnsafeBufferPointer { w.appendEscaped($0) }
        }
        w.needsComma = true
    }
}
