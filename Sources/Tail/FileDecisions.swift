import Pipeline
import Posix

/// What happened to an open file since it was last looked at.
public enum FileChange: Sendable, Equatable {
    case unchanged
    /// More bytes after the read offset: read them.
    case grown
    /// Smaller than the read offset (copytruncate): start again at 0 as a new instance.
    case truncated
    /// Its first bytes no longer match the fingerprint (inode reused for another file, or
    /// truncated and rewritten faster than we looked): start again at 0 as a new instance.
    case replaced
}

/// What to do with a file whose path no longer names it (renamed away or deleted).
public enum OrphanAction: Sendable, Equatable {
    case keepReading
    /// Read to its end and quiet for the linger time: close it.
    case close
    /// Deleted and still unread after the grace time: close it anyway, losing the rest
    /// (a deleted file held open keeps its disk space; an operator deleted it on purpose).
    case abandon
}

/// What a re-scan of the globs means for the files tracked so far.
public enum ScanAction: Sendable, Equatable {
    /// Still at its path.
    case keep(SourceID)
    /// Renamed to another path that the globs match (e.g. `app.log` → `app.log.1` under
    /// `app.log*`): same instance, same offsets, new path.
    case moved(SourceID, to: String)
    /// No matched path names it any more (renamed out of the globs, or deleted).
    case orphaned(SourceID)
    /// A file not tracked yet.
    case discovered(path: String, identity: FileIdentity)
}

/// The result of checking a stored checkpoint against the file found on start.
public enum CheckpointValidation: Sendable, Equatable {
    /// It is the same file with the same bytes before the offset: continue there.
    case resume(at: Int64)
    /// It is not (the reason is logged): read the file as new, from offset 0. Never from the
    /// end: a file we had a checkpoint for holds lines we may not have delivered.
    case startOver(reason: String)
}

/// The tailer's decisions, as pure functions of what it knows and what it observed. The I/O
/// code (`Tailer`) gathers the facts (stat, fingerprint hashes) and carries out the answer.
///
/// Identity is device + inode **confirmed by the fingerprint**: same inode with a different
/// fingerprint is a new file (inode reuse); a different inode with the same first bytes (a file
/// replaced by a copy of itself) is also a new file and is read from 0 — unlike Vector and
/// Filebeat, which treat the fingerprint alone as identity and would skip the copy. We choose
/// to duplicate rather than lose: a copy may have new lines in its middle, and deterministic
/// event ids (from the per-instance key) cannot help here, so the copy is logged.
public enum FileDecisions {
    /// Compares an open file with what we knew about it.
    ///
    /// - `prefixHash`: hash of the current first `known.length` bytes, `nil` when the file has
    ///   fewer bytes than that.
    /// - `recentMatches`: the last bytes we read (just before `readOffset`) are still there.
    ///   This catches copytruncate when the application rewrote the file past our offset with
    ///   the same first bytes (lines that start alike) before we looked again.
    ///
    /// | size vs known.length | prefix  | size vs readOffset | recent bytes | result    |
    /// |----------------------|---------|--------------------|--------------|-----------|
    /// | smaller              | —       | —                  | —            | truncated |
    /// | ≥                    | differs | —                  | —            | replaced  |
    /// | ≥                    | same    | smaller            | —            | truncated |
    /// | ≥                    | same    | ≥                  | differ       | replaced  |
    /// | ≥                    | same    | equal              | same         | unchanged |
    /// | ≥                    | same    | larger             | same         | grown     |
    public static func change(known: Fingerprint, readOffset: Int64, size: Int64, prefixHash: UInt64?,
                              recentMatches: Bool = true) -> FileChange {
        guard let prefixHash, size >= Int64(known.length) else { return .truncated }
        if prefixHash != known.hash { return .replaced }
        if size < readOffset { return .truncated }
        if !recentMatches { return .replaced }
        return size > readOffset ? .grown : .unchanged
    }

    /// The length to re-take a short fingerprint at, or `nil` when it is complete or the file
    /// has not grown past it.
    public static func fingerprintGrowth(current: Int, size: Int64, configured: Int) -> Int? {
        guard current < configured, size > Int64(current) else { return nil }
        return Int(min(size, Int64(configured)))
    }

