/// Lexical path helpers; none of them touches the file system.
public enum FilePath {
    /// The directory part of `path` ("/a/b" → "/a", "/a" → "/", "a" → ".").
    public static func parent(of path: String) -> String {
        var components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty else { return path.hasPrefix("/") ? "/" : "." }
        components.removeLast()
        if path.hasPrefix("/") { return "/" + components.joined(separator: "/") }
        return components.isEmpty ? "." : components.joined(separator: "/")
    }

    /// Removes repeated and trailing slashes and `.` components, as Perl's
    /// File::Spec->canonpath does on Unix (`..` is kept: it is not lexical).
    public static func canonical(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var components = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        // "/.." is "/": leading parent references of an absolute path go nowhere.
        if absolute { while components.first == ".." { components.removeFirst() } }
        let joined = components.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? (path.isEmpty ? "" : ".") : joined
    }
}

extension FilePath {
    /// The last component of `path` ("/a/b" → "b"), trailing slashes ignored, as
    /// File::Basename's `basename`.
    public static func name(of path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")), bytes.count > 1 else {
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(decoding: bytes[(slash + 1)...], as: UTF8.self)
    }
}
