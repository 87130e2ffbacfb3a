import JSON
import Posix

/// `[output] type = "stdout"`: writes each event of a batch as one JSON line and answers 200,
/// so the whole shipper (batching, acknowledgement, dead letter) runs as with `http`.
///
/// One `write(2)` per batch keeps lines whole when something else writes to stdout too.
public struct StdoutTransport: TrackTransport {
    private let write: @Sendable ([UInt8]) -> Void

    public init(write: @escaping @Sendable ([UInt8]) -> Void = { StandardStreams.out($0) }) {
        self.write = write
    }

    public func post(_ body: [UInt8]) throws(TransportFailure) -> TrackResponse {
        var doc = JSONDocument()
        do { try doc.parse(body) } catch {
            // The shipper only ever hands over arrays it built; say so like an API would.
            return TrackResponse(status: 400, body: Array("body is not JSON: \(error)".utf8))
        }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16)
        doc.forEachElement(doc.root) { e in
            out.append(contentsOf: doc.rawBytes(e))
            out.append(0x0A)
        }
        write(out)
        return TrackResponse(status: 200)
    }
}
