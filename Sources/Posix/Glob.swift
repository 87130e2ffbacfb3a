import Glibc

/// Shell-style patterns: `glob(3)` to list matching paths, `fnmatch(3)` to test one.
public enum Glob {
    /// Paths matching `pattern`, sorted; an empty array when nothing matches or a directory on
    /// the way cannot be read (a missing log directory is not an error for a tailer).
    public static func expand(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        guard rc == 0 else { return [] }
        var out: [String] = []
        out.reserveCapacity(Int(g.gl_pathc))
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }

    /// `fnmatch(3)`. With `pathname`, `*` and `?` do not match `/` (`FNM_PATHNAME`).
    public static func matches(_ pattern: String, _ string: String, pathname: Bool = true) -> Bool {
        fnmatch(pattern, string, pathname ? FNM_PATHNAME : 0) == 0
    }

    /// True when `pattern` has a glob metacharacter.
    public static func hasMagic(_ pattern: String) -> Bool {
        pattern.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }
}
