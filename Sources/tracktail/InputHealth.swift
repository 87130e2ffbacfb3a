import Posix
import Runtime
import Synchronization

/// What one configured file input can read right now: its patterns expanded with `glob(3)`
/// (exclusions applied) and each match checked with `access(R_OK)` as the daemon's user.
///
/// Independent of the tailer on purpose: it answers "does this input read anything at all,
/// and if not, why" for `run` (warnings, `/health`, `--once`), `check` and `status` alike.
struct InputProbe: Equatable, Sendable {
    /// Why a pattern matches nothing.
    enum Problem: Equatable, Sendable {
        /// The directory exists and is listable; no file in it matches (yet).
        case noMatch
        /// The pattern's directory does not exist.
        case noDirectory(String)
        /// The pattern's directory exists but this user may not list it.
        case directoryDenied(String)
    }

    struct Pattern: Equatable, Sendable {
        var pattern: String
        var files: [String] = []
        /// Matches this user may not read.
        var unreadable: [String] = []
        /// Set when `files` is empty.
        var problem: Problem?
    }

    var input: String
    var patterns: [Pattern]

    var readable: Int { patterns.reduce(0) { $0 + $1.files.count - $1.unreadable.count } }
    var hasNothingReadable: Bool { readable == 0 }
    var unreadableFiles: [String] { patterns.flatMap(\.unreadable) }

    /// Probes every pattern of a file input.
    static func probe(_ input: Configuration.Input) -> InputProbe {
        InputProbe(input: input.name, patterns: input.paths.map { pattern in
            var p = Pattern(pattern: pattern)
            p.files = Glob.expand(pattern).filter { path in
                !input.exclude.contains { Glob.matches($0, path) }
                    && ((try? FileSystem.status(path))?.map { !$0.isDirectory } ?? false)
            }
            p.unreadable = p.files.filter { !Access.readable($0) }
            if p.files.isEmpty { p.problem = problem(for: pattern) }
            return p
        })
    }

    /// Whether `probe(input)` would find a readable file, stopping at the first one: the
    /// directory read until a match, and a `stat` and an `access` for that file, instead of a
    /// sorted list of every match and both calls for each (the running daemon asks every 10 s;
    /// with 20,000 files the whole probe was a third of its idle CPU).
    static func readsSomething(_ input: Configuration.Input) -> Bool {
        input.paths.contains { pattern in
            Glob.first(pattern) { path in
                !input.exclude.contains { Glob.matches($0, path) }
                    && ((try? FileSystem.status(path))?.map { !$0.isDirectory } ?? false)
                    && Access.readable(path)
            } != nil
        }
    }

    /// The deepest directory of `pattern` without glob characters: missing, not listable, or fine.
    static func problem(for pattern: String) -> Problem {
        var dir = Path.directory(of: pattern)
        while Glob.hasMagic(dir) { dir = Path.directory(of: dir) }
        // The nearest ancestor that exists tells which part is missing or closed.
        var probe = dir
        while (try? FileSystem.status(probe)) == nil, probe != "/", !probe.isEmpty { probe = Path.directory(of: probe) }
        if probe != dir {
            if !Access.listable(probe) { return .directoryDenied(probe) }
            return .noDirectory(dir)
        }
        if !Access.listable(dir) { return .directoryDenied(dir) }
        return .noMatch
    }

    /// The one-line reason this input reads nothing, or `nil` when it reads something.
    func reason(user: String, sandbox: Bool) -> String? {
        guard hasNothingReadable else { return nil }
        var parts: [String] = []
        for p in patterns {
            var text: String
            if !p.unreadable.isEmpty {
                let shown = p.unreadable.prefix(3).joined(separator: ", ") + (p.unreadable.count > 3 ? ", …" : "")
                text = "\(p.pattern): permission denied for user \(user) (\(shown))"
            } else {
                switch p.problem ?? .noMatch {
                case .noMatch: text = "\(p.pattern): no file matches"
                case .noDirectory(let d): text = "\(p.pattern): no such directory \(d)"
                case .directoryDenied(let d): text = "\(p.pattern): permission denied for user \(user) on the directory \(d)"
                }
            }
            if sandbox, let hidden = InputProbe.sandboxHint(p.pattern) { text += " (\(hidden))" }
            parts.append(text)
        }
        return parts.joined(separator: "; ")
    }

