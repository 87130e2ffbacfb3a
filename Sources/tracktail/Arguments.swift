/// The parsed command line of one subcommand: `--flag`, `--option value` / `--option=value`,
/// and positional arguments. Unknown options are usage errors, never ignored.
struct Arguments {
    var flags: Set<String> = []
    var options: [String: String] = [:]
    var positionals: [String] = []

    /// Parses `words` given the options that take a value and the flags that do not.
    init(_ words: ArraySlice<String>, valued: Set<String>, flags allowed: Set<String>) throws(CommandFailure) {
        var i = words.startIndex
        var onlyPositionals = false
        while i < words.endIndex {
            let word = words[i]
            i += 1
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = word
            var inlineValue: String?
            if let eq = word.firstIndex(of: "=") {
                name = String(word[..<eq])
                inlineValue = String(word[word.index(after: eq)...])
            }
            let canonical = Arguments.aliases[name] ?? name
            if valued.contains(canonical) {
                if let inlineValue {
                    options[canonical] = inlineValue
                } else {
                    guard i < words.endIndex else { throw CommandFailure("\(name) needs a value", code: .usage) }
                    options[canonical] = words[i]
                    i += 1
                }
            } else if allowed.contains(canonical) && inlineValue == nil {
                flags.insert(canonical)
            } else {
                throw CommandFailure("unknown option \(name)", code: .usage)
            }
        }
    }

    static let aliases = ["-c": "--config", "-h": "--help", "-V": "--version", "-q": "--quiet"]

    func has(_ flag: String) -> Bool { flags.contains(flag) }
    subscript(option: String) -> String? { options[option] }
}
