import Foundation

/// The shared benchmark sink (`../shared/bench/sink.py`, relative to the package root) run as a
/// child process on 127.0.0.1 with an ephemeral port.
final class Sink: @unchecked Sendable {
    let process = Process()
    let port: Int
    let directory: URL

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var script: URL {
        packageRoot.appendingPathComponent("../shared/bench/sink.py").standardizedFileURL
    }

    init(_ arguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracktail-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ready = directory.appendingPathComponent("port")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path, "--host", "127.0.0.1", "--port", "0", "--ready-file", ready.path,
                             "--token", "t", "--max-seconds", "120"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        var port: Int?
        while Date() < deadline, process.isRunning {
            if let text = try? String(contentsOf: ready, encoding: .utf8), let p = Int(text) {
                port = p
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw SinkError.notReady(Self.script.path)
        }
        self.port = port
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    enum SinkError: Error { case notReady(String) }
}

/// Runs a command and returns its exit status (for `openssl`).
@discardableResult
func run(_ arguments: [String], in directory: URL) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    p.currentDirectoryURL = directory
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
