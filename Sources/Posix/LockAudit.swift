import Glibc
import Synchronization

/// A test seam: which system calls ran while their thread held a lock that must never be held
/// over I/O (the source table's, the shipper's). Such a lock is a `ConditionLock(audited:)`;
/// the wrappers in this module that touch files (`open`, `close`, `read`, `pread`, `write`,
/// `fsync`, `fstat`, `stat`, the wake-up event) report themselves here.
///
/// Off unless a test turns it on: then each costs one relaxed atomic load. On, every audited
/// lock's holders and every reported call are matched under one mutex, so a test sees, per lock,
/// the calls made while it was held (whatever thread made them):
///
/// ```swift
/// LockAudit.begin(); defer { LockAudit.end() }
/// … exercise the code …
/// #expect(LockAudit.violations(of: table.auditedLock).isEmpty)
/// ```
public enum LockAudit {
    /// One system call made while an audited lock was held.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        public let call: String
        public let lock: String
        public var description: String { "\(call) under \(lock)" }
    }

    private static let active = Atomic<Int>(0)

    private struct Registry: Sendable {
        /// Audited locks held now, by the holding thread.
        var held: [UInt: [(lock: ObjectIdentifier, name: String)]] = [:]
        var violations: [ObjectIdentifier: [Violation]] = [:]
    }

    private static let registry = Locked(Registry())

    /// Starts recording (nests: recording stops after as many `end`s).
    public static func begin() { active.add(1, ordering: .relaxed) }
    public static func end() { active.subtract(1, ordering: .relaxed) }

    /// The calls recorded under `lock` so far (and forgets them).
    public static func violations(of lock: ConditionLock) -> [Violation] {
        registry.withLock { $0.violations.removeValue(forKey: ObjectIdentifier(lock)) ?? [] }
    }

    @inline(__always)
    static var isActive: Bool { active.load(ordering: .relaxed) > 0 }

    /// A wrapper in this module is about to make `call`.
    @inline(__always)
    static func syscall(_ call: StaticString) {
        if isActive { record(call) }
    }

    private static func record(_ call: StaticString) {
        let me = UInt(pthread_self())
        registry.withLock { r in
            guard let locks = r.held[me] else { return }
            for l in locks { r.violations[l.lock, default: []].append(Violation(call: "\(call)", lock: l.name)) }
        }
    }

    /// A lock goes away: what was recorded for it must not be found under a later one at the
    /// same address.
    static func forget(_ lock: ConditionLock) {
        _ = registry.withLock { $0.violations.removeValue(forKey: ObjectIdentifier(lock)) }
    }

    static func acquired(_ lock: ConditionLock, _ name: String) {
        let me = UInt(pthread_self())
        registry.withLock { $0.held[me, default: []].append((ObjectIdentifier(lock), name)) }
    }

    static func released(_ lock: ConditionLock) {
        let me = UInt(pthread_self())
        registry.withLock { r in
            guard var locks = r.held[me], let i = locks.lastIndex(where: { $0.lock == ObjectIdentifier(lock) }) else { return }
            locks.remove(at: i)
            r.held[me] = locks.isEmpty ? nil : locks
        }
    }
}
