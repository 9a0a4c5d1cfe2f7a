/// The content types ("vtypes") of a directory storage and where each lives.
public enum ContentType: String, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case images, rootdir, vztmpl, iso, backup, snippets, `import`

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
}

/// The disk formats a directory storage holds.
public enum ImageFormat: String, CaseIterable, Sendable {
    case raw, qcow2, vmdk, subvol

    /// The storage default when the `format` option is not set.
    public static let standard = ImageFormat.raw
}
