import PVEStorage

/// A failure of the storage's path or of a content type's directory (`get_subdir`).
public enum StorageLocationFailure: StorageFailure {
    /// The storage definition has no path.
    case noPath
    case notAbsolute(path: String)
    /// A new storage's path has characters or a form `dir` does not accept.
    case illegalPath(String)
    /// A content type name that has no directory.
    case unknownContentType(name: String)

    public var description: String {
        switch self {
        case .noPath: "storage definition has no path"
        case .notAbsolute(let path): "storage path '\(path)' is not an absolute path"
        case .illegalPath(let path): "illegal path for directory storage: \(path)"
        case .unknownContentType(let name): "unknown vtype '\(name)'"
        }
    }
}

/// A failure parsing a volume name or an image's file name.
public enum VolumeNameFailure: StorageFailure {
    /// No rule of the host's directory storage parses the volume name.
    case unparsable(volname: String)
    /// An image file name that is an external snapshot's (`snap-*.qcow2`).
    case snapshotFileName(String)
    /// An image file name no image rule parses.
    case unparsableFileName(String)

    public var description: String {
        switch self {
        case .unparsable(let volname): "unable to parse directory volume name '\(volname)'"
        case .snapshotFileName(let name): "'\(name)' is a snapshot filename, not a volume!"
        case .unparsableFileName(let name): "unable to parse volume filename '\(name)'"
        }
    }
}
