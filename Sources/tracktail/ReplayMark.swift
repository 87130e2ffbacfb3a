import JSON
import Pipeline
import Posix

/// The sidecar that remembers a replay: `FILE.replayed` next to a dead-letter file, one JSON
/// object naming the file's identity and how many of its bytes (whole records) were replayed.
///
/// The dead letter is appended to while the daemon runs, and rotated by rename, so the mark is
/// keyed by device and inode (found under any name in the directory) and counts bytes, not "the
/// file": records appended after a replay are new and may be replayed; the replayed part may not,
/// unless `--force`.
struct ReplayMark: Equatable, Sendable {
    var identity: FileIdentity
    /// Bytes of the file that were replayed (a whole number of records).
    var bytes: Int64
    var records: Int
    /// Wall-clock nanoseconds of the replay.
    var time: Int64

    static let suffix = ".replayed"

    /// What a replay of a file of `size` bytes may do.
    enum Decision: Equatable {
        /// Nothing replayed before (or `--force`): everything.
        case all
        /// Bytes before `offset` were replayed; the records after it are new.
        case after(Int64)
        /// Everything in it was replayed already.
        case refuse
    }

    /// | mark | file | `--force` | decision |
    /// | --- | --- | --- | --- |
    /// | none, or for another file | any | any | all |
    /// | same file | any | yes | all |
    /// | same file, `bytes` ≥ size | not grown | no | refuse |
    /// | same file, `bytes` < size | grown since | no | after(`bytes`) |
    static func decide(_ mark: ReplayMark?, identity: FileIdentity, size: Int64, force: Bool) -> Decision {
        guard let mark, mark.identity == identity, !force else { return .all }
        return mark.bytes >= size ? .refuse : .after(mark.bytes)
    }

    var json: [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("identity"); w.string(identity.description)
        w.key("bytes"); w.int(bytes)
        w.key("records"); w.int(Int64(records))
        w.key("time"); w.string(Timestamp(epochNanoseconds: time).description)
        w.endObject()
        return w.bytes + [0x0A]
    }

    static func parse(_ bytes: [UInt8]) -> ReplayMark? {
        var doc = JSONDocument()
        guard (try? doc.parse(bytes.prefix { $0 != 0x0A })) != nil,
              let id = doc.member(doc.root, "identity").flatMap(doc.string),
              let b = doc.member(doc.root, "bytes").flatMap(doc.int64),
              let r = doc.member(doc.root, "records").flatMap(doc.int64)
        else { return nil }
        let parts = id.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return nil }
        let t = doc.member(doc.root, "time").flatMap(doc.string).flatMap { try? Timestamp.parse(iso: $0) }
        return ReplayMark(identity: FileIdentity(device: dev, inode: ino), bytes: b, records: Int(r), time: (t?.epochMilliseconds ?? 0) * 1_000_000)
    }

    /// The mark for the file with `identity` in `directory`, under whatever name it was written.
    static func find(identity: FileIdentity, in directory: String) -> ReplayMark? {
        guard let names = try? FileSystem.list(directory) else { return nil }
        for name in names where name.hasSuffix(suffix) {
            if let bytes = try? FileSystem.readAll(Path.join(directory, name)), let m = parse(bytes), m.identity == identity { return m }
        }
        return nil
    }

    /// `FILE.<inode>.replayed`: the inode in the name, so that the mark of a rotated segment is
    /// not overwritten by the mark of the new file under the old name.
    func write(for file: String) throws {
        try FileSystem.writeAtomically("\(file).\(identity.inode)\(Self.suffix)", json, mode: 0o600)
    }
}
