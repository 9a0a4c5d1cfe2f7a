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
        // Built only on failure: an error costs more than parsing.
        var unparsable: StorageError { StorageError(VolumeNameFailure.unparsable(volname: volname)) }
        // A NUL would cut the path short at the C boundary; no file name contains one.
        guard !bytes.contains(0) else { throw unparsable }
        // Image names start with a VMID; others need not try that grammar.
        if let first = bytes.first, (0x30...0x39).contains(first), let image = try parseImage(bytes, for: host) { return image }

        guard let slash = bytes.firstIndex(of: NameBytes.slash) else { throw unparsable }
        let prefix = String(decoding: bytes[..<slash], as: UTF8.self)
        let rest = Array(bytes[(slash + 1)...])
        let name = String(decoding: rest, as: UTF8.self)
        let oneComponent = !rest.isEmpty && !rest.contains(NameBytes.slash)

        switch prefix {
        case "iso" where oneComponent && NameBytes.hasExtension(rest, [".iso", ".img"], caseInsensitive: true):
            return VolumeName(vtype: .iso, name: name)
        case "vztmpl" where oneComponent && NameBytes.hasExtension(rest, host.templateExtensions, caseInsensitive: true):
            return VolumeName(vtype: .vztmpl, name: name)
        case "rootdir" where host == .pve8 && oneComponent && PerlString.isDigits(rest):
            // PVE 8's name of a container's private directory (gone in PVE 9).
            return VolumeName(vtype: .rootdir, name: name, vmid: name, format: .none)
        case "backup" where oneComponent && ArchiveNames.backupExtension(of: rest) != nil:
            return VolumeName(vtype: .backup, name: name, vmid: ArchiveNames.vzdumpVMID(rest))
        case "snippets" where oneComponent:
            return VolumeName(vtype: .snippets, name: name)
        case "import":
            if let format = ImportNames.volumeFormat(rest) {
                return VolumeName(vtype: .import, name: name, format: format)
            }
        default:
            break
        }
        throw unparsable
    }

    /// Images: `<vmid>/<file>` or the linked-clone form `<basevmid>/<basefile>/<vmid>/<file>`.
    private static func parseImage(_ bytes: [UInt8], for host: HostRelease) throws(StorageError) -> VolumeName? {
        guard !bytes.isEmpty, !bytes.contains(where: PerlString.isWhitespace) else { return nil }
        let slashes = bytes.indices.filter { bytes[$0] == NameBytes.slash }
        guard let first = slashes.first, PerlString.isDigits(bytes[..<first]) else { return nil }
        let text = { (range: Range<Int>) in String(decoding: bytes[range], as: UTF8.self) }

        // Linked clone: the base part is greedy, so the split is at the last `/<digits>/`
        // that leaves a non-empty base part and a non-empty file part.
        var split = slashes.count - 1
        while split >= 2 {
            let vmid = (slashes[split - 1] + 1)..<slashes[split]
            let base = (first + 1)..<slashes[split - 1]
            let file = (slashes[split] + 1)..<bytes.count
            if PerlString.isDigits(bytes[vmid]), !base.isEmpty, !file.isEmpty {
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
        if host != .pve8, NameBytes.hasPrefix(bytes, "snap-"), NameBytes.hasExtension(bytes, [".qcow2"], caseInsensitive: false),
           !bytes.contains(NameBytes.newline) {
            throw StorageError(VolumeNameFailure.snapshotFileName(name))
        }
        let clean = !bytes.contains(NameBytes.slash) && !bytes.contains(where: PerlString.isWhitespace)
        if clean, let format = ImageExtensions.format(bytes) {
            // `base-` counts only when something is left between it and the extension.
            let isBase = NameBytes.hasPrefix(bytes, "base-") && bytes.count > 5 + format.description.utf8.count + 1
            return (format, isBase)
        }
        throw StorageError(VolumeNameFailure.unparsableFileName(name))
    }
}
