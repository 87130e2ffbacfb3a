import JSON
import Testing

/// Mutated inputs checked against `ReferenceParser`: same accept/reject decision, same canonical output,
/// an error offset inside the input, and no crash whatever the bytes.
@Suite struct DifferentialTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds: [String] = [
        #"{"ts":"2024-10-20T15:51:36.516Z","level":"info","event":"feature_used","user":{"id":"u_001640","email":"jane1640@example.com"},"account":"acct_643","props":{"feature":"api_keys","plan":"free","n":8,"seq":0},"device":"desktop","msg":"User jane used feature"}"#,
        #"[1,-2.5e+3,0,true,false,null,"a\"b\\c\/d\n\u00e9\ud83d\ude00",{"":[]},[[{}]]]"#,
        "{\"caf\u{e9}\":\"\u{20AC}\u{1F600}\",\"k\":{\"k\":{\"k\":1}},\"k\":2}",
        #" { "a" : [ 1 , 2 ] , "b" : "x" } "#,
        #"{"id":12345678901234567891,"f":1.50,"e":-0.0E-10,"big":[123456789012345678901234567890]}"#,
    ]

    /// Bytes that matter to the grammar, plus UTF-8 lead and continuation bytes.
    static let interesting: [UInt8] = Array(#"{}[]:,"\ 0123456789-+.eEtfnulrsaxu/"#.utf8)
        + [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x7F, 0x80, 0xA0, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !b.isEmpty: b[at] = interesting.randomElement(using: &rng)!
            case 1: b.insert(interesting.randomElement(using: &rng)!, at: at)
            case 2 where !b.isEmpty: b.remove(at: at)
            case 3: b = Array(b[..<at])
            case 4 where !b.isEmpty:
                let end = min(b.count, at + Int.random(in: 1...12, using: &rng))
                b.insert(contentsOf: b[at..<end], at: Int.random(in: 0...b.count, using: &rng))
            default:
                let escapes = [#"\u"#, #"\uD800"#, #"\uDC00"#, #"\ud83d\ude00"#, #"\u00e9"#, #"\/"#, #"\x"#, "\u{FEFF}", "é", "😀"]
                b.insert(contentsOf: Array(escapes.randomElement(using: &rng)!.utf8), at: at)
            }
        }
        return b
    }

    @Test func agreesWithTheReferenceOnMutatedInputs() {
        var rng = SplitMix64(state: 0x7472_6163_6B74_6169)
        var doc = JSONDocument()
        var w = JSONWriter()
        var accepted = 0
        var disagreements: [String] = []
        for n in 0..<30_000 {
            let seed = Array(Self.seeds[n % Self.seeds.count].utf8)
            let input = Self.mutate(seed, &rng)
            let expected = ReferenceParser.canonical(input)
            do {
                try doc.parse(input)
                w.reset()
                doc.write(doc.root, to: &w)
                accepted += 1
                if w.bytes != expected {
                    disagreements.append("accepted differently: \(input) -> \(String(decoding: w.bytes, as: UTF8.self))")
                }
            } catch {
                if expected != nil { disagreements.append("rejected (\(error)) valid: \(String(decoding: input, as: UTF8.self))") }
                if error.offset < 0 || error.offset > input.count { disagreements.append("offset out of range: \(error)") }
            }
            if disagreements.count > 5 { break }
        }
        #expect(disagreements == [])
        #expect(accepted > 1_000) // the mutations must also produce valid documents, or the test proves little
    }

    /// Random byte strings inside quotes: accepted exactly when they are valid UTF-8 (per the standard
    /// library) without quotes, backslashes or control characters.
    @Test func utf8ValidationAgreesWithTheStandardLibrary() throws {
        var rng = SplitMix64(state: 42)
        var doc = JSONDocument()
        let pool: [UInt8] = [0x41, 0x7E, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF]
        var valid = 0
        for _ in 0..<20_000 {
            let body = (0..<Int.random(in: 1...10, using: &rng)).map { _ in pool.randomElement(using: &rng)! }
            let expected = String(validating: body, as: UTF8.self) != nil
            let accepted = (try? doc.parse([0x22] + body + [0x22])) != nil
            #expect(accepted == expected, "\(body)")
            if accepted {
                valid += 1
                #expect(doc.string(doc.root).map { Array($0.utf8) } == body)
            }
        }
        #expect(valid > 200)
    }
}
