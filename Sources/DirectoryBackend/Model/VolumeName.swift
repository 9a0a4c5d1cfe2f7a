import PVEStorage

/// A parsed volume name: the 7-tuple of `parse_volname`.
public struct VolumeName: Equatable, Sendable {
    /// `images`, `iso`, `vztmpl`, `backup`, `snippets` or `import`.
    public var vtype: ContentType
    /// The file name (for images the name inside `images/<vmid>/`).
    public var name: String
    /// Owner VMID (digits as written); for backups the VMID of a standard vzdump name.
    public var vmid: String?
    /// Linked clones: the base image's file name and owner.
    public var baseName: String?
    public var baseVMID: String?
    /// A template's image (`base-` name).
    public var isBase: Bool
    /// The image format, `raw` for non-image content, the import format for imports.
    public var format: VolumeFormat

    public init(vtype: ContentType, name: String, vmid: String? = nil, baseName: String? = nil,
                baseVMID: String? = nil, isBase: Bool = false, format: VolumeFormat = .image(.raw)) {
        self.vtype = vtype
        self.name = name
        self.vmid = vmid
        self.baseName = baseName
        self.baseVMID = baseVMID
        self.isBase = isBase
        self.format = format
    }

    /// A disk inside an OVA archive (`import/<name>.ova/<disk>`), which has no file of its own.
    public var isArchiveMember: Bool { vtype == .import && name.contains("/") }

    /// Parses a volume name by the rules of `host`'s directory storage, first match wins.
    public static func parse(_ volname: String, for host: HostRelease) throws(StorageError) -> VolumeName {
        let bytes = Array(volname.utf8)
        // Built only on failure: messages cost more than parsing.
        var unparsable: StorageError { StorageError("unable to parse directory volume name '\(volname)'") }
        // A NUL would cut the path short at the C boundary; no file name contains one.
        guard !bytes.contains(0) else { throw unparsable }
        // Image names start with a VMID; others need not try that grammar.
        if let first = bytes.first, (0x30...0x39).contains(first), let image = try parseImage(bytes, for: host) { return image }

        guard let slash = bytes.firstIndex(of: Grammar.slash) else { throw unparsable }
        let prefix = String(decoding: bytes[..<slash], as: UTF8.self)
        let rest = Array(bytes[(slash + 1)...])
        let name = String(decoding: rest, as: UTF8.self)
        let oneComponent = !rest.isEmpty && !rest.contains(Grammar.slash)

        switch prefix {
        case "iso" where oneComponent && Grammar.hasExtension(rest, [".iso", ".img"], caseInsensitive: true):
            return VolumeName(vtype: .iso, name: name)
        case "vztmpl" where oneComponent && Grammar.hasExtension(rest, host.templateExtensions, caseInsensitive: true):
            return VolumeName(vtype: .vztmpl, name: name)
        case "rootdir" where host == .pve8 && oneComponent && Grammar.isDigits(rest):
            // PVE 8's name of a container's private directory (gone in PVE 9).
            return VolumeName(vtype: .rootdir, name: name, vmid: name, format: .none)
        case "backup" where oneComponent && Grammar.backupExtension(of: rest) != nil:
            return VolumeName(vtype: .backup, name: name, vmid: Grammar.vzdumpVMID(rest))
        case "snippets" where oneComponent:
            return VolumeName(vtype: .snippets, name: name)
        case "import":
            if let format = Grammar.importFormat(rest) {
                return VolumeName(vtype: .import, name: name, format: format)
            }
        default:
            break
        }
        throw unparsable
    }

    /// Images: `<vmid>/<file>` or the linked-clone form `<basevmid>/<basefile>/<vmid>/<file>`.
    private static func parseImage(_ bytes: [UInt8], for host: HostRelease) throws(StorageError) -> VolumeName? {
        guard !bytes.isEmpty, !bytes.contains(where: Grammar.isWhitespace) else { return nil }
        let slashes = bytes.indices.filter { bytes[$0] == Grammar.slash }
        guard let first = slashes.first, Grammar.isDigits(bytes[..<first]) else { return nil }
        let text = { (range: Range<Int>) in String(decoding: bytes[range], as: UTF8.self) }

        // Linked clone: the base part is greedy, so the split is at the last `/<digits>/`
        // that leaves a non-empty base part and a non-empty file part.
        var split = slashes.count - 1
        while split >= 2 {
            let vmid = (slashes[split - 1] + 1)..<slashes[split]
            let base = (first + 1)..<slashes[split - 1]
            let file = (slashes[split] + 1)..<bytes.count
            if Grammar.isDigits(bytes[vmid]), !base.isEmpty, !file.isEmpty {
                let baseName = text(base)
                _ = try parseImageFile(baseName, for: host)
                let name = text(file)
                let (format, isBase) = try parseImageFile(name, for: host)
                return VolumeName(vtype: .images, name: name, vmid: text(vmid), baseName: baseName,
                                  baseVMID: text(0..<first), isBase: isBase, format: .image(format))
            }
            split -= 1
        }

        let file = (first + 1)..<bytes.count
        guard !file.isEmpty else { return nil }
        let name = text(file)
        let (format, isBase) = try parseImageFile(name, for: host)
        return VolumeName(vtype: .images, name: name, vmid: text(0..<first), isBase: isBase, format: .image(format))
    }

