import PVEStorage

/// A failure of `activate_storage`.
public enum ActivationFailure: StorageFailure {
    /// The storage must sit on a mount point (`is_mountpoint`) that is not mounted.
    case notMounted(storage: String, mountPoint: String)
    case baseDirectoryNotCreated(path: String, Errno)
    /// The storage path is no directory, or did not answer in time.
    case unreachable(storage: String, path: String)
    /// Two content types resolve to the same directory.
    case sharedDirectory(storage: String, directory: String)
    /// Creating a content type's directory failed; permission errors add a hint.
    case contentDirectoryNotCreated(directory: String, content: ContentType, Errno)

    public var errno: Errno? {
        switch self {
        case .baseDirectoryNotCreated(_, let errno), .contentDirectoryNotCreated(_, _, let errno): errno
        case .notMounted, .unreachable, .sharedDirectory: nil
        }
    }

    public var description: String {
        switch self {
        case .notMounted(let storage, let mountPoint):
            "unable to activate storage '\(storage)' - directory is expected to be a mount point but is not mounted: '\(mountPoint)'"
        case .baseDirectoryNotCreated(let path, let errno):
            "unable to create storage directory '\(path)' - \(errno)"
        case .unreachable(let storage, let path):
            "unable to activate storage '\(storage)' - directory '\(path)' does not exist or is unreachable"
        case .sharedDirectory(let storage, let directory):
            "storage '\(storage)' uses directory \(directory) for multiple content types"
        case .contentDirectoryNotCreated(let directory, let content, let errno):
            "failed to create content directory '\(directory)' for content '\(content)' - mkdir \(directory): \(errno)"
                + (errno == .permissionDenied || errno == .readOnlyFileSystem
                    ? " - ensure that you have read and write access to your storage!" : "")
        }
    }
}

/// A failure of the storage's identity (`get_identity`).
public enum StorageIdentityFailure: StorageFailure {
    /// Writing or publishing the identity file failed.
    case notCreated(file: String, Errno)
    /// Reading the identity file failed; without an errno, it was gone after another
    /// node or process published it.
    case unreadable(file: String, Errno?)
    /// The identity file holds no UUID.
    case invalid(file: String)
    /// Reading `/dev/urandom` failed; without an errno, it returned too few bytes.
    case randomUnreadable(Errno?)

    public var errno: Errno? {
        switch self {
        case .notCreated(_, let errno): errno
        case .unreadable(_, let errno), .randomUnreadable(let errno): errno
        case .invalid: nil
        }
    }

    public var description: String {
        switch self {
        case .notCreated(let file, let errno): "unable to create storage identity '\(file)' - \(errno)"
        case .unreadable(let file, nil): "unable to read storage identity '\(file)'"
        case .unreadable(let file, let errno?): "unable to read storage identity '\(file)' - \(errno)"
        case .invalid(let file): "invalid storage identity in '\(file)'"
        case .randomUnreadable(nil): "unable to read /dev/urandom"
        case .randomUnreadable(let errno?): "unable to read /dev/urandom - \(errno)"
        }
    }
}
