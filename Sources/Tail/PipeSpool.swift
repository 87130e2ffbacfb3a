import Posix

/// The on-disk spool of one FIFO input: what is read from the pipe is appended to segment files
/// before anything downstream sees it, and the segments are then tailed like ordinary files
/// (identity, checkpoint entries, acknowledgements). So a line read from the pipe survives a
/// kill -9 at any moment: after a restart it is read again from the spool at its checkpoint.
///
/// ```
///  FIFO ──read──▶ PipeSpool.append ──write(2)──▶ <state>/spool/<input>/00000000000000000007.ndjson
///                                                   │ tailed like a file input (start at the beginning)
///                                                   ▼
///                                     LineSplitter ─▶ … ─▶ acknowledge ─▶ checkpoint entry per segment
/// ```
///
/// | situation                                 | what happens                                                  |
/// |-------------------------------------------|---------------------------------------------------------------|
/// | bytes arrive on the pipe                  | moved into the current segment by `splice(2)` as they come (partial lines too: the tailer waits for the newline) |
/// | current segment reaches `segmentBytes`    | the pipe is peeked (`tee(2)`) for the next newline and the segment cut after it; the rest starts the next segment (a sealed segment ends with a newline) |
/// | no newline for `segmentBytes + hardExtraBytes` | cut there anyway: when the sealed segment is retired its partial last line is handed on (truncated past `maxLineBytes`), and the rest of that line comes out of the next segment as a line of its own (dead-lettered as invalid) |
/// | sealed segment read to its end and fully acknowledged | deleted, and its checkpoint entry forgotten         |
/// | spool holds `maxBytes` or more            | the pipe is not read (the writer blocks once the kernel's pipe buffer is full); nothing is dropped |
/// | a write to the spool fails (disk full)    | spliced: the bytes stay in the pipe; read and written: they are kept in memory (`pending`); either way the pipe is not read until a retry works |
/// | the file system refuses `splice` (`EINVAL`) | `read(2)` + `write(2)` from then on (`splicing` false): a kill -9 between the two loses that one chunk |
/// | restart                                   | existing segments are tailed from their checkpoints; the last one stays current and is appended to (a line cut by the crash is completed by what is still in the pipe) |
/// | last writer closes the pipe               | nothing: the pipe is open read-write, so no end of file and no POLLHUP spin |
///
/// Why `splice`: with `read` + `write` the bytes of one chunk live only in our memory for a few
/// microseconds; a kill -9 then loses them. `splice` moves them from the pipe's buffer into the
/// file's page cache inside the kernel: each byte is in the pipe or in the file, never neither.
///
/// Durability: the page cache, which survives a crash of the
/// process, so kill -9 loses nothing without an fsync per line. For power loss, a segment is
/// fsynced when it is sealed and when the spool is closed, and the current one at most once a
/// second while it is written (`syncInterval`, also about a second after the last write); the
/// directory is fsynced when a segment is created. Bytes written in the last second before a
/// power cut may be lost (the checkpoint of such a segment then no longer matches and it is read from
/// its start: duplicates, never a wrong offset).
///
/// Names are the sequence number, zero-padded to 20 digits, so that name order is write order.
/// Reader thread only.
final class PipeSpool {
    struct Segment {
        var path: String
        var sequence: UInt64
        var size: Int64
    }

    let directory: String
    let segmentBytes: Int64
    /// A segment without any newline is cut at `segmentBytes + hardExtraBytes`.
    let hardExtraBytes: Int64
    /// Oldest first; the last one is `current`.
    private(set) var segments: [Segment] = []
    private var writer: FileDescriptor?
    /// Bytes read from the pipe that could not be written yet (disk full): retried first.
    private(set) var pending: [UInt8] = []
    private(set) var total: Int64 = 0
    private var unsynced = false
    /// False once the file system refused `splice` (then: read and write).
    private(set) var splicing = true
    /// Receives `tee` peeks at the pipe when a segment is full; created on first use.
    private var peek: (read: FileDescriptor, write: FileDescriptor)?
    private var lastSync: Int64 = 0
    static let syncInterval: Int64 = 1_000_000_000
    static let suffix = ".ndjson"

