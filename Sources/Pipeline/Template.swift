/// A field's value as the configuration writes it: constants, values taken from the line, or a
/// string built from both.
///
/// | template | result |
/// | --- | --- |
/// | `"signup"` | the constant string `"signup"` |
/// | `"{user.id}"` | the value at `user.id`, **with its JSON type** (a number stays a number, an object an object) |
/// | `"{user.id\|uid}"` | the first of `user.id`, `uid` that has a value |
/// | `"{plan\|'free'}"` | `plan`, or the string `"free"` when it has no value (a default ends the list) |
/// | `"user-{id}"` | a string: text and values joined (numbers and booleans as their JSON text) |
/// | `"{{literal}}"` | the constant `"{literal}"`: `{{` and `}}` are braces |
/// | `"{$}"` | the whole line |
///
/// Paths are dotted (`user.id`, `items.0.sku`, `a\.b` for a key containing a dot; see `JSONPath`).
/// Spaces around a path or default inside the braces are ignored. A default is single-quoted
/// (the TOML string is double-quoted), `''` inside it is one quote.
///
/// JSON `null` counts as no value, so it falls through to the next path or the default: a log
/// line that writes `"plan": null` means the same as one that leaves `plan` out.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    /// One piece of a template.
    public enum Part: Sendable, Equatable {
        case text(String)
        case value(Placeholder)
    }

    /// `{a|b|'default'}`: paths tried in order, then the optional default.
    public struct Placeholder: Sendable, Equatable {
        public var paths: [String]
        public var fallback: String?
        public init(paths: [String], fallback: String? = nil) {
            self.paths = paths
            self.fallback = fallback
        }
    }

    /// The text as written in the configuration.
    public var source: String
    public var parts: [Part]

    public var description: String { source }

    /// Exactly one placeholder and nothing else: the value keeps its JSON type.
    public var singlePlaceholder: Placeholder? {
        if parts.count == 1, case .value(let p) = parts[0] { return p }
        return nil
    }

    /// No placeholder: the text itself.
    public var constant: String? {
        var out = ""
        for part in parts {
            guard case .text(let t) = part else { return nil }
            out += t
        }
        return out
    }

    /// The placeholder paths in order of appearance (for the catalogue check and error messages).
    public var placeholders: [Placeholder] {
        parts.compactMap { if case .value(let p) = $0 { p } else { nil } }
    }

    public init(parsing source: String) throws(TemplateError) {
        self.source = source
        parts = []
        let s = Array(source.unicodeScalars)
        var text = String.UnicodeScalarView()
        var i = 0
        func flushText() {
            if !text.isEmpty { parts.append(.text(String(text))); text = String.UnicodeScalarView() }
        }
        while i < s.count {
            let c = s[i]
            if c == "{" {
                if i + 1 < s.count, s[i + 1] == "{" { text.append("{"); i += 2; continue }
                let open = i
                let (placeholder, next) = try Template.placeholder(s, from: i + 1, openedAt: open)
                flushText()
                parts.append(.value(placeholder))
                i = next
            } else if c == "}" {
                if i + 1 < s.count, s[i + 1] == "}" { text.append("}"); i += 2; continue }
                throw TemplateError("lone \"}\" at character \(i + 1) (write \"}}\" for a literal brace)")
            } else {
                text.append(c)
                i += 1
            }
        }
        flushText()
    }

    /// Reads `a|b|'default'}` starting after the `{`; returns the placeholder and the index after `}`.
    private static func placeholder(
        _ s: [Unicode.Scalar], from start: Int, openedAt open: Int
    ) throws(TemplateError) -> (Placeholder, Int) {
        var paths: [String] = []
        var current = String.UnicodeScalarView()
        var i = start
        func raw(_ end: Int) -> String {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[open..<min(end, s.count)])
            return String(v)
        }
        /// The whole placeholder, up to its closing brace, for the message.
        func syntax(_ position: Int) -> TemplateError {
            var end = max(position - 1, start)
            while end < s.count, s[end] != "}" { end += 1 }
            return TemplateError("unknown placeholder syntax \"\(raw(end + 1))\"")
        }
        while true {
            guard i < s.count else {
                throw TemplateError("unclosed \"{\" at character \(open + 1) (write \"{{\" for a literal brace)")
            }
            let c = s[i]
            switch c {
            case "'":
                // A default: everything up to the closing quote; `''` is a quote.
                guard String(current).allSatisfy({ $0 == " " }) else { throw syntax(i + 1) }
                var value = String.UnicodeScalarView()
                i += 1
                while true {
                    guard i < s.count else { throw TemplateError("unclosed quote in \"\(raw(s.count))\"") }
                    if s[i] == "'" {
                        if i + 1 < s.count, s[i + 1] == "'" { value.append("'"); i += 2; continue }
                        i += 1
                        break
                    }
                    value.append(s[i])
                    i += 1
                }
                let fallback = String(value)
                // Only spaces may follow, then `}`: a default ends the list.
                while i < s.count, s[i] == " " { i += 1 }
                guard i < s.count else {
                    throw TemplateError("unclosed \"{\" at character \(open + 1) (write \"{{\" for a literal brace)")
                }
                guard s[i] == "}" else {
                    throw TemplateError("a default must come last in \"\(raw(i + 1))…\"")
                }
                guard !paths.isEmpty else {
                    throw TemplateError("\"\(raw(i + 1))\" has a default but no path (write a constant without braces)")
                }
                return (Placeholder(paths: paths, fallback: fallback), i + 1)
            case "|", "}":
                let path = trimmed(current)
                guard !path.isEmpty else { throw syntax(c == "}" ? i + 1 : i + 2) }
                paths.append(path)
                current = String.UnicodeScalarView()
                if c == "}" {
                    return (Placeholder(paths: paths, fallback: nil), i + 1)
                }
            case "{":
                throw syntax(i + 1)
            default:
                current.append(c)
            }
            i += 1
        }
    }

    private static func trimmed(_ v: String.UnicodeScalarView) -> String {
        var scalars = Substring.UnicodeScalarView(v)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// Why a template's text cannot be read; the reason names the offending part.
public struct TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
