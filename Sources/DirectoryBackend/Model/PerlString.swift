/// Perl's string semantics on UTF-8 bytes, where PVE's patterns, `lc` and sorts apply
/// them to names (which are byte strings to Perl).
enum PerlString {
    /// `\s`.
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// `^\d+$`.
    static func isDigits<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        !bytes.isEmpty && bytes.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// `lc` of one byte: ASCII letters only.
    static func lowercase(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    /// Perl's `sort` and `lt` on these strings: by code point, that is by UTF-8 bytes
    /// (Swift's `<` compares canonically equivalent strings as equal).
    static func precedes(_ left: String, _ right: String) -> Bool {
        left.utf8.lexicographicallyPrecedes(right.utf8)
    }
}