    var current: Segment { segments[segments.count - 1] }
    var sealed: ArraySlice<Segment> { segments.dropLast() }

    /// Creates the directory and opens the newest segment for appending (or starts sequence 1).
    init(directory: String, segmentBytes: Int64, hardExtraBytes: Int64) throws {
        self.directory = directory
        self.segmentBytes = max(1, segmentBytes)
        self.hardExtraBytes = max(0, hardExtraBytes)
        try FileSystem.createDirectories(directory, mode: 0o700)
        for name in try FileSystem.list(directory) {
            guard let seq = Self.sequence(of: name) else { continue }
            let path = Path.join(directory, name)
            guard let st = try FileSystem.status(path), st.isRegularFile else { continue }
            segments.append(Segment(path: path, sequence: seq, size: st.size))
            total += st.size
        }
        segments.sort { $0.sequence < $1.sequence }
        if segments.isEmpty {
            try startSegment(sequence: 1)
        } else {
            // Not `O_APPEND`: `splice` refuses it. Every write gives its offset (the size).
            writer = try FileDescriptor.open(current.path, [.writeOnly])
        }
    }

    static func name(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// The sequence number of a segment file name; nil for anything else in the directory.
    static func sequence(of name: String) -> UInt64? {
        guard name.hasSuffix(suffix), name.utf8.count == 20 + suffix.utf8.count else { return nil }
        let digits = name.utf8.prefix(20)
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// The glob matching every segment of a spool directory (what the tailer watches).
    static func pattern(directory: String) -> String { Path.join(directory, "*" + suffix) }

    /// Where the bytes of `chunk` go when appended to a segment holding `size` bytes: `nil` keeps
    /// them all in the current segment; `n` writes the first `n` bytes, seals the segment and
    /// starts the next one with the rest. Pure (see the table on `PipeSpool`).
    static func cut(size: Int64, chunk: UnsafeRawBufferPointer, limit: Int64, hardLimit: Int64) -> Int? {
        let after = size + Int64(chunk.count)
        guard after >= limit, !chunk.isEmpty else { return nil }
        // The first newline at or after the byte that fills the segment.
        let from = Int(max(0, limit - size - 1))
        if let i = chunk[from...].firstIndex(of: 0x0A) { return i + 1 }
        return after >= hardLimit ? min(chunk.count, Int(max(1, hardLimit - size))) : nil
    }

    /// True while the pipe must not be read: the spool is at its cap or a write is pending.
    func blocked(maxBytes: Int64) -> Bool { !pending.isEmpty || total >= maxBytes }

    /// Moves what `fifo` holds now (up to `count` bytes, at most `scratch.count` when peeking or
    /// reading) into the spool. Returns the bytes moved; 0 when the pipe is empty. Errors of the
    /// fallback's `read` carry the call `read` (the pipe's problem); others are the spool's.
    func pump(from fifo: FileDescriptor, count: Int, scratch: UnsafeMutableRawBufferPointer) throws -> Int {
        try retryPending()
        if writer == nil { try startSegment(sequence: current.sequence + 1) }
        if splicing {
            do { return try splice(from: fifo, count: count, scratch: scratch) } catch let e as Errno
                where e.call == "splice" && (e.code == Errno.invalidArgument || e.code == Errno.notImplemented) {
                splicing = false
            }
        }
        let buffer = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(count, scratch.count)])
        guard let n = try fifo.readIfAvailable(into: buffer), n > 0 else { return 0 }
        try append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        return n
    }

