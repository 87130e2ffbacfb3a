// Kept tiny on purpose: Swift 6 traps on non-Sendable closures handed to Dispatch from
// top-level code, so everything lives in `TracktailCommand`.
TracktailCommand.main()
