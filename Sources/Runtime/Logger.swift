import Posix
import Synchronization

/// Structured log lines on stderr: a fixed message plus `key=value` metadata.
///
/// Under systemd (`$JOURNAL_STREAM` set) each line starts with a `<N>` priority prefix that
/// journald understands; otherwise it is plain text with a level word. Secrets never go here:
/// callers pass metadata values that are safe to print.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug = 7, info = 6, notice = 5, warning = 4, error = 3, critical = 2
        public static func < (a: Level, b: Level) -> Bool { a.rawValue > b.rawValue }
        public var word: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            case .critical: "critical"
            }
        }
        public init?(word: String) {
            switch word {
            case "debug": self = .debug
            case "info": self = .info
            case "notice": self = .notice
            case "warning", "warn": self = .warning
            case "error": self = .error
            case "critical": self = .critical
            default: return nil
            }
        }
    }

    private static let minimum = Atomic<Int>(Level.info.rawValue)
    private static let journal = ProcessEnvironment.get("JOURNAL_STREAM") != nil

    public let label: String
    public init(label: String) { self.label = label }

    public static func setLevel(_ level: Level) { minimum.store(level.rawValue, ordering: .relaxed) }
    public static func enabled(_ level: Level) -> Bool { level.rawValue <= minimum.load(ordering: .relaxed) }

    public func log(_ level: Level, _ message: String, _ metadata: KeyValuePairs<String, String> = [:]) {
        guard Logger.enabled(level) else { return }
        var line = Logger.journal ? "<\(level.rawValue)>" : "\(level.word): "
        line += label
        line += ": "
        line += message
        for (k, v) in metadata {
            line += " \(k)="
            line += Logger.quoteIfNeeded(v)
        }
        line += "\n"
        StandardStreams.err(line)
    }

    public func debug(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.debug, m, md) }
    public func info(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.info, m, md) }
    public func notice(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.notice, m, md) }
    public func warning(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.warning, m, md) }
    public func error(_ m: String, _ md: KeyValuePairs<String, String> = [:]) { log(.error, m, md) }

    static func quoteIfNeeded(_ v: String) -> String {
        if !v.isEmpty && !v.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") }) { return v }
        var out = "\""
        for ch in v.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}
