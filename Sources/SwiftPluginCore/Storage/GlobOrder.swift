/// The order of Perl's glob (File::Glob's GLOB_ALPHASORT): ASCII letters compared
/// without case, bytes as signed chars; ties broken by the bytes (strcmp).
enum GlobOrder {
    /// A sort key: the folded bytes as signed chars, then a 0, then the bytes themselves.
    static func key(_ bytes: [UInt8]) -> [Int8] {
        var key: [Int8] = []
        key.reserveCapacity(bytes.count * 2 + 1)
        for byte in bytes { key.append(Int8(bitPattern: Grammar.lowercase(byte))) }
        key.append(0)
        // strcmp compares unsigned bytes: shift them into the signed range, order kept.
        for byte in bytes { key.append(Int8(truncatingIfNeeded: Int(byte) - 128)) }
        return key
    }

    static func precedes(_ left: [Int8], _ right: [Int8]) -> Bool {
        left.lexicographicallyPrecedes(right)
    }

    static func precedes(_ left: String, _ right: String) -> Bool {
        precedes(key(Array(left.utf8)), key(Array(right.utf8)))
    }

    /// `names` in glob's order, each key computed once.
    static func sorted(_ names: [String]) -> [String] {
        names.map { (key: key(Array($0.utf8)), name: $0) }.sorted { precedes($0.key, $1.key) }.map(\.name)
    }
}