    /// Where to start a file that has no (valid) checkpoint.
    ///
    /// `start_at = "end"` applies only to files present at the first scan: a file that appears
    /// later (the new `app.log` after a rotation) is read from 0, or its first lines would be
    /// lost at every rotation. "End" is the start of the last, unfinished line (`lastLineStart`,
    /// just past the last newline) so that a line being written at that moment is delivered
    /// whole, not as a fragment.
    public static func startOffset(startAt: TailConfiguration.StartAt, foundAtStartup: Bool, size: Int64,
                                   lastLineStart: Int64? = nil) -> Int64 {
        guard startAt == .end && foundAtStartup else { return 0 }
        return min(size, lastLineStart ?? size)
    }

    /// | deleted | at EOF | idle ≥ linger | orphaned ≥ grace | action      |
    /// |---------|--------|---------------|------------------|-------------|
    /// | —       | yes    | yes           | —                | close       |
    /// | yes     | no/yes | no            | yes              | abandon if unread, else close |
    /// | otherwise                                             || keepReading |
    ///
    /// A renamed (not deleted) file is never abandoned: it is still on disk and the
    /// application may still write to it.
    public static func orphanAction(deleted: Bool, atEOF: Bool, idleNanoseconds: Int64, orphanedNanoseconds: Int64,
                                    linger: Int64, deletedGrace: Int64) -> OrphanAction {
        if atEOF && idleNanoseconds >= linger { return .close }
        if deleted && orphanedNanoseconds >= deletedGrace { return atEOF ? .close : .abandon }
        return .keepReading
    }

    /// A file found at a scan, for `reconcile`.
    public struct Observed: Sendable, Equatable {
        public var path: String
        public var identity: FileIdentity
        public init(path: String, identity: FileIdentity) {
            self.path = path
            self.identity = identity
        }
    }

    /// A file instance being tracked (open, or closed for the open-file limit), for `reconcile`.
    public struct Tracked: Sendable, Equatable {
        public var id: SourceID
        public var path: String
        public var identity: FileIdentity
        public init(id: SourceID, path: String, identity: FileIdentity) {
            self.id = id
            self.path = path
            self.identity = identity
        }
    }

    /// Matches a scan against tracked files by identity (then the tailer confirms each by
    /// fingerprint). One action per tracked file, then one `discovered` per new identity.
    /// Two matched paths with one identity (hard links) are one file, at the first path.
    ///
    /// Memory: one dictionary slot per observed identity (its first path's index); a list of
    /// paths only for identities seen under several (rare), since a scan of 20,000 files runs
    /// every `rescan_interval`.
    public static func reconcile<C: RandomAccessCollection>(tracked: [Tracked], observed: C) -> [ScanAction]
    where C.Element == Observed, C.Index == Int {
        var first: [FileIdentity: Int] = [:]
        first.reserveCapacity(observed.count)
        var links: [FileIdentity: [String]] = [:]
        for i in observed.indices {
            let o = observed[i]
            if let j = first[o.identity] {
                links[o.identity, default: [observed[j].path]].append(o.path)
            } else {
                first[o.identity] = i
            }
        }
        func path(_ i: Int) -> String {
            let o = observed[i]
            return links[o.identity]?.min() ?? o.path
        }
        var actions: [ScanAction] = []
        actions.reserveCapacity(max(tracked.count, observed.count))
        for t in tracked {
            // Claimed: removed, so that a second instance with this identity is orphaned and the
            // identity is not discovered again below.
            if let i = first.removeValue(forKey: t.identity) {
                let here = observed[i].path == t.path || (links[t.identity]?.contains(t.path) ?? false)
                actions.append(here ? .keep(t.id) : .moved(t.id, to: path(i)))
            } else {
                actions.append(.orphaned(t.id))
            }
        }
        for i in observed.indices where first[observed[i].identity] == i {
            actions.append(.discovered(path: path(i), identity: observed[i].identity))
        }
        return actions
    }

