import PVEStorage

/// How taking, listing, rolling back, renaming or deleting a snapshot failed (internal,
/// volume-chain and reflink snapshots alike); the file operations behind them fail
/// as ``ImageFailure``s.
public enum SnapshotFailure: StorageFailure {
    // MARK: Names
    /// A name ``SnapshotNames`` refuses (shown shortened, control characters escaped).
    case invalidName(String)
    /// `current` asked for as a new snapshot's name.
    case reservedName
    /// No snapshot name given (`missing snapname`).
    case missingName

    // MARK: Formats
    /// `volume_snapshot` of a volume that takes no snapshots.
    case cannotSnapshotFormat
    /// `volume_snapshot_rollback` of a volume that takes no snapshots.
    case cannotRollbackFormat
    /// `volume_snapshot_delete` of a volume that takes no snapshots.
    case cannotDeleteFormat
    /// A reflink volume's current state renamed (or another snapshot renamed to it).
    case currentOfRawVolume

    // MARK: Existence
    /// `snapshot '<name>' already exists on '<volname>'`.
    case exists(name: String, volname: String)
    /// `target snapshot '<name>' already exists`.
    case targetExists(name: String)
    /// `snapshot '<name>' does not exist on '<volname>'`.
    case missing(name: String, volname: String)
    /// The snapshot to roll back to does not exist.
    case rollbackTargetMissing(name: String, volname: String)
    /// A chain rolls back only to its most recent snapshot.
    case notMostRecent(name: String, volname: String)
    /// A layer of a chain, or the volume file of a snapshot, is missing (`path` is the snapshot's file).
    case layerMissing(path: String)
    /// The chain snapshot file a rollback would put an overlay on is missing.
    case snapshotFileMissing(path: String)

    // MARK: Volume chains
    /// The overlay on top of the new snapshot `snapshot` could not be put in place.
    case overlayNotAllocated(volname: String, snapshot: String)
    /// The new overlay could not be renamed to `path`.
    case overlayNotMoved(path: String, Errno)
    /// The overlay of a rollback could not be made.
    case rollbackNotAllocated(volname: String, underlying: StorageError)
    /// `qemu-img commit` of `child` into the oldest snapshot `snapshot` failed.
    case commitFailed(child: String, snapshot: String, underlying: StorageError)
    /// `qemu-img rebase` of `child` onto `parent` failed.
    case rebaseFailed(child: String, parent: String, underlying: StorageError)
    /// The merged snapshot's file (`volname`, `path`) could not be removed.
    case oldVolumeNotDeleted(volname: String, path: String, Errno)

    // MARK: Deleting, listing
    /// Unlinking snapshot `name`'s file `path` failed.
    case notDeleted(name: String, volname: String, path: String, Errno)
    /// The directory of the volume at `path` could not be listed for its reflink snapshots.
    case notListed(path: String, Errno)
    /// A reflink snapshot file's id attribute could not be read.
    case identityUnreadable(path: String, Errno)

    public var errno: Errno? {
        switch self {
        case .overlayNotMoved(_, let errno), .oldVolumeNotDeleted(_, _, let errno), .notDeleted(_, _, _, let errno),
             .notListed(_, let errno), .identityUnreadable(_, let errno):
            errno
        default:
            nil
        }
    }

    public var description: String {
        switch self {
        case .invalidName(let name):
            let shown = name.count > 60 ? String(name.prefix(60)) + "..." : name
            return "invalid snapshot name '\(DirectoryStorage.escapingControls(shown))' - it must be 1 to "
                + "\(SnapshotNames.maximumLength) bytes long, without '/', '..' or control characters"
        case .reservedName: return "snapshot name 'current' is reserved for the current state of a volume"
        case .missingName: return "missing snapname"
        case .cannotSnapshotFormat: return "can't snapshot this image format"
        case .cannotRollbackFormat: return "can't rollback snapshot this image format"
        case .cannotDeleteFormat: return "can't delete snapshot for this image format"
        case .currentOfRawVolume: return "the current state of a raw volume cannot be renamed"
        case .exists(let name, let volname): return "snapshot '\(name)' already exists on '\(volname)'"
        case .targetExists(let name): return "target snapshot '\(name)' already exists"
        case .missing(let name, let volname): return "snapshot '\(name)' does not exist on '\(volname)'"
        case .rollbackTargetMissing(let name, let volname): return "can't rollback, snapshot '\(name)' does not exist on '\(volname)'"
        case .notMostRecent(let name, let volname): return "can't rollback, '\(name)' is not most recent snapshot on '\(volname)'"
        case .layerMissing(let path): return "volume \(path) is missing"
        case .snapshotFileMissing(let path): return "unable to create image: snapshot file '\(path)' does not exist"
        case .overlayNotAllocated(let volname, let snapshot): return "can't allocate new volume \(volname) with \(snapshot) backing image"
        case .overlayNotMoved(let path, let errno): return "cannot move the new overlay to '\(path)' - \(errno)"
        case .rollbackNotAllocated(let volname, let underlying): return "can't allocate new volume \(volname): \(underlying.message)"
        case .commitFailed(let child, let snapshot, let underlying): return "error commiting \(child) to \(snapshot); \(underlying.message)"
        case .rebaseFailed(let child, let parent, let underlying): return "error rebase \(child) from \(parent); \(underlying.message)"
        case .oldVolumeNotDeleted(let volname, let path, let errno):
            return "error delete old snapshot volume \(volname): unlink '\(path)' failed - \(errno)"
        case .notDeleted(let name, let volname, let path, let errno):
            return "can't delete snapshot \(name) of volume \(volname): unlink '\(path)' failed - \(errno)"
        case .notListed(let path, let errno): return "unable to list the snapshots of '\(path)' - \(errno)"
        case .identityUnreadable(let path, let errno): return "cannot read the id of snapshot file '\(path)' - \(errno)"
        }
    }
}
