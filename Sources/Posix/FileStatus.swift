import Glibc

/// Device and inode: which file this is, as long as it exists.
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
    public var description: String { "\(device):\(inode)" }
}

/// The parts of `stat(2)` this project uses.
public struct FileStatus: Sendable, Equatable {
    public var identity: FileIdentity
    public var size: Int64
    public var mode: UInt32
    public var linkCount: UInt64
    /// Modification time in nanoseconds since the epoch.
    public var modified: Int64

    init(_ st: stat) {
        identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        size = Int64(st.st_size)
        mode = UInt32(st.st_mode)
        linkCount = UInt64(st.st_nlink)
        modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var isFIFO: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFIFO) }
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    /// Permission bits only.
    public var permissions: UInt32 { mode & 0o7777 }
}

public enum FileSystem {
    /// `stat(2)`, following symlinks. `nil` when the path does not exist.
    public static func status(_ path: String) throws -> FileStatus? {
        LockAudit.syscall("stat")
        var st = stat()
        if fstatat(AT_FDCWD, path, &st, 0) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Errno.current("stat", path: path)
        }
        return FileStatus(st)
    }

    public static func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw Errno.current("rename", path: from) }
    }

    public static func remove(_ path: String) throws {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw Errno.current("unlink", path: path) }
    }

    /// Creates a directory and its parents (like `mkdir -p`).
    public static func createDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if path.isEmpty { return }
        if let st = try status(path), st.isDirectory { return }
        let parent = Path.directory(of: path)
        if parent != path && !parent.isEmpty { try createDirectories(parent, mode: mode) }
        if Glibc.mkdir(path, mode) != 0 && errno != EEXIST { throw Errno.current("mkdir", path: path) }
    }

    /// Names in a directory, without `.` and `..`.
    public static func list(_ directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw Errno.current("opendir", path: directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The working directory of the process.
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads a whole (small) file.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path)
        defer { fd.close() }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { (b) throws in try fd.read(into: b) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// The durable write: temp file, `fsync`, `rename`, `fsync` of the directory.
    /// Keeps the mode of the file it replaces (or `mode` for a new file).
    /// `durable: false`: no `fsync` of the file or the directory (survives a crash of the
    /// process, not of the machine).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws {
        try writeAtomically(path, mode: mode, durable: durable) { try $0.writeAll(bytes) }
    }

    /// `writeAtomically` with the content written by `body` into the temporary file's
    /// descriptor (in pieces, so that a large file need not be held whole in memory).
    public static func writeAtomically(_ path: String, mode: mode_t = 0o644, durable: Bool = true,
                                       _ body: (FileDescriptor) throws -> Void) throws {
        let existing = try status(path)
        let finalMode = existing.map { mode_t($0.permissions) } ?? mode
        let temp = path + ".tmp"
        let fd = try FileDescriptor.open(temp, [.writeOnly, .create, .truncate], mode: finalMode)
        do {
            try body(fd)
            _ = fchmod(fd.rawValue, finalMode)
            if durable { try fd.sync() }
        } catch {
            fd.close()
            try? remove(temp)
            throw error
        }
        fd.close()
        try rename(temp, to: path)
        guard durable else { return }
        let dir = try FileDescriptor.open(Path.directory(of: path), .directory)
        defer { dir.close() }
        try dir.sync()
    }
}

/// String helpers for slash-separated paths.
public enum Path {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func base(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Removes `.` components and folds `dir/..` pairs, textually.
    public static func normalize(_ path: String) -> String {
        // Most paths (every one a glob returns) are already normal: the same string, no copy.
        if isNormal(path) { return path }
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(c)
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// No empty, `.` or `..` component and no trailing slash (`/` itself is normal).
    static func isNormal(_ path: String) -> Bool {
        var length = 0  // of the current component
        var dots = 0    // its bytes that are `.`
        var first = true
        for b in path.utf8 {
            if b == UInt8(ascii: "/") {
                if length == 0 && !first { return false }
                if length > 0 && dots == length && length <= 2 { return false }
                length = 0
                dots = 0
            } else {
                length += 1
                if b == UInt8(ascii: ".") { dots += 1 }
            }
            first = false
        }
        if length == 0 { return path == "/" }
        return !(dots == length && length <= 2)
    }

    public static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty || b.hasPrefix("/") { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }
}
