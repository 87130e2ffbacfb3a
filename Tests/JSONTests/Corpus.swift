import Foundation
import Testing

/// The JSONTestSuite corpus vendored in `Tests/Corpora/JSONTestSuite` (see its `ORIGIN.md`), found
/// from this file's path. A missing corpus fails `corpusIsPresent` and every file it names; it is
/// never skipped.
enum Corpus {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // JSONTests
        .deletingLastPathComponent() // Tests
        .appendingPathComponent("Corpora/JSONTestSuite/test_parsing")

    static func files(prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func bytes(_ name: String) -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
        } catch {
            Issue.record("JSONTestSuite file \(name) cannot be read from \(directory.path): \(error)")
            return []
        }
    }
}
