import Testing
@testable import TOML

/// Damaged documents must give an error with a position inside the text, never a trap: every
/// valid corpus file is cut at every byte and has bytes replaced by TOML's syntax characters.
@Suite struct TOMLRobustnessTests {
    static let replacements: [UInt8] = Array("[]{}=,.\"'\\#\n\r \t0_+-:eZ".utf8) + [0x00, 0x7F, 0xC3, 0xFF]

    @Test func truncatedAndMutatedDocumentsFailCleanly() throws {
        var parsed = 0
        var rejected = 0
        var random = SplitMix(seed: 0x70_6D_6C)
        for file in try TOMLTestSuiteTests.listed("valid/") {
            let bytes = try TOMLTestSuiteTests.bytes(file)
            var variants: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for _ in 0..<min(bytes.count, 64) {
                var mutated = bytes
                mutated[Int(random.next() % UInt64(bytes.count))] = Self.replacements[Int(random.next() % UInt64(Self.replacements.count))]
                variants.append(mutated)
            }
            for variant in variants {
                do {
                    _ = try TOML.parse(utf8: variant)
                    parsed += 1
                } catch {
                    rejected += 1
                    let lines = variant.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
                    if error.position.line < 1 || error.position.line > lines || error.position.column < 1 {
                        Issue.record("\(file): \(error) is outside the damaged text")
                    }
                }
            }
        }
        #expect(rejected > 0 && parsed > 0)
    }
}

/// A small deterministic generator, so that a failure can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
