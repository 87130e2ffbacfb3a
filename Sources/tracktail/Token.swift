import Posix

/// Reads the API token from where the configuration says. Re-read at SIGHUP, so a rotated key
/// file or credential takes effect without a restart. The value is never logged.
///
/// Surrounding whitespace is trimmed (a token file written with `echo` ends in a newline), but a
/// control character inside the token — CR, LF, NUL, any other — is refused at load: it cannot
/// travel in an HTTP header, and sending it would only fail every request as a protocol error.
enum Token {
    /// Why no token could be loaded.
    struct Problem: Error {
        var message: String
        /// The token exists but cannot be used (a control character inside): `check` fails on
        /// it, where a missing variable or credential may only exist under systemd and is a warning.
        var malformed: Bool
    }

    static func load(_ source: Configuration.TokenSource) throws(CommandFailure) -> String {
        do {
            return try read(source)
        } catch {
            throw CommandFailure(error.message, code: .config)
        }
    }

    static func read(_ source: Configuration.TokenSource) throws(Problem) -> String {
        switch source {
        case .none:
            return ""
        case .environment(let name):
            guard let v = ProcessEnvironment.get(name), !trimmed(v).isEmpty else {
                throw Problem(message: "the token environment variable \(name) is not set or empty", malformed: false)
            }
            return try checked(trimmed(v), what: "token environment variable \(name)")
        case .file(let path):
            return try readFile(path, what: "token file \(path)")
        case .credential(let name):
            guard let dir = ProcessEnvironment.get("CREDENTIALS_DIRECTORY"), !dir.isEmpty else {
                throw Problem(message: "token_credential = \"\(name)\" needs systemd's $CREDENTIALS_DIRECTORY (LoadCredential=\(name):/path in the unit)", malformed: false)
            }
            return try readFile(Path.join(dir, name), what: "credential \(name)")
        }
    }

    private static func readFile(_ path: String, what: String) throws(Problem) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(path)
        } catch {
            throw Problem(message: "cannot read the \(what): \(error)", malformed: false)
        }
        let text = trimmed(String(decoding: bytes, as: UTF8.self))
        if text.isEmpty { throw Problem(message: "the \(what) is empty", malformed: false) }
        return try checked(text, what: what)
    }

    /// The token, or a problem naming the first control character inside it and where.
    static func checked(_ token: String, what: String) throws(Problem) -> String {
        for (i, b) in token.utf8.enumerated() where b < 0x20 || b == 0x7F {
            throw Problem(message: "the \(what) holds \(describe(b)) at byte \(i + 1) of the token: a token is one line of printable text (a trailing newline is fine); remove it", malformed: true)
        }
        return token
    }

    private static func describe(_ b: UInt8) -> String {
        switch b {
        case 0x0D: "a carriage return (CR)"
        case 0x0A: "a line feed (LF)"
        case 0x00: "a NUL byte"
        case 0x09: "a tab"
        default: "the control character 0x\(String(b, radix: 16, uppercase: true))"
        }
    }

    private static func trimmed(_ s: String) -> String {
        var sub = Substring(s)
        while let f = sub.first, f == " " || f == "\n" || f == "\r" || f == "\t" || f == "\r\n" { sub.removeFirst() }
        while let l = sub.last, l == " " || l == "\n" || l == "\r" || l == "\t" || l == "\r\n" { sub.removeLast() }
        return String(sub)
    }
}
