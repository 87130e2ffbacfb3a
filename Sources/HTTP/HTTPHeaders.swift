/// Header fields in the order they were added or received. Lookup ignores ASCII case, as
/// HTTP field names are case-insensitive; repeated fields are kept (see `values(for:)`).
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)
    private var fields: [Element] = []

    public init() {}
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }
    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    /// Appends a field (does not replace an existing one of the same name).
    public mutating func add(name: String, value: String) { fields.append((name, value)) }

    /// Removes every field called `name`.
    public mutating func remove(name: String) { fields.removeAll { Self.equalIgnoringCase($0.name, name) } }

    /// Reading returns the first field called `name`; writing replaces every such field by one
    /// (or removes them all when set to nil).
    public subscript(name: String) -> String? {
        get { fields.first { Self.equalIgnoringCase($0.name, name) }?.value }
        set {
            remove(name: name)
            if let newValue { add(name: name, value: newValue) }
        }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { Self.equalIgnoringCase($0.name, name) }.map(\.value)
    }

    /// Whether the comma-separated token lists of `name` (e.g. `Connection: keep-alive, Upgrade`)
    /// contain `token`, ignoring case.
    public func containsToken(_ token: String, in name: String) -> Bool {
        for field in fields where Self.equalIgnoringCase(field.name, name) {
            for part in field.value.split(separator: ",") {
                if Self.equalIgnoringCase(String(part.trimmingASCIIWhitespace()), token) { return true }
            }
        }
        return false
    }

    /// ASCII case-insensitive comparison without allocating lower-cased copies.
    static func equalIgnoringCase(_ a: String, _ b: String) -> Bool {
        var ia = a.utf8.makeIterator()
        var ib = b.utf8.makeIterator()
        while true {
            let ca = ia.next(), cb = ib.next()
            guard let x = ca, let y = cb else { return ca == nil && cb == nil }
            if x == y { continue }
            let l = x | 0x20
            if l != y | 0x20 || l < 0x61 || l > 0x7A { return false }
        }
    }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