    /// An image file name (PVE::Storage::Plugin's `parse_name_dir`): returns its format and whether it is a base image.
    ///
    /// PVE 9 tries its standard names (`vm-<n>-…`), then refuses `snap-*.qcow2` (external
    /// snapshot files), then accepts free-form names; the standard names are a subset of
    /// the free-form ones with the same result, so only the snapshot rule needs ordering.
    /// PVE 8, which has no external snapshots, accepts every free-form name.
    public static func parseImageFile(_ name: String, for host: HostRelease) throws(StorageError) -> (format: ImageFormat, isBase: Bool) {
        let bytes = Array(name.utf8)
        if host != .pve8, Grammar.hasPrefix(bytes, "snap-"), Grammar.hasExtension(bytes, [".qcow2"], caseInsensitive: false),
           !bytes.contains(Grammar.newline) {
            throw StorageError("'\(name)' is a snapshot filename, not a volume!")
        }
        let clean = !bytes.contains(Grammar.slash) && !bytes.contains(where: Grammar.isWhitespace)
        if clean, let format = Grammar.imageFormat(bytes) {
            // `base-` counts only when something is left between it and the extension.
            let isBase = Grammar.hasPrefix(bytes, "base-") && bytes.count > 5 + format.description.utf8.count + 1
            return (format, isBase)
        }
        throw StorageError("unable to parse volume filename '\(name)'")
    }
}

/// Character classes and suffix tables of the volume-name grammar, on UTF-8 bytes.
enum Grammar {
    static let slash = UInt8(ascii: "/")
    static let newline = UInt8(ascii: "\n")

    static let compressedTemplateExtensions = [".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"]
    static let compressions = ["gz", "lzo", "zst", "bz2"]
    /// An archive extension: `.tgz`, `.tar`, `.vma` or either compressed.
    struct BackupExtension: Sendable {
        /// As in the name, with its dot (`.vma.zst`).
        let suffix: [UInt8]
        /// Without the dot (`vma.zst`): the listing's format.
        let name: String
        /// `tar` or `vma`, and the compression (`tgz` is tar with gz).
        let format: String
        let compression: String?
    }

    /// Longest first: the first that matches is the one PVE's pattern matches.
    static let backupExtensions: [BackupExtension] = {
        var list = [BackupExtension(suffix: Array(".tgz".utf8), name: "tgz", format: "tar", compression: "gz")]
        for container in ["tar", "vma"] {
            list.append(BackupExtension(suffix: Array(".\(container)".utf8), name: container, format: container, compression: nil))
            for compression in compressions {
                list.append(BackupExtension(suffix: Array(".\(container).\(compression)".utf8), name: "\(container).\(compression)",
                                            format: container, compression: compression))
            }
        }
        return list.sorted { $0.suffix.count > $1.suffix.count }
    }()

    /// The archive extension `bytes` ends with, after at least one other byte.
    static func backupExtension(of bytes: [UInt8]) -> BackupExtension? {
        backupExtensions.first { bytes.count > $0.suffix.count && endsWith(bytes, $0.suffix) }
    }

    /// Whether `bytes` ends with `suffix` (the whole of `bytes` may be the suffix; compare
    /// ``hasExtension(_:_:caseInsensitive:)``, which needs a name before it).
    static func endsWith(_ bytes: [UInt8], _ suffix: [UInt8]) -> Bool {
        guard bytes.count >= suffix.count else { return false }
        return bytes.withUnsafeBufferPointer { bytes in
            suffix.withUnsafeBufferPointer { suffix in
                let start = bytes.count - suffix.count
                for index in 0..<suffix.count where bytes[start + index] != suffix[index] { return false }
                return true
            }
        }
    }
    /// The import sources by extension (the extension is the format's name).
    static let importFormats: [(format: VolumeFormat, suffix: [String])] =
        [VolumeFormat.ova, .ovf, .image(.qcow2), .image(.raw), .image(.vmdk)].map { ($0, [".\($0)"]) }
    /// `.<format>` of every image format, in ``ImageFormat``'s order.
    static let imageExtensions: [(format: ImageFormat, suffix: [String])] = ImageFormat.allCases.map { ($0, [".\($0)"]) }

