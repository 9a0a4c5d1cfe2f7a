/// The order of Perl's glob (File::Glob's GLOB_ALPHASORT): ASCII letters compared
/// without case, bytes as signed chars; ties broken by the bytes (strcmp).
enum GlobOrder {
    /// A sort key compared byte by byte as unsigned: the folded bytes as signed chars
    /// (their sign bit flipped, which orders them as signed), the end of that part (a
    /// signed 0), then the bytes themselves (strcmp compares them unsigned).
    static func key(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count * 2 + 1) { key, count in
            for (index, byte) in bytes.enumerated() {
                key[index] = PerlString.lowercase(byte) ^ 0x80
                key[bytes.count + 1 + index] = byte
            }
            key[bytes.count] = 0x80
            count = bytes.count * 2 + 1
        }
    }

    /// Unsigned lexicographic order, eight bytes at a time (listings sort thousands of
    /// names that share long prefixes such as `vzdump-qemu-1`).
    static func precedes(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        left.withUnsafeBytes { left in
            right.withUnsafeBytes { right in
                let common = Swift.min(left.count, right.count)
                var index = 0
                while index + 8 <= common {
                    let a = left.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let b = right.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if a != b { return UInt64(bigEndian: a) < UInt64(bigEndian: b) }
                    index += 8
                }
                while index < common {
                    if left[index] != right[index] { return left[index] < right[index] }
                    index += 1
                }
                return left.count < right.count
            }
        }
    }

    static func precedes(_ left: String, _ right: String) -> Bool {
        precedes(key(Array(left.utf8)), key(Array(right.utf8)))
    }

    /// `names` in glob's order, each key computed once.
    static func sorted(_ names: [String]) -> [String] {
        names.map { (key: key(Array($0.utf8)), name: $0) }.sorted { precedes($0.key, $1.key) }.map(\.name)
    }
}
