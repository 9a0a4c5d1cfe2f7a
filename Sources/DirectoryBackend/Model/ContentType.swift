/// The content types ("vtypes") of a directory storage and where each lives.
public enum ContentType: String, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case images, rootdir, vztmpl, iso, backup, snippets, `import`

    /// By name. Matched on the bytes: every call with a `$scfg` or a volume name looks
    /// types up, and the synthesised string switch costs several times more.
    public init?(rawValue: String) {
        var name = rawValue
        guard let type = name.withUTF8({ Self.named(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = type
    }

    /// The type whose name is `bytes`, if any.
    public static func named(_ bytes: UnsafeRawBufferPointer) -> ContentType? {
        for (name, type) in names where name.utf8CodeUnitCount == bytes.count {
            if name.withUTF8Buffer({ UnsafeRawBufferPointer($0).elementsEqual(bytes) }) { return type }
        }
        return nil
    }

    private static let names: [(StaticString, ContentType)] = [
        ("images", .images), ("rootdir", .rootdir), ("vztmpl", .vztmpl), ("iso", .iso), ("backup", .backup),
        ("snippets", .snippets), ("import", .import),
    ]

    /// The sub-directory below the storage path unless `content-dirs` overrides it.
    public var defaultSubdirectory: String {
        switch self {
        case .images: return "images"
        case .rootdir: return "private"
        case .iso: return "template/iso"
        case .vztmpl: return "template/cache"
        case .backup: return "dump"
        case .snippets: return "snippets"
        case .import: return "import"
        }
    }

    /// The name PVE uses (`content` option, volume names, messages).
    public var description: String { rawValue }

    /// In name order, as dir walks them (`sort keys`).
    public static func < (lhs: ContentType, rhs: ContentType) -> Bool { lhs.rawValue < rhs.rawValue }
    /// Every type, in order.
    public static let sorted = allCases.sorted()
}

/// The disk formats a directory storage holds.
public enum ImageFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    case raw, qcow2, vmdk, subvol

    /// The storage default when the `format` option is not set.
    public static let standard = ImageFormat.raw

    /// The name PVE and qemu-img use, which is also the file extension.
    public var description: String { rawValue }
}

/// The format of a volume (the last element of `parse_volname`'s list): a file of an
/// image format, an import source, or a disk inside an OVA archive.
public enum VolumeFormat: Hashable, Sendable, CustomStringConvertible {
    /// Images, and import files of an image format; the other content types are `raw`.
    case image(ImageFormat)
    /// An OVA archive or an OVF descriptor in the import directory.
    case ova, ovf
    /// A disk inside an OVA archive (`import/<name>.ova/<disk>`).
    case ovaMember(ImageFormat)
    /// No format: PVE 8's `rootdir/<vmid>`, a container's private directory.
    case none

    /// The image format of a file of its own: nil for import sources and OVA members.
    public var imageFormat: ImageFormat? {
        if case .image(let format) = self { return format }
        return nil
    }

    /// PVE's name: `raw`, `qcow2`, ..., `ova`, `ovf`, `ova+<format>`.
    public var description: String {
        switch self {
        case .image(let format): return format.description
        case .ova: return "ova"
        case .ovf: return "ovf"
        case .ovaMember(let format): return "ova+\(format)"
        case .none: return ""
        }
    }
}
