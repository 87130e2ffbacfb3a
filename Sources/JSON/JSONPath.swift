/// A dotted path into a document, parsed once (at configuration time) and used per line.
///
/// | written            | components            | note                                        |
/// |--------------------|-----------------------|---------------------------------------------|
/// | `user.id`          | `user`, `id`          |                                             |
/// | `items.0.sku`      | `items`, `0`, `sku`   | a decimal component (`0`, `12`, not `01`) also indexes arrays |
/// | `@timestamp`       | `@timestamp`          | any character but `.` and `\` is literal     |
/// | `a\.b`             | `a.b`                 | `\.` is a literal dot                        |
/// | `a\\b`             | `a\b`                 | `\\` is a literal backslash                  |
/// | `a..b`, `.a`, ``   | error                 | empty components are rejected                |
/// | `a\b`, `a\`        | error                 | any other backslash is rejected              |
public struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    /// A component prepared for lookups: its UTF-8 bytes, their key hash, and its array index if all digits.
    struct Step: Sendable {
        var key: [UInt8]
        var hash: UInt32
        var index: Int?

        init(_ component: String) {
            key = Array(component.utf8)
            hash = key.withUnsafeBytes { quickKeyHash($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
            let digits = !key.isEmpty && key.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            index = digits && (key.count == 1 || key[0] != 0x30) ? Int(component) : nil
        }
    }

    private(set) var steps: [Step]

    /// The decoded components (`a\.b` gives `["a.b"]`). Setting it re-prepares the lookup steps.
    public var components: [String] {
        get { steps.map { String(decoding: $0.key, as: UTF8.self) } }
        set { steps = newValue.map(Step.init) }
    }

    public init(_ dotted: String) throws(JSONPathError) {
        var components: [String] = []
        var current: [UInt8] = []
        var escaping = false
        for c in dotted.utf8 {
            if escaping {
                guard c == 0x2E || c == 0x5C else {
                    throw JSONPathError(reason: "path \"\(dotted)\": a backslash may only escape '.' or '\\'")
                }
                current.append(c)
                escaping = false
            } else if c == 0x5C {
                escaping = true
            } else if c == 0x2E {
                guard !current.isEmpty else { throw JSONPathError(reason: "path \"\(dotted)\": empty component") }
                components.append(String(decoding: current, as: UTF8.self))
                current.removeAll()
            } else {
                current.append(c)
            }
        }
        if escaping { throw JSONPathError(reason: "path \"\(dotted)\": ends with a lone backslash") }
        guard !current.isEmpty else { throw JSONPathError(reason: "path \"\(dotted)\": empty component") }
        components.append(String(decoding: current, as: UTF8.self))
        self.steps = components.map(Step.init)
    }

    /// A path from already-split components (no escaping; components may contain dots).
    public init(components: [String]) {
        self.steps = components.map(Step.init)
    }

    /// The dotted form, escaped so that `JSONPath(p.description) == p`.
    public var description: String {
        components.map { component in
            var s = ""
            for ch in component {
                if ch == "." || ch == "\\" { s.append("\\") }
                s.append(ch)
            }
            return s
        }.joined(separator: ".")
    }

    public static func == (lhs: JSONPath, rhs: JSONPath) -> Bool {
        lhs.steps.count == rhs.steps.count && zip(lhs.steps, rhs.steps).allSatisfy { $0.key == $1.key }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(steps.count)
        for s in steps { hasher.combine(s.key) }
    }
}
