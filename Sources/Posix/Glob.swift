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

    /// Some path `expand(pattern)` would return for which `accept` is true, or nil; reads the
    /// directory only until then (no list of every match, no sort) when the pattern's
    /// directory part has no metacharacter. The order in which paths are tried is unspecified.
    public static func first(_ pattern: String, where accept: (String) -> Bool) -> String? {
        guard let slash = pattern.lastIndex(of: "/") else {
            return firstName(in: ".", matching: pattern, prefix: "", accept)
        }
        let dir = String(pattern[..<slash])
        if hasMagic(dir) { return expand(pattern).first(where: accept) }
        let base = String(pattern[pattern.index(after: slash)...])
        if !hasMagic(base) { return expand(pattern).first(where: accept) }
        return firstName(in: dir.isEmpty ? "/" : dir, matching: base, prefix: dir + "/", accept)
    }

    /// nil also when the directory cannot be read (like `expand`: nothing matches).
    private static func firstName(in dir: String, matching base: String, prefix: String,
                                  _ accept: (String) -> Bool) -> String? {
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = FileSystem.entryName(entry)
            if name == "." || name == ".." { continue }
            // As glob(3): a leading dot only by a leading dot in the pattern.
            guard fnmatch(base, name, FNM_PERIOD) == 0 else { continue }
            let path = prefix + name
            if accept(path) { return path }
        }
        return nil
    }

    /// True when `pattern` has a glob metacharacter.
    public static func hasMagic(_ pattern: String) -> Bool {
        pattern.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }
}
