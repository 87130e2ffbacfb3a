// libFuzzer target: the checkpoint file reader (`CheckpointFile.decode`). Built by
// Tests/Fuzz/run.sh. Invariants: never crashes; what decodes encodes and decodes to the same.
import Tail

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    guard let entries = try? CheckpointFile.decode(bytes) else { return 0 }
    let again = try? CheckpointFile.decode(CheckpointFile.encode(entries))
    precondition(again == entries, "a decoded checkpoint does not survive encode + decode")
    return 0
}
