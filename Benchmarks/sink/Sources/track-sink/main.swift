import Glibc

/// track-sink: the benchmark's fake Track API (see `Options.usage` and `Server`).
do {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    Server(options: options).run()
} catch {
    if let message = error.message { complain(message) }
    print(Options.usage)
    exit(error.message == nil ? 0 : 64)
}
