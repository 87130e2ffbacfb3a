import JSON

/// A `ConditionSpec` ready for the hot path (see its table for the meaning of each operator).
struct CompiledCondition: Sendable {
    enum Test: Sendable {
        /// `equals`/`in` (negated: `not_equals`/`not_in`, which also hold when there is no value).
        case oneOf([Scalar], negated: Bool)
        case exists(Bool)
        case prefix(String)
    }

    enum Scalar: Sendable {
        case string(String)
        /// Validated decimal text.
        case number([UInt8])
        case bool(Bool)
    }

    var path: JSONPath
    /// `path` in the mapper's `JSONPathSet`.
    var handle: Int32
    var test: Test

    /// Compiles one condition on its own (its path in a set of its own).
    init(_ spec: ConditionSpec) throws(TemplateError) {
        var set = JSONPathSet()
        try self.init(spec, paths: &set)
    }

    /// Compiles one condition, adding its path to `paths`; the error is the reason only.
    init(_ spec: ConditionSpec, paths set: inout JSONPathSet) throws(TemplateError) {
        do {
            path = try JSONPath(spec.field)
        } catch {
            throw TemplateError("field: \(error.reason)")
        }
        handle = set.add(path)
        func scalar(_ v: ConditionValue) throws(TemplateError) -> Scalar {
            switch v {
            case .string(let s): return .string(s)
            case .bool(let b): return .bool(b)
            case .number(let text):
                let bytes = Array(text.utf8)
                guard DecimalText(bytes[...]) != nil else { throw TemplateError("\"\(text)\" is not a JSON number") }
                return .number(bytes)
            }
        }
        switch spec.op {
        case .equals(let v): test = .oneOf([try scalar(v)], negated: false)
        case .notEquals(let v): test = .oneOf([try scalar(v)], negated: true)
        case .in(let list), .notIn(let list):
            guard !list.isEmpty else { throw TemplateError("an empty list never matches") }
            var scalars: [Scalar] = []
            for v in list { scalars.append(try scalar(v)) }
            if case .in = spec.op { test = .oneOf(scalars, negated: false) } else { test = .oneOf(scalars, negated: true) }
        case .exists(let b): test = .exists(b)
        case .prefix(let p): test = .prefix(p)
        }
    }

    /// Whether the condition holds, looking the path up directly.
    func holds(in doc: JSONDocument) -> Bool {
        holds(in: doc, at: doc.lookup(path))
    }

    /// Whether the condition holds, with the path resolved through the mapper's cache.
    @inline(__always)
    func holds(in doc: JSONDocument, _ set: JSONPathSet, _ cache: inout JSONPathCache) -> Bool {
        holds(in: doc, at: doc.resolve(handle, in: set, cache: &cache))
    }

    func holds(in doc: JSONDocument, at found: JSONNode?) -> Bool {
        var node = found
        if let n = node, doc.kind(n) == .null { node = nil }   // null is no value
        switch test {
        case .exists(let wanted):
            return (node != nil) == wanted
        case .prefix(let p):
            guard let node else { return false }
            return doc.hasPrefix(node, p)
        case .oneOf(let scalars, let negated):
            guard let node else { return negated }
            var found = false
            for s in scalars where CompiledCondition.equals(doc, node, s) {
                found = true
                break
            }
            return found != negated
        }
    }

    static func equals(_ doc: JSONDocument, _ node: JSONNode, _ s: Scalar) -> Bool {
        switch s {
        case .string(let text):
            return doc.stringEquals(node, text)
        case .bool(let b):
            return doc.bool(node) == b
        case .number(let text):
            guard doc.kind(node) == .number,
                  let a = DecimalText(doc.rawBytes(node)),
                  let b = DecimalText(text[...])
            else { return false }
            return a.numericallyEquals(b)
        }
    }
}
