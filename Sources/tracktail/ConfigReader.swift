import TOML

/// Every configuration error of one decode, so that one `check` names all of them.
///
/// Readers record into it and go on with the default, instead of stopping at the first; the
/// decoder throws them together at the end, in file order.
final class ConfigDiagnostics {
    private(set) var errors: [ConfigurationError] = []

    func add(_ error: ConfigurationError) {
        if !errors.contains(error) { errors.append(error) }
    }

    /// Runs `body`; an error it throws is recorded and `fallback` returned, so decoding goes on.
    func attempt<T>(_ fallback: T, _ body: () throws(ConfigurationError) -> T) -> T {
        do {
            return try body()
        } catch {
            add(error)
            return fallback
        }
    }
}

/// Reads one TOML table into typed values, remembering which keys were used so that
/// `finish()` can reject unknown ones (a typo must never be silently ignored).
///
/// Every error carries the file, the position of the offending key or value, and the key path.
/// The typed accessors never stop the decode: a wrong value is recorded in `diagnostics` and
/// the accessor answers `nil` or the default, so the next key is still checked.
struct ConfigReader {
    let file: String
    let table: TOMLTable
    /// Key path of this table, e.g. `rule[2]` or `output`.
    let path: String
    let diagnostics: ConfigDiagnostics
    private(set) var used: Set<String> = []

    init(file: String, table: TOMLTable, path: String, diagnostics: ConfigDiagnostics) {
        self.file = file
        self.table = table
        self.path = path
        self.diagnostics = diagnostics
    }

