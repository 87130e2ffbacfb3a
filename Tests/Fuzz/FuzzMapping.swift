// libFuzzer target: line → payload with a fixed rule set (conditions, drop, templates,
// properties_from, context, timestamps in several units, event ids). Built by Tests/Fuzz/run.sh.
// Invariants: never crashes; every event the mapper builds is valid JSON with the contract's
// three required keys.
import JSON
import Pipeline

nonisolated(unsafe) var mapper: Mapper = {
    let rules = [
        RuleSpec(name: "debug", when: [ConditionSpec(field: "level", .equals(.string("debug")))], action: .drop),
        RuleSpec(name: "signup", when: [ConditionSpec(field: "event", .in([.string("signup"), .string("user_waitlisted")]))],
                 eventName: "{event}", userID: "{user.id}", timestamp: "{ts}", timestampUnit: "ms",
                 properties: [(key: "plan", template: "{plan|free}"), (key: "n", template: "{props.seq}")],
                 context: [(key: "group_id", template: "{account}")]),
        RuleSpec(name: "numbers", when: [ConditionSpec(field: "t", .exists(true)), ConditionSpec(field: "n", .notEquals(.integer(3)))],
                 eventName: "n_{kind}", userID: "{uid}", timestamp: "{t}", timestampUnit: "s", propertiesFrom: ["props"],
                 dropProperties: ["secret"]),
        RuleSpec(name: "rest", when: [ConditionSpec(field: "msg", .prefix("l"))], eventName: "{event|log_line}", userID: "{user.id}",
                 timestamp: "{ts}", timestampMissing: .readTime, propertiesFrom: ["props", "extra"],
                 renameEvents: [(from: "a", to: "b")]),
    ]
    return try! Mapper(MappingConfiguration(rules: rules, unmatched: .deadLetter, eventIDKey: "{user.id}-{props.seq}"))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMapping(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let line = ArraySlice(UnsafeBufferPointer(start: data, count: count))
    switch mapper.mapLine(line, readTime: 1_729_439_496_514_999_999, sourceKey: 7, offset: 42) {
    case .event(let json, _, _):
        var d = JSONDocument()
        do { try d.parse(json) } catch { preconditionFailure("built an event that is not JSON: \(error)") }
        for key in ["event_name", "user_id", "timestamp"] {
            precondition(d.member(d.root, key).map { d.kind($0) == .string } == true, "event without \(key)")
        }
    case .dropped, .rejected:
        break
    }
    return 0
}
