/// Exit codes, sysexits(3) style, so scripts and systemd can tell failures apart.
///
/// | code | name | when |
/// |---:|---|---|
/// | 0 | ok | success |
/// | 1 | failure | `map`: at least one line was rejected |
/// | 64 | usage | bad command line |
/// | 65 | dataError | `replay`: a record is not a dead-letter record |
/// | 66 | noInput | a named input file does not exist |
/// | 69 | unavailable | the Track API refused the configuration (401/403/404) during `run --once` or `replay`; `run`: the `[metrics] listen` address is in use or cannot be bound |
/// | 70 | software | internal error |
/// | 73 | cannotCreate | the state directory cannot be created or written |
/// | 74 | ioError | reading or writing failed |
/// | 75 | tempFail | the state directory is locked by another instance |
/// | 78 | config | the configuration is invalid |
public enum ExitCode: Int32, Sendable {
    case ok = 0
    case failure = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case software = 70
    case cannotCreate = 73
    case ioError = 74
    case tempFail = 75
    case config = 78
}

/// A failure that ends a command: what to print and how to exit.
public struct CommandFailure: Error, CustomStringConvertible {
    public var message: String
    public var code: ExitCode
    public init(_ message: String, code: ExitCode) {
        self.message = message
        self.code = code
    }
    public var description: String { message }
}
