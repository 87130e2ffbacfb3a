// libFuzzer target: the TOML 1.0 parser. Built by Tests/Fuzz/run.sh.
// Invariants: never crashes; an error names a line and column inside the input.
import TOML

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    do {
        _ = try TOML.parse(utf8: bytes)
    } catch {
        _ = error.description
    }
    return 0
}
