import Posix
import Runtime

/// Entry point: picks the subcommand, runs it, and turns failures into a message and an exit code.
enum TracktailCommand {
    static func main() {
        for warning in MemoryTuning.apply() { StandardStreams.err("tracktail: \(warning)\n") }
        let words = ProcessEnvironment.arguments.dropFirst()
        let code: ExitCode
        do {
            code = try dispatch(words)
        } catch {
            StandardStreams.err("tracktail: \(error.message)\n")
            if error.code == .usage { StandardStreams.err("Try 'tracktail --help'.\n") }
            code = error.code
        }
        ProcessEnvironment.exit(code.rawValue)
    }

    static func dispatch(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        guard let first = words.first else {
            StandardStreams.err(Help.main)
            return .usage
        }
        let rest = words.dropFirst()
        switch first {
        case "-h", "--help":
            StandardStreams.out(Help.main)
            return .ok
        case "-V", "--version", "version":
            StandardStreams.out("tracktail \(Help.version)\n")
            return .ok
        case "help":
            guard let topic = rest.first else {
                StandardStreams.out(Help.main)
                return .ok
            }
            guard let text = helpText(topic) else { throw CommandFailure("no command \"\(topic)\"", code: .usage) }
            StandardStreams.out(text)
            return .ok
        case "run": return try RunCommand.main(rest)
        case "check": return try CheckCommand.main(rest)
        case "map": return try MapCommand.main(rest)
        case "status": return try StatusCommand.main(rest)
        case "replay": return try ReplayCommand.main(rest)
        default:
            throw CommandFailure("unknown command \"\(first)\"", code: .usage)
        }
    }

    static func helpText(_ command: String) -> String? {
        switch command {
        case "run": Help.run
        case "check": Help.check
        case "map": Help.map
        case "status": Help.status
        case "replay": Help.replay
        default: nil
        }
    }

    /// Parses a subcommand's words; handles `--help` and `--version` the same way everywhere.
    /// Returns nil when help or version was printed.
    static func parse(_ words: ArraySlice<String>, help: String, valued: Set<String> = [], flags: Set<String> = []) throws(CommandFailure) -> Arguments? {
        let args = try Arguments(words, valued: valued.union(["--config"]), flags: flags.union(["--help", "--version"]))
        if args.has("--help") {
            StandardStreams.out(help)
            return nil
        }
        if args.has("--version") {
            StandardStreams.out("tracktail \(Help.version)\n")
            return nil
        }
        return args
    }
}
