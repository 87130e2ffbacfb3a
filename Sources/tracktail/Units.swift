/// Parsing of human units and a spelling hint.
enum Units {
    static func bytes(_ text: String) -> Int? {
        let (number, unit) = split(text)
        guard let n = Double(number), n >= 0 else { return nil }
        let factor: Double
        switch unit.lowercased() {
        case "", "b": factor = 1
        case "k", "kb": factor = 1000
        case "kib": factor = 1024
        case "m", "mb": factor = 1_000_000
        case "mib": factor = 1_048_576
        case "g", "gb": factor = 1_000_000_000
        case "gib": factor = 1_073_741_824
        default: return nil
        }
        return Int(n * factor)
    }

    static func duration(_ text: String) -> Int64? {
        let (number, unit) = split(text)
        guard let n = Double(number), n >= 0 else { return nil }
        let factor: Double
        switch unit {
        case "ns": factor = 1
        case "us", "µs": factor = 1e3
        case "ms": factor = 1e6
        case "", "s": factor = 1e9
        case "m", "min": factor = 60e9
        case "h": factor = 3600e9
        default: return nil
        }
        return Int64(n * factor)
    }

    static func describe(nanoseconds v: Int64) -> String {
        if v % 1_000_000_000 == 0 { return "\(v / 1_000_000_000)s" }
        if v % 1_000_000 == 0 { return "\(v / 1_000_000)ms" }
        return "\(v)ns"
    }

    private static func split(_ text: String) -> (String, String) {
        let t = text.filter { $0 != " " && $0 != "_" }
        let idx = t.firstIndex { !($0.isNumber || $0 == ".") } ?? t.endIndex
        return (String(t[..<idx]), String(t[idx...]))
    }

    /// The known name within edit distance 2, for "did you mean".
    static func closest(_ word: String, in names: [String]) -> String? {
        var best: (String, Int)?
        for n in names {
            let d = distance(Array(word.utf8), Array(n.utf8))
            if d <= 2 && (best == nil || d < best!.1) { best = (n, d) }
        }
        return best?.0
    }

    private static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = prev
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
