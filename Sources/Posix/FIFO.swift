import Glibc

extension FileStatus {
    /// A status built by hand (tests of decisions that take one).
    public init(identity: FileIdentity, size: Int64, mode: UInt32, linkCount: UInt64, modified: Int64) {
        self.identity = identity
        self.size = size
        self.mode = mode
        self.linkCount = linkCount
        self.modified = modified
    }

    /// What kind of file this is, in words (for messages such as "is a directory, not a FIFO").
    public var kindDescription: String {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): "a regular file"
        case UInt32(S_IFDIR): "a directory"
        case UInt32(S_IFIFO): "a FIFO"
        case UInt32(S_IFSOCK): "a socket"
        case UInt32(S_IFCHR): "a character device"
        case UInt32(S_IFBLK): "a block device"
        case UInt32(S_IFLNK): "a symbolic link"
        default: "a file of unknown type"
        }
    }
}

extension FileSystem {
    /// `mkfifo(3)`, then `chmod(2)` to exactly `mode` (the umask does not apply).
    public static func makeFIFO(_ path: String, mode: UInt32) throws {
        if mkfifo(path, mode_t(mode)) != 0 { throw Errno.current("mkfifo", path: path) }
        if chmod(path, mode_t(mode)) != 0 { throw Errno.current("chmod", path: path) }
    }

    /// `chown(2)` of the group only. `group` is a name (looked up with `getgrnam_r`) or a number.
    public static func changeGroup(_ path: String, group: String) throws {
        guard let gid = groupID(group) else { throw Errno(code: ENOENT, call: "getgrnam", path: group) }
        if chown(path, uid_t.max, gid) != 0 { throw Errno.current("chown", path: path) }   // -1: keep the owner
    }

    /// The group's id, by name or number; nil when there is no such group.
    public static func groupID(_ group: String) -> gid_t? {
        if let n = UInt32(group) { return gid_t(n) }
        var entry = group_struct()
        var result: UnsafeMutablePointer<group_struct>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getgrnam_r(group, &entry, &buffer, buffer.count, &result)
        guard rc == 0, let result else { return nil }
        return result.pointee.gr_gid
    }

    /// `lstat(2)`: the path itself, not what a symbolic link points to. `nil` when it does not exist.
    public static func linkStatus(_ path: String) throws -> FileStatus? {
        var st = stat()
        if fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Errno.current("lstat", path: path)
        }
        return FileStatus(st)
    }
}

/// Glibc's `struct group` (the name `group` is taken by other symbols in Swift's import).
typealias group_struct = Glibc.group
