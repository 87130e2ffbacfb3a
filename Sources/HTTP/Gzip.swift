import CZlib

/// gzip compression of request bodies (`Content-Encoding: gzip`), through the system zlib.
///
/// Off by default: at tracktail's rates deflate costs more CPU than the whole rest of the
/// pipeline, and the loopback or LAN link to the API is rarely the bottleneck. Worth it on a
/// metered or slow uplink (NDJSON events typically shrink 5–10×).
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible {
        public var code: Int32
        public var description: String { "zlib error \(code)" }
    }

    /// Compresses `input` into a gzip member (RFC 1952). `level` 1 (fast) … 9 (small).
    public static func compress(_ input: [UInt8], level: Int32 = 1) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        var rc = tracktail_deflateInit2(&stream, level, 15 + 16)
        guard rc == Z_OK else { throw Failure(code: rc) }
        defer { deflateEnd(&stream) }
        // Room for the worst case (about the input's size) without zero-filling it: a body of
        // JSON events shrinks 5-10x, so most of it is never written, and never touched.
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        let output = try [UInt8](unsafeUninitializedCapacity: bound) { (outBuf, written) throws(Failure) in
            rc = input.withUnsafeBufferPointer { inBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
            guard rc == Z_STREAM_END else { throw Failure(code: rc) }
            written = Int(stream.total_out)
        }
        // The compressed body is what waits for the answer: copied to its own size, so the
        // bound's buffer is freed now (`Array(output)` would share it).
        return output.withUnsafeBufferPointer { Array($0) }
    }

    /// Decompresses one gzip member (for tests and tools; the daemon only compresses).
    public static func decompress(_ input: [UInt8]) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        var rc = tracktail_inflateInit2(&stream, 15 + 16)
        guard rc == Z_OK else { throw Failure(code: rc) }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        rc = input.withUnsafeBufferPointer { inBuf -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            while true {
                let r = chunk.withUnsafeMutableBufferPointer { outBuf -> Int32 in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                if r != Z_OK { return r }
            }
        }
        guard rc == Z_STREAM_END else { throw Failure(code: rc) }
        return output
    }
}
