import Glibc

/// One inotify event, decoded from the kernel's variable-length record.
public struct InotifyEvent: Sendable, Equatable {
    /// The watch it belongs to (see `Inotify.addWatch`).
    public var watch: Int32
    public var mask: Inotify.Mask
    /// Pairs an `IN_MOVED_FROM` with its `IN_MOVED_TO`.
    public var cookie: UInt32
    /// Name inside the watched directory; empty for events about the directory itself.
    public var name: String
}

/// An inotify instance (`inotify_init1(2)`), non-blocking and close-on-exec.
///
/// Used by the file tailer to learn of created, renamed, deleted and modified files in the
/// directories it watches without polling them. The descriptor is `poll`ed (see `InotifyPoll`)
/// and drained with `readEvents` until it reports nothing.
public struct Inotify: Sendable {
    public let descriptor: FileDescriptor

    /// The event kinds this project watches for (`IN_*`).
    public struct Mask: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let modify = Mask(rawValue: UInt32(IN_MODIFY))
        public static let closeWrite = Mask(rawValue: UInt32(IN_CLOSE_WRITE))
        public static let movedFrom = Mask(rawValue: UInt32(IN_MOVED_FROM))
        public static let movedTo = Mask(rawValue: UInt32(IN_MOVED_TO))
        public static let create = Mask(rawValue: UInt32(IN_CREATE))
        public static let delete = Mask(rawValue: UInt32(IN_DELETE))
        public static let deleteSelf = Mask(rawValue: UInt32(IN_DELETE_SELF))
        public static let moveSelf = Mask(rawValue: UInt32(IN_MOVE_SELF))
        public static let attrib = Mask(rawValue: UInt32(IN_ATTRIB))
        /// The kernel's queue overflowed: events were lost, rescan everything.
        public static let queueOverflow = Mask(rawValue: UInt32(IN_Q_OVERFLOW))
        /// The watch was removed (directory deleted or unmounted).
        public static let ignored = Mask(rawValue: UInt32(IN_IGNORED))
        public static let isDirectory = Mask(rawValue: UInt32(IN_ISDIR))
        public static let onlyDirectory = Mask(rawValue: UInt32(IN_ONLYDIR))
    }

    /// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`.
    public static func create() throws -> Inotify {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { throw Errno.current("inotify_init1") }
        return Inotify(descriptor: FileDescriptor(rawValue: fd))
    }

    /// `inotify_add_watch(2)`; returns the watch descriptor (the same one again for a path
    /// already watched).
    public func addWatch(_ path: String, mask: Mask) throws -> Int32 {
        let wd = inotify_add_watch(descriptor.rawValue, path, mask.rawValue)
        if wd < 0 { throw Errno.current("inotify_add_watch", path: path) }
        return wd
    }

    /// Reads every queued event without blocking; an empty array means the queue is drained.
    public func readEvents() throws -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        let size = 16384
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = retryingOnInterrupt { Glibc.read(descriptor.rawValue, buffer, size) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return events }
                throw Errno.current("read", path: "inotify")
            }
            if n == 0 { return events }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= n {
                let record = (buffer + offset).loadUnaligned(as: inotify_event.self)
                let nameLength = Int(record.len)
                var name = ""
                if nameLength > 0 {
                    let namePointer = (buffer + offset + header).assumingMemoryBound(to: UInt8.self)
                    var count = 0
                    while count < nameLength && namePointer[count] != 0 { count += 1 }
                    name = String(decoding: UnsafeBufferPointer(start: namePointer, count: count), as: UTF8.self)
                }
                events.append(InotifyEvent(watch: record.wd, mask: Mask(rawValue: record.mask), cookie: record.cookie, name: name))
                offset += header + nameLength
            }
            if n < size - 4096 { return events }
        }
    }

    public func close() { descriptor.close() }
}
