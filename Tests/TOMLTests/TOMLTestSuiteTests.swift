import Foundation
import Testing
@testable import TOML

/// The toml-test corpus (TOML 1.0.0 files only), vendored in `Tests/Corpora/toml-test` (see its
/// `ORIGIN.md`): every valid document must decode to its tagged JSON twin, every invalid one must be
/// rejected with a line and column inside the file. A missing corpus throws: a failure, not a skip.
@Suite struct TOMLTestSuiteTests {
    /// Files we knowingly get wrong, with the reason. Empty: the whole corpus passes.
    static let knownFailures: [String: String] = [:]

    static let corpus: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // TOMLTests
        .deletingLastPathComponent() // Tests
        .appendingPathComponent("Corpora/toml-test")

    static func listed(_ prefix: String) throws -> [String] {
        let list = try String(contentsOf: corpus.appendingPathComponent("files-toml-1.0.0"), encoding: .utf8)
        return list.split(whereSeparator: \.isNewline).map(String.init)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".toml") }
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: corpus.appendingPathComponent(path)))
    }

    @Test func validDocumentsMatchTheirJSON() throws {
        let files = try Self.listed("valid/")
        #expect(files.count > 200)
        var passed = 0
        for file in files {
            let outcome: String?
            do {
                let table = try TOML.parse(utf8: Self.bytes(file))
                let jsonPath = String(file.dropLast(".toml".count)) + ".json"
                let expected = try JSONSerialization.jsonObject(with: Data(Self.bytes(jsonPath)), options: [.fragmentsAllowed])
                outcome = TaggedJSON.mismatch(.table(table), expected, path: "")
            } catch let error as TOMLError {
                outcome = "rejected: \(error)"
            }
            if let outcome {
                #expect(Self.knownFailures[file] != nil, "\(file): \(outcome)")
            } else {
                passed += 1
                #expect(Self.knownFailures[file] == nil, "\(file) passes now; remove it from knownFailures")
            }
        }
        print("toml-test valid: \(passed)/\(files.count) passed")
    }

    @Test func invalidDocumentsAreRejectedWithAPosition() throws {
        let files = try Self.listed("invalid/")
        #expect(files.count > 400)
        var rejected = 0
        for file in files {
            let bytes = try Self.bytes(file)
            do {
                _ = try TOML.parse(utf8: bytes)
                #expect(Self.knownFailures[file] != nil, "\(file): accepted")
            } catch {
                let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
                let inside = error.position.line >= 1 && error.position.line <= lines && error.position.column >= 1
                #expect(inside, "\(file): position \(error.position) outside the file")
                #expect(!error.message.isEmpty)
                if inside { rejected += 1 }
                #expect(Self.knownFailures[file] == nil, "\(file) is rejected now; remove it from knownFailures")
            }
        }
        print("toml-test invalid: \(rejected)/\(files.count) rejected")
    }
}

/// toml-test's tagged JSON: tables are objects, arrays are arrays, scalars are
/// `{"type": T, "value": "text"}`.
enum TaggedJSON {
    /// nil when `value` matches `expected`, otherwise where and how it differs.
    static func mismatch(_ value: TOMLValue, _ expected: Any, path: String) -> String? {
        switch value {
        case .table(let table):
            guard let object = expected as? [String: Any] else { return "\(path): table where JSON has \(expected)" }
            let keys = Set(table.keys)
            guard keys == Set(object.keys), keys.count == table.count else {
                return "\(path): keys \(table.keys.sorted()) != \(object.keys.sorted())"
            }
            for entry in table.entries {
                if let difference = mismatch(entry.value, object[entry.key]!, path: path + "." + entry.key) {
                    return difference
                }
            }
            return nil
        case .array(let array):
            guard let list = expected as? [Any], list.count == array.count else {
                return "\(path): array of \(array.count) where JSON has \(expected)"
            }
            guard array.positions.count == array.count else { return "\(path): positions missing" }
            for (index, element) in array.elements.enumerated() {
                if let difference = mismatch(element, list[index], path: path + "[\(index)]") { return difference }
            }
            return nil
        default:
            guard let tagged = expected as? [String: Any], let type = tagged["type"] as? String,
                  let text = tagged["value"] as? String
            else { return "\(path): \(value) where JSON has \(expected)" }
            let matches: Bool
            switch value {
            case .string(let string): matches = type == "string" && string == text
            case .integer(let integer): matches = type == "integer" && Int64(text) == integer
            case .bool(let bool): matches = type == "bool" && text == String(bool)
            case .float(let float):
                let wanted: Double? = switch text {
                case "inf", "+inf": .infinity
                case "-inf": -.infinity
                case "nan", "+nan", "-nan": .nan
                default: Double(text)
                }
                matches = type == "float" && wanted.map { $0 == float || ($0.isNaN && float.isNaN) } == true
            case .datetime(let datetime):
                let tag = switch datetime.kind {
                case .offsetDateTime: "datetime"
                case .localDateTime: "datetime-local"
                case .localDate: "date-local"
                case .localTime: "time-local"
                }
                matches = type == tag && normalized(datetime.text) == normalized(text)
            default: matches = false
            }
            return matches ? nil : "\(path): \(value) where JSON has \(type) \(text)"
        }
    }

    /// RFC 3339 texts compared by meaning: `T`/`Z` in upper case, trailing fraction zeros
    /// dropped, a zero offset written as `Z`.
    static func normalized(_ text: String) -> String {
        var result = text.uppercased().replacingOccurrences(of: " ", with: "T")
        for zero in ["+00:00", "-00:00"] where result.hasSuffix(zero) {
            result = String(result.dropLast(zero.count)) + "Z"
        }
        if let dot = result.firstIndex(of: ".") {
            let digitsEnd = result[dot...].dropFirst().firstIndex { !$0.isNumber } ?? result.endIndex
            var fraction = String(result[result.index(after: dot)..<digitsEnd])
            while fraction.hasSuffix("0") { fraction.removeLast() }
            result = String(result[..<dot]) + (fraction.isEmpty ? "" : "." + fraction) + result[digitsEnd...]
        }
        return result
    }
}
