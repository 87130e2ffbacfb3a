import Glibc

// `splice`, `tee` and `pipe2` are GNU extensions the Glibc module does not import (no
// `_GNU_SOURCE`); they are looked up once in libc (always present on Linux).
private typealias SpliceFunction = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
private typealias TeeFunction = @convention(c) (Int32, Int32, Int, UInt32) -> Int
private typealias Pipe2Function = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
private let spliceFunction = dlsym(nil, "splice").map { unsafeBitCast($0, to: SpliceFunction.self) }
private let teeFunction = dlsym(nil, "tee").map { unsafeBitCast($0, to: TeeFunction.self) }
private let pipe2Function = dlsym(nil, "pipe2").map { unsafeBitCast($0, to: Pipe2Function.self) }
private let spliceMove: UInt32 = 1
private let spliceNonBlocking: UInt32 = 2

/// Kernel-side copies for the pipe spool: bytes go from a FIFO to a spool segment without
/// passing through user space, so there is no moment at which the process holds bytes that
/// are neither in the pipe nor in the file (a kill -9 cannot lose them).
extension FileDescriptor {
    /// `splice(2)` of up to `count` bytes from this pipe into `file` at `offset` (the file must
    /// not be open with `O_APPEND`). Non-blocking: `nil` when the pipe is empty now (`EAGAIN`).
    /// `EINVAL` means the file system cannot take spliced data (callers fall back to read and
    /// write).
    public func splice(to file: FileDescriptor, at offset: Int64, count: Int) throws -> Int? {
        guard let spliceFunction else { throw Errno(code: ENOSYS, call: "splice") }
        var target = offset
        let n = retryingOnInterrupt { spliceFunction(rawValue, nil, file.rawValue, &target, count, spliceMove | spliceNonBlocking) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw Errno.current("splice")
        }
        return n
    }

    /// `tee(2)`: copies up to `count` bytes from this pipe into `pipe` without consuming them
    /// (a peek). Non-blocking: `nil` when the source is empty now.
    public func tee(to pipe: FileDescriptor, count: Int) throws -> Int? {
        guard let teeFunction else { throw Errno(code: ENOSYS, call: "tee") }
        let n = retryingOnInterrupt { teeFunction(rawValue, pipe.rawValue, count, spliceNonBlocking) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw Errno.current("tee")
        }
        return n
    }

    /// `pipe2(2)` with `O_CLOEXEC | O_NONBLOCK` on both ends.
    public static func makePipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        guard let pipe2Function else { throw Errno(code: ENOSYS, call: "pipe2") }
        var fds: [Int32] = [-1, -1]
        if pipe2Function(&fds, O_CLOEXEC | O_NONBLOCK) != 0 { throw Errno.current("pipe2") }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}

extension Errno {
    public static let invalidArgument = EINVAL
    public static let notImplemented = ENOSYS
}

extension FileDescriptor {
    /// `pwrite(2)` of the whole buffer at `offset`, looping over short writes.
    public func writeAll(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < buffer.count {
            let n = retryingOnInterrupt { Glibc.pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done)) }
            if n < 0 { throw Errno.current("pwrite") }
            done += n
        }
    }
}
