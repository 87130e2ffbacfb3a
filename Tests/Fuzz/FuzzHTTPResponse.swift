// libFuzzer target: the HTTP/1.1 response parser, fed in two pieces split where the first
// byte says (so every state sees a boundary). Built by Tests/Fuzz/run.sh.
// Invariants: never crashes; `consumed` stays inside what was fed; feeding the same bytes in
// one piece gives the same outcome.
import HTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPResponse(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let method = data[0] & 1 == 0 ? "POST" : "HEAD"
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: count - 1))
    let split = bytes.isEmpty ? 0 : Int(data[0] >> 1) % (bytes.count + 1)
    let whole = run(method, [bytes])
    let pieces = run(method, [Array(bytes[..<split]), Array(bytes[split...])])
    precondition(whole == pieces, "split at \(split): \(whole) vs \(pieces)")
    return 0
}

private func run(_ method: String, _ pieces: [[UInt8]]) -> String {
    var parser = HTTPResponseParser(maxBodyBytes: 4_096, maxHeadBytes: 1_024)
    parser.reset(requestMethod: method)
    var fed = 0
    for p in pieces {
        do {
            switch try parser.feed(p) {
            case .needMore:
                fed += p.count
            case .complete(let response, let consumed):
                precondition(consumed >= 0 && consumed <= p.count, "consumed \(consumed) of \(p.count)")
                return "complete \(response.status) body \(response.body.count) at \(fed + consumed)"
            }
        } catch {
            return "error \(error)"
        }
    }
    do {
        let r = try parser.finish()
        return "complete at close \(r.status) body \(r.body.count)"
    } catch {
        return "error at close \(error)"
    }
}