    private func splice(from fifo: FileDescriptor, count: Int, scratch: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let writer else { return 0 }
        let room = segmentBytes - current.size
        var want = count
        var sealAfter = false
        if room > 0 {
            want = min(count, Int(room))
        } else {
            // Full: find where the line that crosses the size ends, without consuming anything.
            if peek == nil { peek = try FileDescriptor.makePipe() }
            guard let peek, let seen = try fifo.tee(to: peek.write, count: min(count, scratch.count)), seen > 0 else { return 0 }
            var got = 0
            while got < seen, let n = try peek.read.readIfAvailable(into: UnsafeMutableRawBufferPointer(rebasing: scratch[got..<seen])), n > 0 {
                got += n
            }
            let chunk = UnsafeRawBufferPointer(rebasing: scratch[0..<got])
            if let cut = Self.cut(size: current.size, chunk: chunk, limit: segmentBytes, hardLimit: segmentBytes + hardExtraBytes) {
                want = cut
                sealAfter = true
            } else {
                want = max(1, got)
            }
        }
        guard let n = try fifo.splice(to: writer, at: current.size, count: want), n > 0 else { return 0 }
        segments[segments.count - 1].size += Int64(n)
        total += Int64(n)
        unsynced = true
        if sealAfter && n == want { seal() }
        return n
    }

    /// Appends bytes read from the pipe (the fallback without `splice`, and tests). On a write error the unwritten bytes are kept in
    /// `pending` (retried by `retryPending`) and the error is rethrown for logging.
    func append(_ chunk: UnsafeRawBufferPointer) throws {
        if !pending.isEmpty {
            pending.append(contentsOf: chunk)
            try retryPending()
            return
        }
        do { try write(chunk) } catch {
            pending = Array(chunk[error.written...])
            throw error.error
        }
    }

    /// Writes what a failed write left over; throws while the disk is still full.
    func retryPending() throws {
        guard !pending.isEmpty else { return }
        let bytes = pending
        pending = []
        var failure: WriteFailure?
        bytes.withUnsafeBytes { b in
            do throws(WriteFailure) { try write(b) } catch { failure = error }
        }
        if let failure {
            pending = Array(bytes[failure.written...])
            throw failure.error
        }
    }

    private struct WriteFailure: Error {
        var written: Int
        var error: any Error
    }

    private func write(_ chunk: UnsafeRawBufferPointer) throws(WriteFailure) {
        var rest = chunk
        var written = 0
        while !rest.isEmpty {
            let limit = segmentBytes
            if writer == nil {
                do { try startSegment(sequence: current.sequence + 1) } catch { throw WriteFailure(written: written, error: error) }
            }
            let cut = Self.cut(size: current.size, chunk: rest, limit: limit, hardLimit: limit + hardExtraBytes)
            let n = cut ?? rest.count
            do {
                try writer!.writeAll(UnsafeRawBufferPointer(rebasing: rest[0..<n]), at: current.size)
            } catch {
                throw WriteFailure(written: written, error: error)
            }
            segments[segments.count - 1].size += Int64(n)
            total += Int64(n)
            written += n
            unsynced = true
            // A failed `seal` leaves no open segment; the next write starts one.
            if cut != nil { seal() }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// fsyncs and closes the current segment and starts the next one.
    private func seal() {
        if let writer {
            try? writer.sync()
            writer.close()
            self.writer = nil
        }
        try? startSegment(sequence: current.sequence + 1)
    }

    private func startSegment(sequence: UInt64) throws {
        let path = Path.join(directory, Self.name(sequence))
        writer = try FileDescriptor.open(path, [.writeOnly, .create], mode: 0o600)
        segments.append(Segment(path: path, sequence: sequence, size: 0))
        unsynced = false
        // The new name itself must survive a power cut (once per segment).
        if let d = try? FileDescriptor.open(directory, [.directory]) {
            try? d.sync()
            d.close()
        }
    }

    var needsSync: Bool { unsynced }

    /// At most once per `syncInterval`, when something was written since the last fsync.
    func syncIfDue(now: Int64) {
        guard unsynced, now - lastSync >= Self.syncInterval, let writer else { return }
        try? writer.sync()
        unsynced = false
        lastSync = now
    }

    /// Deletes a sealed segment (read and acknowledged). The current one is never deleted.
    func remove(_ path: String) throws {
        guard let i = segments.firstIndex(where: { $0.path == path }), i < segments.count - 1 else { return }
        try FileSystem.remove(path)
        total -= segments[i].size
        segments.remove(at: i)
    }

    func close() {
        if let peek {
            peek.read.close()
            peek.write.close()
            self.peek = nil
        }
        guard let writer else { return }
        try? writer.sync()
        writer.close()
        self.writer = nil
    }
}
