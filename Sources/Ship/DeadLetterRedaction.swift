/// What of an API response body a dead-letter record may keep.
///
/// A 4xx body can echo the request, headers included: the token must never reach the dead
/// letter (a file an operator copies around, attaches to tickets, replays from). Applied in
/// this order, on bytes, before the body is cut (so a secret cut in half cannot leak its head):
///
/// | what | becomes |
/// | --- | --- |
/// | any occurrence of a known secret (the token, at least 4 bytes) | `[REDACTED]` |
/// | `Bearer <credentials>` (any case) | `Bearer [REDACTED]` |
/// | the value after `authorization` or a configured key header name, followed by `:` or `=` (JSON key or header line, any case, quoted or not) | `[REDACTED]` |
/// | more than `limit` bytes left | the first `limit` bytes (whole UTF-8 characters), then `… [cut: N bytes in all]` |
public enum DeadLetterRedaction {
    public static let mark: [UInt8] = Array("[REDACTED]".utf8)

    public static func response(_ body: some Collection<UInt8>, secrets: [String], headerNames: [String] = [], limit: Int) -> String {
        var bytes = Array(body)
        for secret in secrets where secret.utf8.count >= 4 { bytes = replacing(Array(secret.utf8), in: bytes) }
        bytes = redactValues(after: Array("bearer ".utf8), in: bytes, separatorRequired: false)
        for name in ["authorization"] + headerNames.map({ $0.lowercased() }) where !name.isEmpty {
            bytes = redactValues(after: Array(name.utf8), in: bytes, separatorRequired: true)
        }
        return cut(bytes, limit: limit)
    }

    /// The text of `bytes` cut to `limit` bytes at a character boundary, marked when cut.
    public static func cut(_ bytes: [UInt8], limit: Int) -> String {
        guard bytes.count > limit else { return DeadLetterRecord.text(bytes) }
        var end = max(0, limit)
        while end > 0, end < bytes.count, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return DeadLetterRecord.text(bytes[0..<end]) + "… [cut: \(bytes.count) bytes in all]"
    }

    static func replacing(_ needle: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        guard !needle.isEmpty, bytes.count >= needle.count else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + needle.count <= bytes.count && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: mark)
                i += needle.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }

    /// After each case-insensitive `key` (and, when `separatorRequired`, an optional closing quote,
    /// spaces and `:` or `=`), the value up to its end is replaced by the mark.
    static func redactValues(after key: [UInt8], in bytes: [UInt8], separatorRequired: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            guard i + key.count <= bytes.count, zip(bytes[i..<(i + key.count)], key).allSatisfy({ lower($0) == $1 }) else {
                out.append(bytes[i])
                i += 1
                continue
            }
            var j = i + key.count
            if separatorRequired {
                if j < bytes.count, bytes[j] == UInt8(ascii: "\"") { j += 1 }
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
                guard j < bytes.count, bytes[j] == UInt8(ascii: ":") || bytes[j] == UInt8(ascii: "=") else {
                    out.append(bytes[i])
                    i += 1
                    continue
                }
                j += 1
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
            }
            out.append(contentsOf: bytes[i..<j])
            var quoted = false
            if j < bytes.count, bytes[j] == UInt8(ascii: "\"") {
                quoted = true
                out.append(bytes[j])
                j += 1
            }
            var end = j
            while end < bytes.count {
                let b = bytes[end]
                if quoted ? (b == UInt8(ascii: "\"") && bytes[end - 1] != UInt8(ascii: "\\")) : (b == 0x0A || b == 0x0D || b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "\"") || b == UInt8(ascii: ";")) {
                    break
                }
                end += 1
            }
            // "Authorization: Bearer …" was already redacted by the bearer pass: keep it readable.
            let value = bytes[j..<end]
            if value.elementsEqual(mark) || value.elementsEqual(Array("Bearer ".utf8) + mark) {
                out.append(contentsOf: value)
            } else if !value.isEmpty {
                out.append(contentsOf: mark)
            }
            i = end
        }
        return out
    }
}
