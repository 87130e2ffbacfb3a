enum RunCommand {
    static func main(_ words: ArraySlice<String>) throws(CommandFailure) -> ExitCode {
        throw CommandFailure("not implemented yet", code: .software)
    }
}
