import JSON
import Posix

/// `[output] type = "stdout"`: writes each event of a batch as one JSON line and answers 200,
/// so the whole shipper (batching, acknowledgement, dead letter) runs as with `http`.
///
/// One `write(2)` per batch keeps lines whole when something else writes to stdout too.
/// A failed write (stdout closed, a full disk) is a held configuration error, like a 401: the
/// events are not counted as delivered, so nothing is lost behind a broken pipe.
public struct StdoutTransport: TrackTransport {
    private let write: @Sendable ([UInt8]) throws -> Void

    public init(write: @escaping @Sendable ([UInt8]) throws -> Void = { try FileDescriptor.standardOutput.writeAll($0) }) {
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
        do {
            try write(out)
        } catch {
            throw .configuration("cannot write to standard output: \(error)")
        }
        return TrackResponse(status: 200)
    }
}
