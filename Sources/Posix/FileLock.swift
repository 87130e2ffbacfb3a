import Glibc

extension FileDescriptor {
    /// `flock(LOCK_EX | LOCK_NB)`: true when this descriptor now holds the exclusive lock, false
    /// when another open file description holds it. The lock lives as long as the descriptor.
    public func tryLockExclusive(path: String? = nil) throws -> Bool {
        let rc = retryingOnInterrupt { flock(rawValue, LOCK_EX | LOCK_NB) }
        if rc == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw Errno.current("flock", path: path)
    }

    /// `ftruncate(2)`.
    public func truncate(to size: Int64) throws {
        if retryingOnInterrupt({ ftruncate(rawValue, off_t(size)) }) != 0 { throw Errno.current("ftruncate") }
    }
}