    /// Checks a checkpoint entry against the file found with its identity.
    ///
    /// - `prefixHash`: hash of the first `entry.fingerprint.length` bytes now (nil if shorter).
    /// - `tailHash`: hash of the `entry.tailLength` bytes before `entry.offset` now (nil if the
    ///   file is shorter than the offset).
    public static func validate(_ entry: CheckpointEntry, identity: FileIdentity, size: Int64,
                                prefixHash: UInt64?, tailHash: UInt64?) -> CheckpointValidation {
        if identity != entry.identity { return .startOver(reason: "device and inode differ from the checkpoint") }
        if size < entry.offset { return .startOver(reason: "file is shorter than the checkpointed offset (truncated while stopped)") }
        guard let prefixHash, prefixHash == entry.fingerprint.hash else {
            return .startOver(reason: "first bytes differ from the checkpoint's fingerprint (inode reused)")
        }
        guard let tailHash, tailHash == entry.tailHash else {
            return .startOver(reason: "bytes before the checkpointed offset differ (file rewritten)")
        }
        return .resume(at: entry.offset)
    }

    /// The 64-bit key of a file instance, from which deterministic event ids derive
    /// (`SourceInfo.key` + line offset). It must come out the same when the same file is read
    /// again after the checkpoint was lost, so it depends only on the file: device, inode and
    /// its first line (at most `fingerprintBytes` of it), which an appending writer never
    /// changes. `nil` while not computable yet (no newline and fewer than `fingerprintBytes`
    /// bytes: no line can have been emitted either); `atEnd` takes what there is (a last line
    /// without newline in `once` mode).
    ///
    /// `avoid`: a key the previous instance at this device and inode had (after truncation,
    /// inode reuse or a checkpoint that no longer matches). If the new content starts with the
    /// same first line, the key is derived from the old one instead, so that new lines at old
    /// offsets never reuse ids the receiver may drop as duplicates.
    public static func instanceKey(identity: FileIdentity, head: [UInt8], fingerprintBytes: Int, atEnd: Bool = false,
                                   avoid: UInt64? = nil) -> UInt64? {
        let n: Int
        if let i = head.prefix(fingerprintBytes).firstIndex(of: 0x0A) {
            n = i + 1
        } else if head.count >= fingerprintBytes || atEnd {
            n = min(head.count, fingerprintBytes)
        } else {
            return nil
        }
        var h = FNV1a()
        h.add(identity.device)
        h.add(identity.inode)
        h.add(head[0..<n])
        var key = h.value
        if let avoid, key == avoid {
            var c = FNV1a()
            c.add(avoid)
            c.add(0x6e65_7874 as UInt64)
            key = c.value
        }
        return key
    }

    /// Which open, attached, idle files to close when more than `limit` are open: the ones idle
    /// longest first. Only files read to their end (no partial line held) qualify; they
    /// are reopened by identity when a scan or an event shows they grew.
    public static func evictions(candidates: [(id: SourceID, idleSince: Int64)], openCount: Int, limit: Int) -> [SourceID] {
        guard openCount > limit else { return [] }
        let sorted = candidates.sorted { $0.idleSince < $1.idleSince || ($0.idleSince == $1.idleSince && $0.id < $1.id) }
        return sorted.prefix(openCount - limit).map(\.id)
    }

    /// An open-file slot for one more file.
    public struct SlotPlan: Sendable, Equatable {
        /// Close these first (idle, read to the end, every line acknowledged).
        public var evict: [SourceID]
        /// After the evictions there is room; otherwise the new file waits (deferred discovery).
        public var granted: Bool
    }

    /// | open + held < limit | evictable idle files | plan                                  |
    /// |---------------------|----------------------|---------------------------------------|
    /// | yes                 | —                    | granted, nothing evicted              |
    /// | no                  | enough               | evict the longest idle, granted       |
    /// | no                  | too few              | evict what qualifies, not granted (wait) |
    ///
    /// `held`: descriptors of finished files kept until their lines are acknowledged.
    ///
    /// `reserve`: slots to free at once when evicting (more than the one asked for), so that with
    /// thousands of files the search for idle ones runs once per `reserve` files opened, not once
    /// per file (which made discovery and re-opening quadratic).
    public static func slot(open: Int, held: Int, limit: Int, candidates: [(id: SourceID, idleSince: Int64)],
                            reserve: Int = 1) -> SlotPlan {
        if open + held < limit { return SlotPlan(evict: [], granted: true) }
        let evict = evictions(candidates: candidates, openCount: open + held + max(1, reserve), limit: limit)
        return SlotPlan(evict: evict, granted: open + held - evict.count < limit)
    }
}
