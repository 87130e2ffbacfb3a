import Glibc

/// What the running process may do with a path, and who it runs as: for messages like
/// "permission denied for user tracktail".
public enum Access {
    /// `access(path, R_OK)`: the real user may read it (the daemon never changes its user).
    public static func readable(_ path: String) -> Bool { Glibc.access(path, R_OK) == 0 }

    /// `access(path, R_OK | X_OK)`: a directory this user may list and enter.
    public static func listable(_ directory: String) -> Bool { Glibc.access(directory, R_OK | X_OK) == 0 }

    /// The effective user's name (`getpwuid_r`), or `uid N` when it has none.
    public static func userName() -> String {
        let uid = geteuid()
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let rc = getpwuid_r(uid, &pwd, &buffer, buffer.count, &result)
        if rc == 0, result != nil, let name = pwd.pw_name { return String(cString: name) }
        return "uid \(uid)"
    }
}
