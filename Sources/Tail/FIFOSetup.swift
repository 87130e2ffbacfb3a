import Posix

/// A pipe input's path at start: tracktail owns the FIFO.
///
/// | found at `path`                    | action                                                   |
/// |------------------------------------|----------------------------------------------------------|
/// | nothing                            | `mkfifo` with `mode` (default 0620), `chown` to `group` if set |
/// | a FIFO (or a symbolic link to one) | used as it is (its mode and group are the operator's)    |
/// | anything else                      | refused, naming what is there ("a regular file", "a directory", …) |
public enum FIFOSetup {
    public enum Decision: Sendable, Equatable {
        case create
        case use
        case refuse(found: String)
    }

    public static func decide(_ status: FileStatus?) -> Decision {
        guard let status else { return .create }
        return status.isFIFO ? .use : .refuse(found: status.kindDescription)
    }

    /// Why a pipe input cannot start (the daemon does not start either).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var message: String
        public var description: String { "pipe input \(path): \(message)" }
    }

    /// Creates the FIFO when missing; throws `Failure` when the path holds something else or
    /// cannot be created. Returns whether it was created.
    @discardableResult
    public static func prepare(path: String, mode: UInt32, group: String?) throws(Failure) -> Bool {
        let status: FileStatus?
        do { status = try FileSystem.status(path) } catch { throw Failure(path: path, message: "\(error)") }
        switch decide(status) {
        case .use:
            return false
        case .refuse(let found):
            throw Failure(path: path, message: "the path exists and is \(found), not a FIFO; remove it or choose another path (tracktail creates the FIFO itself)")
        case .create:
            if let l = try? FileSystem.linkStatus(path) {
                throw Failure(path: path, message: "the path is \(l.kindDescription) that points nowhere; remove it (tracktail creates the FIFO itself)")
            }
            do {
                try FileSystem.makeFIFO(path, mode: mode)
                if let group { try FileSystem.changeGroup(path, group: group) }
            } catch {
                throw Failure(path: path, message: "cannot create the FIFO: \(error)")
            }
            return true
        }
    }
}

/// What a pipe's spool holds right now, from its directory and the checkpoint (for `status` and
/// `/metrics`; reads only the file system, no lock of the reader).
public struct SpoolStatus: Sendable, Equatable {
    /// Bytes written to the spool and not yet done (delivered, dead-lettered or dropped).
    public var bytes: Int64
    public var segments: Int
    /// Seconds since the last write to the oldest segment with unshipped bytes: a lower bound
    /// of the oldest unshipped byte's age (segments are sealed at `spool_segment_bytes`).
    public var oldestAgeSeconds: Double

    public static func measure(directory: String, entries: [CheckpointEntry], nowWall: Int64) -> SpoolStatus {
        var result = SpoolStatus(bytes: 0, segments: 0, oldestAgeSeconds: 0)
        let paths = Glob.expand(PipeSpool.pattern(directory: directory)).sorted()
        for path in paths {
            guard let st = try? FileSystem.status(path), st.isRegularFile else { continue }
            result.segments += 1
            let done = entries.first { $0.identity == st.identity }?.offset ?? 0
            let left = max(0, st.size - done)
            if left > 0 && result.bytes == 0 { result.oldestAgeSeconds = max(0, Double(nowWall - st.modified) / 1e9) }
            result.bytes += left
        }
        return result
    }
}
