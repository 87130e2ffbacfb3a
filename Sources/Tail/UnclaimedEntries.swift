import Posix

/// Checkpoint entries not matched to a file yet, by identity (`SourceTable.unclaimed`).
///
/// After a restart with 20,000 files every entry starts here and moves out as its file is
/// opened, while the sources it turns into grow: the two are at their largest together. So
/// this is an array sorted by identity (an entry's 112 bytes) instead of a dictionary (about
/// 210 bytes an entry at its load factor); a claimed entry is only marked, and the marked ones
/// are swept out once they are half of the array (amortized O(1), and the storage halves).
///
/// | operation                     | cost                                          |
/// |-------------------------------|-----------------------------------------------|
/// | `init(entries)`               | one sort; the last of equal identities wins    |
/// | lookup, `removeValue`         | binary search                                 |
/// | set an identity not held      | insertion: O(n), rare (a file renamed away)   |
struct UnclaimedEntries {
    private var entries: [CheckpointEntry] = []
    private var claimed: [Bool] = []
    private var claimedCount = 0

    init() {}

    init(_ list: [CheckpointEntry]) {
        // Stable by identity, then keep the last of each run (as repeated `[id] = e` would).
        let order = list.indices.sorted { Self.less(list[$0].identity, list[$1].identity) || (list[$0].identity == list[$1].identity && $0 < $1) }
        entries.reserveCapacity(order.count)
        for i in order {
            if let last = entries.last, last.identity == list[i].identity { entries[entries.count - 1] = list[i] } else { entries.append(list[i]) }
        }
        claimed = Array(repeating: false, count: entries.count)
    }

    var count: Int { entries.count - claimedCount }
    var isEmpty: Bool { count == 0 }

    /// The entries held, in identity order.
    var values: some Collection<CheckpointEntry> {
        entries.indices.lazy.filter { !claimed[$0] }.map { entries[$0] }
    }

    subscript(identity: FileIdentity) -> CheckpointEntry? {
        get { index(of: identity).flatMap { claimed[$0] ? nil : entries[$0] } }
        set {
            guard let newValue else {
                _ = removeValue(forKey: identity)
                return
            }
            let i = insertionPoint(identity)
            if i < entries.count && entries[i].identity == identity {
                entries[i] = newValue
                if claimed[i] {
                    claimed[i] = false
                    claimedCount -= 1
                }
            } else {
                entries.insert(newValue, at: i)
                claimed.insert(false, at: i)
            }
        }
    }

    mutating func removeValue(forKey identity: FileIdentity) -> CheckpointEntry? {
        guard let i = index(of: identity), !claimed[i] else { return nil }
        let entry = entries[i]
        claimed[i] = true
        claimedCount += 1
        if claimedCount >= 32 && claimedCount * 2 >= entries.count { sweep() }
        return entry
    }

    /// Drops the claimed entries into storage of the size that remains.
    private mutating func sweep() {
        var kept: [CheckpointEntry] = []
        kept.reserveCapacity(count)
        for i in entries.indices where !claimed[i] { kept.append(entries[i]) }
        entries = kept
        claimed = Array(repeating: false, count: kept.count)
        claimedCount = 0
    }

    private func index(of identity: FileIdentity) -> Int? {
        let i = insertionPoint(identity)
        return i < entries.count && entries[i].identity == identity ? i : nil
    }

    /// The first index whose identity is not less than `identity`.
    private func insertionPoint(_ identity: FileIdentity) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Self.less(entries[mid].identity, identity) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private static func less(_ a: FileIdentity, _ b: FileIdentity) -> Bool {
        (a.device, a.inode) < (b.device, b.inode)
    }
}