    /// Under systemd, `PrivateTmp=` gives the service its own /tmp and `ProtectHome=` hides /home:
    /// a pattern there may see nothing that the shell sees.
    static func sandboxHint(_ pattern: String) -> String? {
        if pattern.hasPrefix("/tmp/") || pattern.hasPrefix("/var/tmp/") {
            return "tracktail runs under systemd: with PrivateTmp= in its unit it sees its own empty /tmp, not the application's"
        }
        if pattern.hasPrefix("/home/") || pattern.hasPrefix("/root/") || pattern.hasPrefix("/run/user/") {
            return "tracktail runs under systemd: ProtectHome= in its unit hides /home, /root and /run/user"
        }
        return nil
    }

    /// Started by systemd: `$INVOCATION_ID` is set for every unit's processes.
    static var underSystemd: Bool { ProcessEnvironment.get("INVOCATION_ID").map { !$0.isEmpty } ?? false }
}

/// When to warn about inputs that read nothing (pure; time is passed in).
///
/// | input now | before | action |
/// | --- | --- | --- |
/// | reads nothing | fine (or first look) | warn at once |
/// | reads nothing, same reason | warned less than `repeatInterval` ago | nothing |
/// | reads nothing, same reason | warned `repeatInterval` or more ago | warn again |
/// | reads nothing, another reason | warned | warn at once |
/// | reads something | was warned about | say it recovered |
struct InputWarningSchedule: Sendable {
    enum Action: Equatable, Sendable {
        case warn(input: String, reason: String, again: Bool)
        case recovered(input: String)
    }

    let repeatInterval: Int64
    private var warned: [String: (reason: String, at: Int64)] = [:]

    init(repeatInterval: Int64 = 300_000_000_000) { self.repeatInterval = repeatInterval }

    /// `reasons`: per input, why it reads nothing (`nil`: it reads something).
    mutating func observe(_ reasons: [(input: String, reason: String?)], now: Int64) -> [Action] {
        var out: [Action] = []
        for (input, reason) in reasons {
            switch (reason, warned[input]) {
            case (nil, nil): break
            case (nil, .some):
                warned[input] = nil
                out.append(.recovered(input: input))
            case (let r?, nil):
                warned[input] = (r, now)
                out.append(.warn(input: input, reason: r, again: false))
            case (let r?, let w?):
                if r != w.reason || now - w.at >= repeatInterval {
                    warned[input] = (r, now)
                    out.append(.warn(input: input, reason: r, again: r == w.reason))
                }
            }
        }
        return out
    }

    /// Inputs currently reading nothing.
    var failing: [String] { warned.keys.sorted() }
}

/// The running daemon's view of its inputs: probed at start and every `interval` from the
/// supervisor's loop (on the main thread, never the pipeline's); read by `/health` and `/metrics`.
final class InputHealth: Sendable {
    private struct State {
        var schedule = InputWarningSchedule()
        var lastProbe: Int64?
        /// Why each failing input reads nothing.
        var failing: [(input: String, reason: String)] = []
        var everFailed: Set<String> = []
    }

    private let inputs: [Configuration.Input]
    private let interval: Int64
    private let logger: Logger
    private let user = Access.userName()
    private let sandbox = InputProbe.underSystemd
    private let state = Mutex(State())

    init(_ inputs: [Configuration.Input], interval: Int64 = 10_000_000_000, logger: Logger) {
        self.inputs = inputs.filter { $0.kind == .file }
        self.interval = interval
        self.logger = logger
    }

    /// Probes when `interval` has passed since the last probe (always the first time) and logs
    /// what the schedule says.
    func tick(now: Int64) {
        guard state.withLock({ $0.lastProbe.map { now - $0 >= interval } ?? true }) else { return }
        // The whole probe (every match) only for an input that reads nothing: for its reason.
        let reasons = inputs.map { input in
            (input: input.name, reason: InputProbe.readsSomething(input) ? nil : InputProbe.probe(input).reason(user: user, sandbox: sandbox))
        }
        let actions = state.withLock { s in
            s.lastProbe = now
            s.failing = reasons.compactMap { r in r.reason.map { (r.input, $0) } }
            for f in s.failing { s.everFailed.insert(f.input) }
            return s.schedule.observe(reasons, now: now)
        }
        for a in actions {
            switch a {
            case .warn(let input, let reason, let again):
                logger.warning(again ? "input still reads nothing" : "input reads nothing", ["input": input, "reason": reason])
            case .recovered(let input):
                logger.notice("input readable again", ["input": input])
            }
        }
    }

    /// Why inputs read nothing, one per input; empty when all read something.
    var failing: [(input: String, reason: String)] { state.withLock { $0.failing } }

    /// Inputs that read nothing at some probe of this run (`run --once` exits 66 for them).
    var everFailed: [String] { state.withLock { $0.everFailed.sorted() } }
}
