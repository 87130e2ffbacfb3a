/// A deliberately simple, recursive, test-only JSON parser written straight from RFC 8259, used as the
/// oracle for differential tests. It returns the canonical minified form (what `JSONDocument.write`
/// must produce) or nil when the text is invalid. Same policy choices as the real parser: BOM skipped,
/// lone surrogates rejected, duplicate keys last-wins (at the last occurrence's position), depth ≤ 64.
struct ReferenceParser {
    let b: [UInt8]
    var i = 0
    let maxDepth: Int

    static func canonical(_ bytes: [UInt8], maxDepth: Int = 64) -> [UInt8]? {
        var p = ReferenceParser(b: bytes, maxDepth: maxDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        p.ws()
        guard let v = p.value(depth: 0) else { return nil }
        p.ws()
        return p.i == bytes.count ? v : nil
    }

    func peek() -> UInt8? { i < b.count ? b[i] : nil }

    mutating func ws() {
        while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    mutating func value(depth: Int) -> [UInt8]? {
        guard let c = peek() else { return nil }
        switch c {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { return nil }
            i += 1
            ws()
            var members: [(key: [UInt8], value: [UInt8])] = []
            if peek() == UInt8(ascii: "}") {
                i += 1
                return Array("{}".utf8)
            }
            while true {
                ws()
                guard peek() == UInt8(ascii: "\""), let key = string() else { return nil }
                ws()
                guard peek() == UInt8(ascii: ":") else { return nil }
                i += 1
                ws()
                guard let v = value(depth: depth + 1) else { return nil }
                members.append((key, v))
                ws()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                if peek() == UInt8(ascii: "}") { i += 1; break }
                return nil
            }
            var out: [UInt8] = [UInt8(ascii: "{")]
            var first = true
            for (k, m) in members.enumerated() where !members[(k + 1)...].contains(where: { $0.key == m.key }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out += Self.escaped(m.key) + [UInt8(ascii: ":")] + m.value
            }
            return out + [UInt8(ascii: "}")]
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return nil }
            i += 1
            ws()
            if peek() == UInt8(ascii: "]") {
                i += 1
                return Array("[]".utf8)
            }
            var elements: [[UInt8]] = []
            while true {
                ws()
                guard let v = value(depth: depth + 1) else { return nil }
                elements.append(v)
                ws()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                if peek() == UInt8(ascii: "]") { i += 1; break }
                return nil
            }
            return [UInt8(ascii: "[")] + Array(elements.joined(separator: [UInt8(ascii: ",")])) + [UInt8(ascii: "]")]
        case UInt8(ascii: "\""):
            return string().map(Self.escaped)
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return number()
        }
    }

    mutating func literal(_ word: String) -> [UInt8]? {
        let w = Array(word.utf8)
        guard b.count - i >= w.count, Array(b[i..<(i + w.count)]) == w else { return nil }
        i += w.count
        return w
    }

    mutating func number() -> [UInt8]? {
        let s = i
        func digit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if peek() == UInt8(ascii: "-") { i += 1 }
        if peek() == UInt8(ascii: "0") {
            i += 1
        } else if digit(peek()) {
            while digit(peek()) { i += 1 }
        } else {
            return nil
        }
        if peek() == UInt8(ascii: ".") {
            i += 1
            guard digit(peek()) else { return nil }
            while digit(peek()) { i += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            i += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
            guard digit(peek()) else { return nil }
            while digit(peek()) { i += 1 }
        }
        return Array(b[s..<i])
    }

    func hex(_ at: Int) -> UInt32? {
        guard at + 4 <= b.count else { return nil }
        return UInt32(String(decoding: b[at..<(at + 4)], as: UTF8.self), radix: 16).flatMap {
            b[at..<(at + 4)].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) } ? $0 : nil
        }
    }

    /// Decoded UTF-8 bytes of the string at `i`.
    mutating func string() -> [UInt8]? {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { return nil }
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { return nil }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 8, 0x66: 12, 0x6E: 10, 0x72: 13, 0x74: 9]
            if let s = simple[e] { out.append(s); i += 2; continue }
            guard e == UInt8(ascii: "u"), var v = hex(i + 2) else { return nil }
            i += 6
            if v >= 0xDC00 && v <= 0xDFFF { return nil }
            if v >= 0xD800 && v <= 0xDBFF {
                guard i + 1 < b.count, b[i] == 0x5C, b[i + 1] == UInt8(ascii: "u"), let low = hex(i + 2), low >= 0xDC00 && low <= 0xDFFF else { return nil }
                v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                i += 6
            }
            out += Array(String(Character(Unicode.Scalar(v)!)).utf8)
        }
        guard String(validating: out, as: UTF8.self) != nil else { return nil }
        return out
    }

    static func escaped(_ s: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for c in s {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        return out + [0x22]
    }
}