    /// Records an error and goes on.
    func report(_ error: ConfigurationError) { diagnostics.add(error) }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String?, _ message: String, at position: TOMLPosition? = nil) -> ConfigurationError {
        let pos = position ?? key.flatMap { table.entry($0)?.valuePosition } ?? table.position
        return ConfigurationError(file: file, position: pos, keyPath: key.map(keyPath) ?? path, message: message)
    }

    func error(at position: TOMLPosition, path: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, position: position, keyPath: path, message: message)
    }

    func has(_ key: String) -> Bool { table.entry(key) != nil }

    mutating func value(_ key: String) -> TOMLTable.Entry? {
        guard let e = table.entry(key) else { return nil }
        used.insert(key)
        return e
    }

    mutating func string(_ key: String) -> String? {
        guard let e = value(key) else { return nil }
        guard case .string(let s) = e.value else { return reportMismatch(key, e, "a string") }
        return s
    }

    mutating func string(_ key: String, default d: String) -> String {
        string(key) ?? d
    }

    mutating func nonEmptyString(_ key: String) -> String? {
        guard let s = string(key) else { return nil }
        if s.isEmpty { report(error(key, "must not be empty")); return nil }
        return s
    }

    /// One of `choices`; the error lists them.
    mutating func choice(_ key: String, _ choices: [String], default d: String) -> String {
        guard let s = string(key) else { return d }
        guard choices.contains(s) else {
            report(error(key, "unknown value \"\(s)\" (expected \(choices.map { "\"\($0)\"" }.joined(separator: ", ")))"))
            return d
        }
        return s
    }

    mutating func bool(_ key: String, default d: Bool) -> Bool {
        guard let e = value(key) else { return d }
        guard case .bool(let b) = e.value else { return reportMismatch(key, e, "a boolean") ?? d }
        return b
    }

    mutating func int(_ key: String, default d: Int, range: ClosedRange<Int>) -> Int {
        guard let e = value(key) else { return d }
        guard case .integer(let v) = e.value else { return reportMismatch(key, e, "an integer") ?? d }
        guard range.contains(Int(v)) else {
            report(error(key, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)"))
            return d
        }
        return Int(v)
    }

    /// A size: an integer number of bytes or a string like `"4 MiB"`, `"512KiB"`, `"1MB"`.
    mutating func bytes(_ key: String, default d: Int, range: ClosedRange<Int>) -> Int {
        guard let e = value(key) else { return d }
        return diagnostics.attempt(d) { () throws(ConfigurationError) -> Int in
        let v: Int
        switch e.value {
        case .integer(let i): v = Int(i)
        case .string(let s):
            guard let parsed = Units.bytes(s) else {
                throw error(key, "\"\(s)\" is not a size (examples: 4194304, \"4 MiB\", \"512 KiB\", \"1 MB\")")
            }
            v = parsed
        default: throw mismatch(key, e, "a size (integer bytes or a string like \"4 MiB\")")
        }
        guard range.contains(v) else { throw error(key, "\(v) bytes is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
        }
    }

    /// A duration: a number of seconds or a string like `"500ms"`, `"1s"`, `"2m"`, `"1h"`. Nanoseconds.
    mutating func duration(_ key: String, default d: Int64, range: ClosedRange<Int64>) -> Int64 {
        guard let e = value(key) else { return d }
        return diagnostics.attempt(d) { () throws(ConfigurationError) -> Int64 in
        let v: Int64
        switch e.value {
        case .integer(let i): v = i * 1_000_000_000
        case .float(let f): v = Int64(f * 1e9)
        case .string(let s):
            guard let parsed = Units.duration(s) else {
                throw error(key, "\"\(s)\" is not a duration (examples: 1, \"500ms\", \"1s\", \"2m\", \"1h\")")
            }
            v = parsed
        default: throw mismatch(key, e, "a duration (seconds or a string like \"500ms\")")
        }
        guard range.contains(v) else {
            throw error(key, "\(Units.describe(nanoseconds: v)) is out of range \(Units.describe(nanoseconds: range.lowerBound))...\(Units.describe(nanoseconds: range.upperBound))")
        }
        return v
        }
    }

    /// An array of strings; a single string is accepted as a one-element array.
    mutating func strings(_ key: String) -> [String]? {
        guard let e = value(key) else { return nil }
        return diagnostics.attempt(nil) { () throws(ConfigurationError) -> [String]? in
        switch e.value {
        case .string(let s): return [s]
        case .array(let a):
            var out: [String] = []
            for (i, el) in a.elements.enumerated() {
                guard case .string(let s) = el else {
                    throw error(at: a.positions[i], path: "\(keyPath(key))[\(i)]", "expected a string, found \(el.typeNameWithArticle)")
                }
                out.append(s)
            }
            return out
        default: throw mismatch(key, e, "an array of strings")
        }
        }
    }

    /// A sub-table (`[a.b]` or inline `{ ... }`).
    mutating func table(_ key: String) -> ConfigReader? {
        guard let e = value(key) else { return nil }
        guard case .table(let t) = e.value else { return reportMismatch(key, e, "a table") }
        return child(t, path: keyPath(key))
    }

    /// A reader for a nested table, sharing this one's diagnostics.
    func child(_ table: TOMLTable, path: String) -> ConfigReader {
        ConfigReader(file: file, table: table, path: path, diagnostics: diagnostics)
    }

    /// An array of tables (`[[rule]]`), each with the path `key[i]`.
    mutating func tables(_ key: String) -> [ConfigReader] {
        guard let e = value(key) else { return [] }
        switch e.value {
        case .array(let a):
            var out: [ConfigReader] = []
            for (i, el) in a.elements.enumerated() {
                guard case .table(let t) = el else {
                    report(error(at: a.positions[i], path: "\(keyPath(key))[\(i)]", "expected a table, found \(el.typeNameWithArticle)"))
                    continue
                }
                out.append(child(t, path: "\(keyPath(key))[\(i)]"))
            }
            return out
        case .table(let t):
            return [child(t, path: "\(keyPath(key))[0]")]
        default: return reportMismatch(key, e, "an array of tables ([[\(key)]])") ?? []
        }
    }

    /// A table of string values, in definition order (`properties = { email = "{user.email}" }`).
    mutating func stringTable(_ key: String) -> [(key: String, value: String, position: TOMLPosition)] {
        guard var sub = table(key) else { return [] }
        var out: [(key: String, value: String, position: TOMLPosition)] = []
        for e in sub.table.entries {
            guard case .string(let s) = e.value else {
                sub.report(sub.error(e.key, "expected a template string, found \(e.value.typeNameWithArticle)"))
                continue
            }
            out.append((e.key, s, e.valuePosition))
            sub.used.insert(e.key)
        }
        return out
    }

    func position(of key: String) -> TOMLPosition { table.entry(key)?.valuePosition ?? table.position }

    private func mismatch(_ key: String, _ e: TOMLTable.Entry, _ expected: String) -> ConfigurationError {
        error(key, "expected \(expected), found \(e.value.typeNameWithArticle)")
    }

    /// Records a type mismatch; answers `nil` so callers fall back to their default.
    private func reportMismatch<T>(_ key: String, _ e: TOMLTable.Entry, _ expected: String) -> T? {
        report(mismatch(key, e, expected))
        return nil
    }

    /// Reports every key that was never read, naming the known ones.
    func finish(known: [String]) {
        for e in table.entries where !used.contains(e.key) {
            let hint = Units.closest(e.key, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            report(ConfigurationError(file: file, position: e.keyPosition, keyPath: keyPath(e.key), message: "unknown key\(hint); known keys here: \(known.joined(separator: ", "))"))
        }
    }
}
