// libFuzzer target: the NDJSON line parser (`JSONDocument.parse`). Built by Tests/Fuzz/run.sh.
// Invariants: never crashes; a line that parses twice gives the same root kind; a shallower
// depth limit only ever turns success into an error, never the reverse.
import JSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONLine(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: count)
    var document = JSONDocument()
    var ok = true
    do { try document.parse(bytes) } catch { ok = false; _ = error.description }
    if ok {
        let kind = document.kind(document.root)
        var again = JSONDocument()
        try! again.parse(bytes)
        precondition(again.kind(again.root) == kind, "parsing twice disagrees")
    }
    var shallow = JSONDocument(maxDepth: 2)
    do { try shallow.parse(bytes) } catch { return 0 }
    precondition(ok, "a depth limit of 2 accepted what the default refused")
    return 0
}
