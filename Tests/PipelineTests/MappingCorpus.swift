import Pipeline

/// A deterministic corpus of log lines and rules for the mapping regression test: every line is
/// mapped and the whole output (event bytes, records, rejection reasons, line heads) is folded
/// into one FNV-1a digest. The expected digest was computed by the mapper before the hot path was
/// rewritten for speed, so a change of even one output byte fails the test.
///
/// The lines mix what the fast paths special-case: minified and spaced JSON, escapes that stay and
/// escapes that are rewritten (`\/`, `\u00e9`, surrogate pairs), duplicate keys, numbers as user
/// ids, epoch and ISO timestamps, missing and null fields, non-objects and broken JSON.
enum MappingCorpus {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick(_ xs: [String]) -> String { xs[below(xs.count)] }
    }

    static let texts = [
        "plain", "with space", #"quote\"inside"#, #"back\\slash"#, #"slash\/path"#, #"caf\u00e9"#, "café",
        #"emoji\ud83d\ude00"#, #"tab\there"#, #"ctl\u0001x"#, "", "x", "日本語", #"\u0041BC"#,
    ]
    static let events = ["feature_used", "invite_sent", "signed_up", "old_name", #"feat\u005fused"#, ""]
    static let stamps = [
        #""2024-10-20T15:51:36.516Z""#, #""2024-10-20 15:51:36+02:00""#, "1729439496514", "1729439496.5141559",
        #""1729439496""#, #""20-11-23T22:28:55Z""#, "null", #""2024-02-30T00:00:00Z""#, "1.729439496514e12",
    ]

    /// One line: usually an object with the fields the rules read, sometimes something broken.
    static func line(_ r: inout Random) -> String {
        switch r.below(40) {
        case 0: return #"{"event":"x","#                       // truncated JSON
        case 1: return "[1,2,3]"                                 // not an object
        case 2: return #"{"level":"debug","event":"noise"}"#   // dropped by a rule
        default: break
        }
        let sp = r.below(4) == 0 ? " " : ""
        var members: [String] = []
        func add(_ key: String, _ value: String) { members.append("\"\(key)\":\(sp)\(value)") }
        if r.below(10) > 0 { add("ts", r.pick(stamps)) }
        add("level", r.pick([#""info""#, #""warn""#, #""error""#]))
        if r.below(12) > 0 { add("event", "\"\(r.pick(events))\"") }
        switch r.below(6) {
        case 0: add("user", "{\"id\":\(r.below(1_000_000)),\"email\":\"\(r.pick(texts))\"}")
        case 1: add("uid", "\"u_\(r.below(1000))\"")
        case 2: add("user", #"{"id":null}"#)
        default: add("user", "{\"id\":\"u_\(r.below(100_000))\",\(sp)\"email\":\"\(r.pick(texts))@example.com\"}")
        }
        if r.below(5) > 0 { add("account", "\"acct_\(r.below(1000))\"") }
        var props: [String] = []
        for _ in 0..<r.below(5) {
            let key = r.pick(["feature", "plan", "n", "seq", "email", "secret", #"k\u0065y"#, "event_id"])
            let value = r.pick(["1", "-2.50e+3", "true", "null", "[1,{\"a\":\(sp)2}]", "{\"nested\":\"\(r.pick(texts))\"}", "\"\(r.pick(texts))\""])
            props.append("\"\(key)\":\(sp)\(value)")
        }
        if r.below(8) > 0 { add("props", "{\(props.joined(separator: ",\(sp)"))}") } else if r.below(2) == 0 { add("props", "\"nope\"") }
        if r.below(3) == 0 { add("extra", "{\"plan\":\"\(r.pick(texts))\",\"seq\":\(r.below(9))}") }
        if r.below(4) > 0 { add("device", "\"\(r.pick(["desktop", "mobile", #"tab\u006cet"#]))\"") }
        add("msg", "\"\(r.pick(texts)) \(r.pick(texts))\"")
        if r.below(15) == 0 { add("level", #""info""#) }      // a duplicate key: last wins
        return "\(sp){\(sp)" + members.joined(separator: ",\(sp)") + "\(sp)}\(sp)"
    }

    static let configuration = MappingConfiguration(rules: [
        RuleSpec(name: "noise", when: [ConditionSpec(field: "level", .equals(.string("debug")))], action: .drop),
        RuleSpec(
            name: "errors", when: [ConditionSpec(field: "level", .equals(.string("error"))), ConditionSpec(field: "event", .exists(true))],
            eventName: "error_{event}", userID: "{user.id|uid|'anonymous'}", timestamp: "{ts}", timestampMissing: .readTime,
            timestampZone: "+01:00", propertiesFrom: ["props", "extra"],
            properties: [("plan", "{extra.plan|'none'}"), ("text", "{msg} by {user.email|'?'}")],
            context: [("group_id", "{account}")], dropProperties: ["secret"]),
        RuleSpec(
            name: "app-events", eventName: "{event}", userID: "{user.id|uid}", timestamp: "{ts}",
            propertiesFrom: ["props"], properties: [("email", "{user.email}")],
            context: [("group_id", "{account}"), ("device_type", "{device}")],
            renameEvents: [("old_name", "new_name")]),
    ], unmatched: .deadLetter, eventIDKey: "event_id")

    /// Maps `count` generated lines in batches of `batchLines` and returns the digest of everything
    /// the mapper produced, with the number of events.
    static func digest(count: Int, batchLines: Int = 97, seed: UInt64 = 0x7472_6163_6B74_6169) throws -> (digest: UInt64, events: Int) {
        var r = Random(state: seed)
        var mapper = try Mapper(configuration)
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func fold(_ bytes: some Sequence<UInt8>) {
            for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        var events = 0
        var made = 0
        var offset: Int64 = 0
        var out = MappedBatch(source: SourceID(0))
        while made < count {
            var batch = LineBatch(source: SourceID(2), readTime: 1_729_439_496_514_000_000 + Int64(made))
            for _ in 0..<min(batchLines, count - made) {
                let text = Array(line(&r).utf8)
                let start = batch.bytes.count
                batch.bytes.append(contentsOf: text)
                let end = offset + Int64(text.count) + 1
                batch.lines.append(LineRecord(textStart: start, textEnd: batch.bytes.count, start: offset, end: end))
                offset = end
                made += 1
            }
            // Keep earlier output in `out` every other batch: map appends.
            if made % 2 == 0 {
                out.eventBytes.removeAll(keepingCapacity: true)
                out.events.removeAll(keepingCapacity: true)
                out.others.removeAll(keepingCapacity: true)
            }
            let firstEvent = out.events.count, firstOther = out.others.count
            mapper.map(batch, sourceKey: 7, into: &out)
            for e in out.events[firstEvent...] {
                fold(out.eventJSON(e))
                fold(String(e.start).utf8)
                fold(String(e.end).utf8)
            }
            for o in out.others[firstOther...] {
                fold(String(o.start).utf8)
                fold((o.rejection ?? "dropped").utf8)
                fold(o.lineHead)
            }
            events += out.events.count - firstEvent
        }
        return (h, events)
    }
}
