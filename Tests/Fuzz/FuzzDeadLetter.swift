// libFuzzer target: the dead-letter reader (`DeadLetterFile.parse`, what `replay` reads). Built by
// Tests/Fuzz/run.sh. Invariants: never crashes; records that parse serialize and parse back
// to as many records.
import Ship

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeadLetter(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let records = try? DeadLetterFile.parse(bytes) else { return 0 }
    var out: [UInt8] = []
    for r in records { r.serialized(into: &out) }
    let again = try? DeadLetterFile.parse(out)
    precondition(again?.count == records.count, "\(records.count) records parsed, \(again?.count ?? -1) after a round trip")
    return 0
}
