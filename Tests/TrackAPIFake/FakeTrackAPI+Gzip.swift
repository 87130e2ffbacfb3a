/// `Content-Encoding: gzip` / `deflate` for `FakeTrackAPI`: a small inflater (RFC 1951, after
/// zlib's `puff.c`) with the gzip (RFC 1952, CRC-32 and length checked) and zlib (RFC 1950)
/// wrappers. Foundation on Linux has no decompression, and the test target links no zlib.
extension FakeTrackAPI {
    package struct DecodeError: Error, CustomStringConvertible {
        package let description: String
        package init(_ description: String) { self.description = description }
    }

    /// Every member of a gzip stream, concatenated.
    package static func gunzip(_ data: [UInt8]) throws -> [UInt8] {
        var inflater = Inflater(data)
        var out: [UInt8] = []
        repeat {
            let start = out.count
            try inflater.gzipHeader()
            try inflater.inflate(into: &out)
            inflater.alignToByte()
            let crc = try inflater.littleEndian32(), size = try inflater.littleEndian32()
            guard crc == crc32(out[start...]) else { throw DecodeError("gzip CRC-32 mismatch") }
            guard size == UInt32(truncatingIfNeeded: out.count - start) else { throw DecodeError("gzip length mismatch") }
        } while inflater.position < data.count
        return out
    }

    /// A zlib stream (what HTTP calls `deflate`); a bare deflate stream is accepted too, as some clients send one.
    package static func inflateZlib(_ data: [UInt8]) throws -> [UInt8] {
        var inflater = Inflater(data)
        if data.count >= 2, data[0] & 0x0F == 8, (UInt16(data[0]) << 8 | UInt16(data[1])) % 31 == 0 { inflater.position = 2 }
        var out: [UInt8] = []
        try inflater.inflate(into: &out)
        return out
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = crcTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    struct Huffman {
        var count = [Int](repeating: 0, count: 16)
        var symbol: [Int]

        init(lengths: ArraySlice<Int>) throws {
            symbol = [Int](repeating: 0, count: lengths.count)
            for l in lengths { count[l] += 1 }
            var left = 1
            for len in 1..<16 {
                left = left * 2 - count[len]
                guard left >= 0 else { throw DecodeError("deflate: over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + count[len] }
            for (s, l) in zip(0..., lengths) where l != 0 {
                symbol[offsets[l]] = s
                offsets[l] += 1
            }
        }
    }

    struct Inflater {
        let data: [UInt8]
        var position = 0
        var bitBuffer = 0
        var bitCount = 0

        init(_ data: [UInt8]) { self.data = data }

        mutating func byte() throws -> UInt8 {
            guard position < data.count else { throw DecodeError("compressed body ends early at byte \(position)") }
            defer { position += 1 }
            return data[position]
        }

        mutating func bits(_ n: Int) throws -> Int {
            while bitCount < n {
                bitBuffer |= Int(try byte()) << bitCount
                bitCount += 8
            }
            let value = bitBuffer & ((1 << n) - 1)
            bitBuffer >>= n
            bitCount -= n
            return value
        }

        mutating func alignToByte() { bitBuffer = 0; bitCount = 0 }

        mutating func littleEndian32() throws -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(try byte()) << (8 * k) }
            return v
        }

        mutating func gzipHeader() throws {
            guard try byte() == 0x1F, try byte() == 0x8B, try byte() == 8 else { throw DecodeError("not a gzip stream") }
            let flags = try byte()
            position += 6  // mtime, xfl, os
            if flags & 4 != 0 { let n = Int(try byte()) | Int(try byte()) << 8; position += n }
            if flags & 8 != 0 { while try byte() != 0 {} }
            if flags & 16 != 0 { while try byte() != 0 {} }
            if flags & 2 != 0 { position += 2 }
        }

        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1..<16 {
                code |= try bits(1)
                let count = h.count[len]
                if code - count < first { return h.symbol[index + (code - first)] }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw DecodeError("deflate: invalid Huffman code")
        }

        static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
        static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                   2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
        static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
        static let fixed: (Huffman, Huffman) = {
            var lengths = [Int](repeating: 8, count: 288)
            for s in 144..<256 { lengths[s] = 9 }
            for s in 256..<280 { lengths[s] = 7 }
            // The fixed tables are complete codes, so construction cannot fail.
            return (try! Huffman(lengths: lengths[...]), try! Huffman(lengths: [Int](repeating: 5, count: 30)[...]))
        }()

        mutating func inflate(into out: inout [UInt8]) throws {
            var last = false
            while !last {
                last = try bits(1) == 1
                switch try bits(2) {
                case 0:
                    alignToByte()
                    let length = Int(try byte()) | Int(try byte()) << 8
                    let complement = Int(try byte()) | Int(try byte()) << 8
                    guard length == ~complement & 0xFFFF, position + length <= data.count else { throw DecodeError("deflate: bad stored block") }
                    out += data[position..<(position + length)]
                    position += length
                case 1:
                    try codes(Self.fixed.0, Self.fixed.1, &out)
                case 2:
                    let (lengthCode, distanceCode) = try dynamicTables()
                    try codes(lengthCode, distanceCode, &out)
                default:
                    throw DecodeError("deflate: invalid block type")
                }
            }
        }

        mutating func dynamicTables() throws -> (Huffman, Huffman) {
            let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
            guard nlen <= 286, ndist <= 30 else { throw DecodeError("deflate: bad table counts") }
            let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
            var lengths = [Int](repeating: 0, count: 320)
            for k in 0..<ncode { lengths[order[k]] = try bits(3) }
            let codeLengths = try Huffman(lengths: lengths[0..<19])
            var index = 0
            while index < nlen + ndist {
                var symbol = try decode(codeLengths)
                if symbol < 16 {
                    lengths[index] = symbol
                    index += 1
                    continue
                }
                var repeated = 0
                if symbol == 16 {
                    guard index > 0 else { throw DecodeError("deflate: repeat with no previous length") }
                    repeated = lengths[index - 1]
                    symbol = 3 + (try bits(2))
                } else if symbol == 17 {
                    symbol = 3 + (try bits(3))
                } else {
                    symbol = 11 + (try bits(7))
                }
                guard index + symbol <= nlen + ndist else { throw DecodeError("deflate: too many lengths") }
                for _ in 0..<symbol { lengths[index] = repeated; index += 1 }
            }
            return (try Huffman(lengths: lengths[0..<nlen]), try Huffman(lengths: lengths[nlen..<(nlen + ndist)]))
        }

        mutating func codes(_ lengthCode: Huffman, _ distanceCode: Huffman, _ out: inout [UInt8]) throws {
            while true {
                var symbol = try decode(lengthCode)
                if symbol < 256 { out.append(UInt8(symbol)); continue }
                if symbol == 256 { return }
                symbol -= 257
                guard symbol < 29 else { throw DecodeError("deflate: bad length symbol") }
                let length = Self.lengthBase[symbol] + (try bits(Self.lengthExtra[symbol]))
                let d = try decode(distanceCode)
                guard d < 30 else { throw DecodeError("deflate: bad distance symbol") }
                let distance = Self.distanceBase[d] + (try bits(Self.distanceExtra[d]))
                guard distance <= out.count else { throw DecodeError("deflate: distance too far back") }
                let from = out.count - distance
                for k in 0..<length { out.append(out[from + k]) }
            }
        }
    }
}
