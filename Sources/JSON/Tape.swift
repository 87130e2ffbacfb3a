/// One node of a parsed document, 20 bytes. Nodes are laid out in document order (simdjson's "tape"):
/// an object is followed by key, value, key, value…; an array by its elements. `next` jumps over a
/// node's whole subtree, which makes walking siblings O(1) per step and writing iterative.
///
/// | field   | string / number / literal   | key (string in key position)  | array / object                     |
/// |---------|-----------------------------|-------------------------------|------------------------------------|
/// | `start` | first byte (quote included) | opening quote                 | `[` or `{`                         |
/// | `end`   | one past last byte          | one past closing quote        | one past `]` or `}`                |
/// | `next`  | own index + 1               | own index + 1                 | index after the subtree            |
/// | `aux`   | bool: 1 = true              | hash of the decoded key       | members (deduplicated) / elements  |
@usableFromInline
struct TapeEntry {
    @usableFromInline var start: UInt32
    @usableFromInline var end: UInt32
    @usableFromInline var next: UInt32
    @usableFromInline var aux: UInt32
    @usableFromInline var kind: UInt8
    @usableFromInline var flags: UInt8

    @inlinable
    init(start: UInt32, end: UInt32, next: UInt32, aux: UInt32, kind: UInt8, flags: UInt8) {
        self.start = start
        self.end = end
        self.next = next
        self.aux = aux
        self.kind = kind
        self.flags = flags
    }
}

/// Bits of `TapeEntry.flags`.
@usableFromInline
enum TapeFlag {
    /// The string contains at least one backslash escape: its decoded value differs from its source.
    @usableFromInline static let escaped: UInt8 = 1
    /// The string's escapes are not the ones `JSONWriter` would produce (`\/`, `\u0041`, surrogate pairs…),
    /// so canonical output must re-escape it.
    @usableFromInline static let rewrite: UInt8 = 2
    /// A key that a later member with the same key overrides (duplicate keys: last wins).
    @usableFromInline static let shadowed: UInt8 = 4
    /// An object with at least one shadowed key.
    @usableFromInline static let duplicates: UInt8 = 8
    /// While parsing: an object whose keys may repeat (Bloom filter hit); cleared when it closes.
    @usableFromInline static let checkDuplicates: UInt8 = 16
}

/// Owner of a tape allocation and of the parser's stack of open containers (kept here so that a parse
/// allocates nothing). Its properties never change (growing makes a new buffer), so readers need no
/// exclusivity checks; `JSONDocument` replaces it instead of writing into it when it is shared.
@usableFromInline
final class TapeBuffer {
    @usableFromInline let pointer: UnsafeMutablePointer<TapeEntry>
    @usableFromInline let capacity: Int
    let frames: UnsafeMutablePointer<Parser.Frame>

    init(capacity: Int, maxDepth: Int) {
        self.capacity = capacity
        self.pointer = .allocate(capacity: capacity)
        self.frames = .allocate(capacity: maxDepth + 1)
    }

    deinit {
        pointer.deallocate()
        frames.deallocate()
    }
}

/// Hash of a key's decoded UTF-8 bytes: length plus the first and last eight bytes. Cheap enough to run on
/// every key during parsing; only used as a pre-filter before comparing bytes, so collisions cost time,
/// never correctness (objects with many members use a seeded full hash, see `Parser.resolveDuplicates`).
/// `padded`: at least eight bytes are readable from `p` whatever `count` is (the parser's input padding),
/// so a short key is one masked load instead of a byte loop.
@inline(__always)
func quickKeyHash(_ p: UnsafeRawPointer, _ count: Int, padded: Bool = false) -> UInt32 {
    var first: UInt64 = 0
    var last: UInt64 = 0
    if count >= 8 {
        first = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
        last = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
    } else if padded {
        first = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) & ((1 << UInt64(8 * count)) &- 1)
    } else {
        var k = 0
        while k < count {
            first |= UInt64(p.load(fromByteOffset: k, as: UInt8.self)) << UInt64(8 * k)
            k += 1
        }
    }
    var h = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
    h ^= first &* 0xFF51_AFD7_ED55_8CCD
    h = (h << 29) | (h >> 35)
    h ^= last &* 0xC4CE_B9FE_1A85_EC53
    h ^= h >> 32
    return UInt32(truncatingIfNeeded: h)
}
