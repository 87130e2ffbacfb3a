import Glibc

/// An owned or borrowed file descriptor. Closing is explicit (`close()`), never in `deinit`,
/// so ownership stays visible at the call site.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Open flags used by this project (a thin subset of `open(2)`).
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenOptions([])
        public static let writeOnly = OpenOptions(rawValue: O_WRONLY)
        public static let readWrite = OpenOptions(rawValue: O_RDWR)
        public static let create = OpenOptions(rawValue: O_CREAT)
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        public static let append = OpenOptions(rawValue: O_APPEND)
        public static let exclusive = OpenOptions(rawValue: O_EXCL)
        public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
    }

    /// `open(2)` with `O_CLOEXEC` always set.
    public static func open(_ path: String, _ options: OpenOptions = .readOnly, mode: mode_t = 0o644) throws -> FileDescriptor {
        LockAudit.syscall("open")
        let fd = retryingOnInterrupt { Glibc.open(path, options.rawValue | O_CLOEXEC, mode) }
        if fd < 0 { throw Errno.current("open", path: path) }
        return FileDescriptor(rawValue: fd)
    }

    /// `close(2)`; never retried on `EINTR` (Linux closes the descriptor anyway).
    public func close() {
        LockAudit.syscall("close")
        _ = Glibc.close(rawValue)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        LockAudit.syscall("read")
        let n = retryingOnInterrupt { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
        if n < 0 { throw Errno.current("read") }
        return n
    }

    /// `pread(2)`: reads at `offset` without moving the file position.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        LockAudit.syscall("pread")
        let n = retryingOnInterrupt { Glibc.pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
        if n < 0 { throw Errno.current("pread") }
        return n
    }

    /// Writes the whole buffer, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
        LockAudit.syscall("write")
        var done = 0
        while done < buffer.count {
            let n = retryingOnInterrupt { Glibc.write(rawValue, buffer.baseAddress! + done, buffer.count - done) }
            if n < 0 { throw Errno.current("write") }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { (b) throws in try writeAll(b) }
    }

    public func writeAll(_ string: String) throws {
        var s = string
        try s.withUTF8 { (b) throws in try writeAll(UnsafeRawBufferPointer(b)) }
    }

    /// `lseek(2)` to an absolute offset.
    @discardableResult
    public func seek(to offset: Int64) throws -> Int64 {
        let r = Glibc.lseek(rawValue, off_t(offset), SEEK_SET)
        if r < 0 { throw Errno.current("lseek") }
        return Int64(r)
    }

    public func sync() throws {
        LockAudit.syscall("fsync")
        if retryingOnInterrupt({ Glibc.fsync(rawValue) }) != 0 { throw Errno.current("fsync") }
    }

    public func status() throws -> FileStatus {
        LockAudit.syscall("fstat")
        var st = stat()
        if Glibc.fstat(rawValue, &st) != 0 { throw Errno.current("fstat") }
        return FileStatus(st)
    }
}
