import Testing
@testable import Pipeline

/// The mapper's whole output over a generated corpus, compared with a digest taken before the hot
/// path was rewritten for speed (events written into the batch's bytes, values appended without
/// an intermediate writer, paths resolved once per line): the payload bytes must stay identical.
@Suite struct MappingDigestTests {
    @Test(arguments: [
        (1, 0x1775_A7D3_7C1A_0E24 as UInt64, 0),
        (50, 0x1E41_2BAD_7D97_54D6, 23),
        (5000, 0xCCC7_1D37_E98B_EC50, 2148),
    ])
    func outputIsUnchanged(count: Int, digest: UInt64, events: Int) throws {
        let result = try MappingCorpus.digest(count: count)
        #expect(result.events == events)
        #expect(result.digest == digest, "digest 0x\(String(result.digest, radix: 16, uppercase: true))")
    }

    /// The corpus reaches the paths it is meant to: events from both mapping rules, drops and rejections.
    @Test func corpusCoversEventsDropsAndRejections() throws {
        var r = MappingCorpus.Random(state: 1)
        var mapper = try Mapper(MappingCorpus.configuration)
        var seen: Set<String> = []
        for _ in 0..<2000 {
            switch mapper.mapLine(MappingCorpus.line(&r), readTime: 0) {
            case .event(_, let rule, _): seen.insert("event \(rule)")
            case .dropped(let rule): seen.insert("dropped \(rule ?? "-")")
            case .rejected(let reason, _): seen.insert(String(reason.prefix(while: { $0 != ":" && $0 != " " })))
            }
        }
        for wanted in ["event errors", "event app-events", "dropped noise", "invalid", "not", "timestamp", "user_id"] {
            #expect(seen.contains(wanted), "\(wanted) not reached; seen \(seen.sorted())")
        }
    }
}
