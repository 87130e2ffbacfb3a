import Posix

/// The recent checkpoint: `checkpoints.json.recent`, written between two durable checkpoint
/// writes without `fsync` (see `CheckpointSchedule`), in the same format. After a crash of the
/// process the kernel still has it, so a restart re-sends only what was delivered in the last
/// fraction of a second instead of the last second; after a power cut it may be missing, old or
/// torn, and is then simply not used: it only ever adds newer progress to the durable file,
/// never replaces it. Removed after each durable write (which then holds all it had).
///
/// Both files hold only offsets that were acknowledged when they were written, so whichever of
/// an entry's two versions is taken, nothing undelivered is skipped.
///
/// | entry (by identity; journal cursor by input) | taken from                                |
/// |----------------------------------------------|-------------------------------------------|
/// | in one file only                             | that file                                 |
/// | in both                                      | the later `updated`; equal: the larger offset |
enum RecentCheckpoint {
    static func path(stateDirectory: String) -> String { CheckpointFile.path(stateDirectory: stateDirectory) + ".recent" }

    /// The recent file's entries and cursors, or nothing when it is missing or unreadable.
    static func load(stateDirectory: String) -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint])? {
        // Read in pieces, like the durable file (~6 MB with 20,000 files).
        try? CheckpointFile.decodeFile(path(stateDirectory: stateDirectory))
    }

    static func merge(durable: (entries: [CheckpointEntry], cursors: [JournalCheckpoint]),
                      recent: (entries: [CheckpointEntry], cursors: [JournalCheckpoint])) -> (entries: [CheckpointEntry], cursors: [JournalCheckpoint]) {
        var entries: [FileIdentity: CheckpointEntry] = [:]
        entries.reserveCapacity(durable.entries.count)
        var order: [FileIdentity] = []
        order.reserveCapacity(durable.entries.count)
        for e in [durable.entries, recent.entries].joined() {
            if let held = entries[e.identity] {
                if (e.updated, e.offset) > (held.updated, held.offset) { entries[e.identity] = e }
            } else {
                entries[e.identity] = e
                order.append(e.identity)
            }
        }
        var cursors: [String: JournalCheckpoint] = [:]
        var inputs: [String] = []
        for c in durable.cursors + recent.cursors {
            if let held = cursors[c.input] {
                if c.updated > held.updated { cursors[c.input] = c }
            } else {
                cursors[c.input] = c
                inputs.append(c.input)
            }
        }
        return (order.map { entries[$0]! }, inputs.map { cursors[$0]! })
    }
}
