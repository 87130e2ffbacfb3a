/// A growable byte buffer written through a pointer, for the mapping hot path: an append is a
/// capacity check and a `memcpy`, where `[UInt8].append(contentsOf:)` costs about 150
/// instructions of generic bookkeeping per call (measured with callgrind; an event takes ~20
/// appends).
///
/// A value with copy-on-write storage, but only `makeUnique()` copies: call it once before a
/// run of appends (the event builder does, per event); appends assume they own the storage.
public struct ByteBuffer: @unchecked Sendable {
    // @unchecked: the storage is written only after `makeUnique()` proved this buffer its sole
    // owner (appends are only valid after it), so shared copies are read-only.

    /// Immutable once made (growing makes a new one), so reading it needs no exclusivity checks.
    @usableFromInline
    final class Storage {
        @usableFromInline let base: UnsafeMutablePointer<UInt8>
        @usableFromInline let capacity: Int

        init(capacity: Int) {
            let capacity = max(16, capacity)
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }
    }

    @usableFromInline var storage: Storage
    /// Bytes written.
    public var count: Int { used }
    @usableFromInline var used: Int = 0

    public init(capacity: Int = 1024) {
        storage = Storage(capacity: capacity)
    }

    /// Makes the storage this buffer's own (copying it if another copy of the buffer shares it).
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = Storage(capacity: storage.capacity)
            copy.base.update(from: storage.base, count: used)
            storage = copy
        }
    }

    /// Forgets the bytes, keeping the capacity.
    public mutating func removeAll() { used = 0 }

    /// Drops the bytes from `index` on.
    public mutating func truncate(to index: Int) {
        precondition(index >= 0 && index <= used)
        used = index
    }

    /// The bytes written, valid until the next mutation.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: used))
    }

    public var last: UInt8? { used > 0 ? storage.base[used - 1] : nil }

    /// Room for `n` more bytes; returns where they go. Write them, then `commit(n)` (or fewer).
    @inlinable
    public mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if used + n > storage.capacity { grow(used + n) }
        return storage.base + used
    }

    @inlinable
    public mutating func commit(_ n: Int) {
        used += n
    }

    @usableFromInline
    mutating func grow(_ needed: Int) {
        let bigger = Storage(capacity: max(needed, 2 * storage.capacity))
        bigger.base.update(from: storage.base, count: used)
        storage = bigger
    }

    @inlinable
    public mutating func append(_ byte: UInt8) {
        reserve(1).pointee = byte
        used += 1
    }

    @inlinable
    public mutating func append(_ bytes: UnsafePointer<UInt8>, count n: Int) {
        reserve(n).update(from: bytes, count: n)
        used += n
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return }
        append(p, count: bytes.count)
    }

    /// Literal JSON text.
    @inlinable
    public mutating func append(_ literal: StaticString) {
        append(literal.utf8Start, count: literal.utf8CodeUnitCount)
    }

    @inlinable
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// Removes the last byte.
    public mutating func removeLast() {
        precondition(used > 0)
        used -= 1
    }
}
