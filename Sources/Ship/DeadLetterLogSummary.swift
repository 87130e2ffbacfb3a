/// What to log about dead-lettered lines, per source: the first one of a quiet spell on its own
/// line, then at most one summary per `window` while they keep coming (a binary file matched by
/// a glob must not print one warning per line).
///
/// | state of the source | a record arrives | the window has passed (`tick` or a record) |
/// | --- | --- | --- |
/// | quiet | log it alone; open a window | — |
/// | window open, nothing counted | count it | close the window (quiet again) |
/// | window open, N counted | count it | log "N lines dead-lettered from PATH in the last 10 s: REASON"; open a new window |
///
/// REASON is the most frequent reason of the window with details cut (`invalid JSON at byte 3: …`
/// counts as `invalid JSON`), followed by how many other reasons there were. Pure: time is passed in.
public struct DeadLetterLogSummary: Sendable {
    public enum Message: Equatable, Sendable {
        case single(source: String, reason: String, offset: Int64, rule: String?)
        case summary(source: String, lines: Int, seconds: Int, reason: String)

        public var text: String {
            switch self {
            case .single: "dead-lettered"
            case .summary(let source, let lines, let seconds, let reason):
                "\(lines) line\(lines == 1 ? "" : "s") dead-lettered from \(source) in the last \(seconds) s: \(reason)"
            }
        }
    }

    private struct Window: Sendable {
        var started: Int64
        var count = 0
        var reasons: [String: Int] = [:]
    }

    public let window: Int64
    private var open: [String: Window] = [:]

    public init(window: Int64 = 10_000_000_000) { self.window = window }

    public mutating func note(source: String, reason: String, offset: Int64, rule: String?, now: Int64) -> [Message] {
        var out = tick(now: now)
        if var w = open[source] {
            w.count += 1
            w.reasons[Self.reasonClass(reason), default: 0] += 1
            open[source] = w
        } else {
            open[source] = Window(started: now)
            out.append(.single(source: source, reason: reason, offset: offset, rule: rule))
        }
        return out
    }

    /// Summaries of windows that have passed, oldest source name first. `final` (at shutdown):
    /// of every window with something counted, over the time it was open.
    public mutating func tick(now: Int64, final: Bool = false) -> [Message] {
        var out: [Message] = []
        for source in open.keys.sorted() {
            guard let w = open[source], final || now - w.started >= window else { continue }
            if w.count == 0 {
                open[source] = nil
                continue
            }
            let top = w.reasons.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            let others = w.reasons.count - 1
            let reason = top.key + (others > 0 ? " (and \(others) other reason\(others == 1 ? "" : "s"))" : "")
            let span = final ? min(window, max(1_000_000_000, now - w.started)) : window
            out.append(.summary(source: source, lines: w.count, seconds: Int((span + 999_999_999) / 1_000_000_000), reason: reason))
            open[source] = Window(started: now)
        }
        return out
    }

    /// `invalid JSON at byte 3: unexpected …` → `invalid JSON`; long reasons cut to 120 bytes.
    public static func reasonClass(_ reason: String) -> String {
        var bytes = Array(reason.utf8)
        let marker = Array(" at byte ".utf8)
        if bytes.count >= marker.count,
           let at = (0...(bytes.count - marker.count)).first(where: { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }) {
            bytes = Array(bytes[..<at])
        }
        return String(decoding: bytes.prefix(120), as: UTF8.self)
    }
}
