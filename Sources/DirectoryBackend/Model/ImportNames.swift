/// The names of import sources (`<name>.<ext>`, and a disk in an OVA archive,
/// `<name>.ova/<disk>.<ext>`): the extension is the format.
enum ImportNames {
    /// The import sources by extension (the extension is the format's name).
    static let sources: [(format: VolumeFormat, suffix: [String])] =
        [VolumeFormat.ova, .ovf, .image(.qcow2), .image(.raw), .image(.vmdk)].map { ($0, [".\($0)"]) }
    static let ovaMembers: [(format: ImageFormat, suffix: [String])] =
        [ImageFormat.qcow2, .raw, .vmdk].map { ($0, [".\($0)"]) }

    /// PVE's SAFE_CHAR_WITH_WHITESPACE class: letters, digits, space and `-.+=_`.
    static func isSafe(_ byte: UInt8, allowSpace: Bool) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "_"): return true
        case 0x20: return allowSpace
        default: return false
        }
    }

    /// The format of an import volume name (`parse_volname`): a source, or a disk in an
    /// OVA archive; spaces allowed. Nil when it is neither.
    static func volumeFormat(_ bytes: [UInt8]) -> VolumeFormat? {
        let parts = bytes.split(separator: NameBytes.slash, omittingEmptySubsequences: false).map(Array.init)
        let safe = { (part: [UInt8]) in part.allSatisfy { isSafe($0, allowSpace: true) } }
        if parts.count == 2, safe(parts[0]), safe(parts[1]),
           NameBytes.hasExtension(parts[0], [".ova"], caseInsensitive: false),
           let member = ovaMembers.first(where: { NameBytes.hasExtension(parts[1], $0.suffix, caseInsensitive: false) }) {
            return .ovaMember(member.format)
        }
        if parts.count == 1, safe(parts[0]) { return sourceFormat(parts[0]) }
        return nil
    }

    /// The format of a file in the import directory as the content listing shows it
    /// (`list_volumes`): a source only, and no spaces.
    static func listedFormat(_ bytes: [UInt8]) -> VolumeFormat? {
        guard bytes.allSatisfy({ isSafe($0, allowSpace: false) }) else { return nil }
        return sourceFormat(bytes)
    }

    /// The format a source's extension names (in lower case), after at least one byte of name.
    static func sourceFormat(_ bytes: [UInt8]) -> VolumeFormat? {
        sources.first { NameBytes.hasExtension(bytes, $0.suffix, caseInsensitive: false) }?.format
    }
}
