import Posix

/// What downstream stages may ask about a `SourceID` (for logs, the dead letter and event ids).
public struct SourceInfo: Sendable, Equatable {
    /// The `[[input]]` name.
    public var input: String
    /// Path the file was opened at (it may have been renamed since; the tailer updates it when
    /// a scan finds it at another matched path). For a spooled pipe: the spool segment's path.
    public var path: String
    /// Device and inode (of the spool segment for a spooled pipe); `nil` for a pipe read
    /// directly (`once` mode).
    public var identity: FileIdentity?
    /// The fingerprint at the time of the call (it grows while the file is shorter than the
    /// configured length); `nil` for a pipe read directly.
    public var fingerprint: Fingerprint?
    /// Stable for this file instance, also across restarts and even when the checkpoint is lost
    /// (it depends on device, inode and the first line only, see `FileDecisions.instanceKey`):
    /// derive deterministic event ids from `key` and the line's start offset. A truncated or
    /// replaced file starting with the same first line gets a derived key. 0 until the first
    /// line is complete (no line of it has been handed on before that). A spooled pipe's
    /// segments are files like any other (ids deterministic across restarts); for a pipe read
    /// directly (`once`), a hash of its path (offsets restart at 0 with each run, so those ids
    /// are not deterministic).
    public var key: UInt64
    /// The line came from a `type = "pipe"` input (through its spool, or directly in `once`).
    public var isPipe: Bool
}
