import Posix

/// Exclusive ownership of a state directory: `flock` on `<state>/lock`, held for the life of the
/// process (or until `release`). Two daemons sharing one checkpoint would each overwrite the
/// other's offsets, so the second one refuses to start.
///
/// The lock file holds the owner's pid, for the message only; the kernel lock is the truth (a
/// stale file from a killed process does not block anyone).
public final class StateDirectoryLock: Sendable {
    public let path: String
    private let descriptor: FileDescriptor

    /// Why the lock could not be taken.
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public var directory: String
        public var ownerPID: Int32?
        public var description: String {
            let who = ownerPID.map { " (pid \($0))" } ?? ""
            return "state directory \(directory) is in use by another tracktail process\(who); "
                + "run one instance per state directory, or set a different [state] directory"
        }
    }

    /// Creates the directory if needed and takes the lock without waiting.
    public init(stateDirectory: String) throws {
        try FileSystem.createDirectories(stateDirectory, mode: 0o750)
        path = Path.join(stateDirectory, "lock")
        let fd = try FileDescriptor.open(path, [.readWrite, .create], mode: 0o640)
        do {
            guard try fd.tryLockExclusive(path: path) else {
                var pid: Int32?
                if let bytes = try? FileSystem.readAll(path) {
                    pid = Int32(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "")
                }
                throw Busy(directory: stateDirectory, ownerPID: pid)
            }
            try fd.truncate(to: 0)
            _ = try fd.seek(to: 0)
            try fd.writeAll("\(ProcessEnvironment.processID)\n")
        } catch {
            fd.close()
            throw error
        }
        descriptor = fd
    }

    /// Lets go of the lock (closing the descriptor releases it).
    public func release() { descriptor.close() }
}