    /// The format an image file name's extension names (`.raw`, `.qcow2`, ...), with at
    /// least one byte before it; nil for any other name. The one test of image extensions.
    static func imageFormat(_ bytes: [UInt8]) -> ImageFormat? {
        imageExtensions.first { hasExtension(bytes, $0.suffix, caseInsensitive: false) }?.format
    }
    static let ovaMemberExtensions: [(format: ImageFormat, suffix: [String])] =
        [ImageFormat.qcow2, .raw, .vmdk].map { ($0, [".\($0)"]) }

    /// Perl's `\s` on a byte string.
    static func isLetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    static func isDigits<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        !bytes.isEmpty && bytes.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// PVE's SAFE_CHAR_WITH_WHITESPACE class: letters, digits, space and `-.+=_`.
    static func isSafe(_ byte: UInt8, allowSpace: Bool) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "_"): return true
        case 0x20: return allowSpace
        default: return false
        }
    }

    static func hasPrefix(_ bytes: [UInt8], _ prefix: String) -> Bool {
        bytes.starts(with: prefix.utf8)
    }

    /// True when `bytes` ends with one of `suffixes` (extensions) after at least one byte of name.
    static func hasExtension(_ bytes: [UInt8], _ suffixes: [String], caseInsensitive: Bool) -> Bool {
        matchedSuffix(bytes, suffixes, caseInsensitive: caseInsensitive) != nil
    }

    static func matchedSuffix(_ bytes: [UInt8], _ suffixes: [String], caseInsensitive: Bool) -> String? {
        for suffix in suffixes {
            let tail = suffix.utf8
            guard bytes.count > tail.count else { continue }
            var index = bytes.count - tail.count
            var matches = true
            for expected in tail {
                let byte = bytes[index]
                if byte != expected, !(caseInsensitive && lowercase(byte) == lowercase(expected)) {
                    matches = false
                    break
                }
                index += 1
            }
            if matches { return String(decoding: bytes[(bytes.count - tail.count)...], as: UTF8.self) }
        }
        return nil
    }

    /// Perl's `sort` and `lt` on these strings: by code point, that is by UTF-8 bytes
    /// (Swift's `<` compares canonically equivalent strings as equal).
    static func perlPrecedes(_ left: String, _ right: String) -> Bool {
        left.utf8.lexicographicallyPrecedes(right.utf8)
    }

    static func lowercase(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    /// `vzdump-<guest type>-`, built once: parse_volname runs on every backup name.
    static let vzdumpPrefixes = ["openvz", "lxc", "qemu"].map { Array("vzdump-\($0)-".utf8) }

    /// The VMID of a `vzdump-<openvz|lxc|qemu>-<digits>-<more>` archive name.
    static func vzdumpVMID(_ bytes: [UInt8]) -> String? {
        for prefix in vzdumpPrefixes {
            guard bytes.starts(with: prefix) else { continue }
            let rest = bytes.dropFirst(prefix.count)
            let digits = rest.prefix { (0x30...0x39).contains($0) }
            let after = rest.dropFirst(digits.count)
            // `.+` in PVE's pattern: at least one character that is not a newline.
            if !digits.isEmpty, after.first == UInt8(ascii: "-"), after.count >= 2, !after.dropFirst().contains(newline) {
                return String(decoding: digits, as: UTF8.self)
            }
        }
        return nil
    }

    /// The format of an import volume name (`<name>.<ext>` or `<name>.ova/<member>.<ext>`), if valid.
    static func importFormat(_ bytes: [UInt8]) -> VolumeFormat? {
        let parts = bytes.split(separator: slash, omittingEmptySubsequences: false).map(Array.init)
        let safe = { (part: [UInt8]) in part.allSatisfy { isSafe($0, allowSpace: true) } }
        if parts.count == 2, safe(parts[0]), safe(parts[1]),
           hasExtension(parts[0], [".ova"], caseInsensitive: false),
           let member = ovaMemberExtensions.first(where: { hasExtension(parts[1], $0.suffix, caseInsensitive: false) }) {
            return .ovaMember(member.format)
        }
        if parts.count == 1, safe(parts[0]) {
            return importFormats.first { hasExtension(parts[0], $0.suffix, caseInsensitive: false) }?.format
        }
        return nil
    }
}
