import Posix

/// Reads the API token from where the configuration says. Re-read at SIGHUP, so a rotated key
/// file or credential takes effect without a restart. The value is never logged.
enum Token {
    static func load(_ source: Configuration.TokenSource) throws(CommandFailure) -> String {
        switch source {
        case .none:
            return ""
        case .environment(let name):
            guard let v = ProcessEnvironment.get(name), !trimmed(v).isEmpty else {
                throw CommandFailure("the token environment variable \(name) is not set or empty", code: .config)
            }
            return trimmed(v)
        case .file(let path):
            return try read(path, what: "token file")
        case .credential(let name):
            guard let dir = ProcessEnvironment.get("CREDENTIALS_DIRECTORY"), !dir.isEmpty else {
                throw CommandFailure("token_credential = \"\(name)\" needs systemd's $CREDENTIALS_DIRECTORY (LoadCredential=\(name):/path in the unit)", code: .config)
            }
            return try read(Path.join(dir, name), what: "credential \(name)")
        }
    }

    private static func read(_ path: String, what: String) throws(CommandFailure) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(path)
        } catch {
            throw CommandFailure("cannot read the \(what): \(error)", code: .config)
        }
        let text = trimmed(String(decoding: bytes, as: UTF8.self))
        if text.isEmpty { throw CommandFailure("the \(what) \(path) is empty", code: .config) }
        if text.contains("\n") || text.contains("\r") {
            throw CommandFailure("the \(what) \(path) holds more than one line", code: .config)
        }
        return text
    }

    private static func trimmed(_ s: String) -> String {
        var sub = Substring(s)
        while let f = sub.first, f == " " || f == "\n" || f == "\r" || f == "\t" { sub.removeFirst() }
        while let l = sub.last, l == " " || l == "\n" || l == "\r" || l == "\t" { sub.removeLast() }
        return String(sub)
    }
}
