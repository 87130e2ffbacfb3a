import JSON

/// A `Template` ready for the hot path: paths parsed once, constant text kept as UTF-8.
enum CompiledTemplate: Sendable {
    case constant(String)
    /// Exactly one placeholder: the value keeps its JSON type.
    case single(CompiledPlaceholder)
    /// Text and values joined into a string.
    case mixed([Part])

    enum Part: Sendable {
        case text([UInt8])
        case value(CompiledPlaceholder)
    }

    /// Parses and compiles `source`, adding its paths to `paths`; errors carry only the reason
    /// (the caller adds rule and key).
    init(_ source: String, paths set: inout JSONPathSet) throws(TemplateError) {
        let template = try Template(parsing: source)
        if let constant = template.constant {
            self = .constant(constant)
        } else if let single = template.singlePlaceholder {
            self = .single(try CompiledPlaceholder(single, paths: &set))
        } else {
            var parts: [Part] = []
            for part in template.parts {
                switch part {
                case .text(let t): parts.append(.text(Array(t.utf8)))
                case .value(let p): parts.append(.value(try CompiledPlaceholder(p, paths: &set)))
                }
            }
            self = .mixed(parts)
        }
    }

    /// Marks "no single handle" (handles are -1 for `$` or an index in the `JSONPathSet`).
    static let noHandle = Int32.min

    /// The handle of a template that is one placeholder with one path: when that path has a
    /// value, the value is the template's, so the hot path needs nothing else. `noHandle` for
    /// every other template.
    var singleHandle: Int32 {
        if case .single(let p) = self, p.handles.count == 1 { return p.handles[0] }
        return CompiledTemplate.noHandle
    }

    var placeholders: [CompiledPlaceholder] {
        switch self {
        case .constant: []
        case .single(let p): [p]
        case .mixed(let parts): parts.compactMap { if case .value(let p) = $0 { p } else { nil } }
        }
    }
}

/// `{a|b|'default'}` with its paths parsed. A class: the hot path passes placeholders around
/// in enums, and one reference count is cheaper than one per array and string inside.
final class CompiledPlaceholder: Sendable {
    /// `nil` stands for `$`, the whole line.
    let paths: [JSONPath?]
    /// The paths' handles in the mapper's `JSONPathSet` (-1: `$`).
    let handles: [Int32]
    let fallback: String?
    /// `"user.id" or "uid"`, for rejection reasons.
    let describedPaths: String

    init(_ p: Template.Placeholder, paths set: inout JSONPathSet) throws(TemplateError) {
        var paths: [JSONPath?] = []
        var handles: [Int32] = []
        for text in p.paths {
            if text == "$" {
                paths.append(nil)
                handles.append(-1)
                continue
            }
            do {
                let path = try JSONPath(text)
                paths.append(path)
                handles.append(set.add(path))
            } catch {
                throw TemplateError(error.reason)
            }
        }
        self.paths = paths
        self.handles = handles
        fallback = p.fallback
        describedPaths = p.paths.map { "\"\($0)\"" }.joined(separator: " or ")
    }

    /// The first path with a non-null value. JSON `null` counts as no value (see `Template`).
    @inline(__always)
    func resolve(in doc: JSONDocument, _ set: JSONPathSet, _ cache: inout JSONPathCache) -> Resolution {
        for i in handles.indices {
            if let n = doc.resolve(handles[i], in: set, cache: &cache), doc.kind(n) != .null { return .node(n) }
        }
        return fallback == nil ? .missing : .fallback
    }
}

/// Where a placeholder's value comes from in one line.
enum Resolution {
    case node(JSONNode)
    /// The placeholder's quoted default.
    case fallback
    /// No path has a value and there is no default.
    case missing
}

/// The outcome of joining a mixed template into text.
enum RenderOutcome {
    case rendered
    case missing(CompiledPlaceholder)
    /// An object or array cannot become part of a string.
    case notText(CompiledPlaceholder, JSONKind)
}

extension CompiledTemplate {
    /// Appends the decoded UTF-8 text of a mixed template to `text`: strings decoded, numbers as
    /// their source text, booleans as `true`/`false`.
    static func render(
        _ parts: [Part], _ doc: JSONDocument, _ set: JSONPathSet, _ cache: inout JSONPathCache, into text: inout [UInt8]
    ) -> RenderOutcome {
        for part in parts {
            switch part {
            case .text(let t):
                text.append(contentsOf: t)
            case .value(let p):
                switch p.resolve(in: doc, set, &cache) {
                case .missing:
                    return .missing(p)
                case .fallback:
                    text.append(contentsOf: p.fallback!.utf8)
                case .node(let n):
                    switch doc.kind(n) {
                    case .string:
                        _ = doc.withStringBytes(n) { text.append(contentsOf: $0) }
                    case .number, .bool:
                        text.append(contentsOf: doc.rawBytes(n))
                    case let kind:
                        return .notText(p, kind)
                    }
                }
            }
        }
        return .rendered
    }
}

extension JSONKind {
    /// `an object`, `a number`: for rejection reasons.
    var phrase: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
