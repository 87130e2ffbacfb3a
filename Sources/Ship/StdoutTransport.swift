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
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16)
        for r in JSONText.arrayElements(body) {
            out.append(contentsOf: body[r])
            out.append(0x0A)
        }
        write(out)
        return TrackResponse(status: 200)
    }
}
