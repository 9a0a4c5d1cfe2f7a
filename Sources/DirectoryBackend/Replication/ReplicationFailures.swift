import PVEStorage

/// Why sending or receiving a replication stream (`raw+size` with snapshots) failed,
/// beyond what every export or import can fail with (``ExportFailure``, ``ImportFailure``).
public enum ReplicationFailure: StorageFailure {
    /// The snapshot to send is an empty file.
    case emptySnapshot(name: String, volname: String)
    /// The snapshot to send (or its base) does not exist.
    case snapshotMissing(name: String, volname: String)
    /// The snapshot's file is not a regular file, or its status cannot be read.
    case unusableSnapshotFile(path: String, Errno)
    /// The snapshot's file shrank while it was sent.
    case changedDuringExport(path: String)
    /// The stream carries another snapshot than the one asked for.
    case snapshotMismatch(carried: String, requested: String)
    case snapshotExists(name: String, volname: String)
    /// The base of an incremental stream is not on this storage.
    case baseSnapshotMissing(name: String, volname: String, Errno)
    /// This storage's snapshot of the base's name is another snapshot than the stream's base.
    case notTheBase(name: String, volname: String, localID: String, streamID: String)
    /// Reflinking the base into the new volume failed.
    case reflinkCopy(path: String, Errno)
    /// An incremental stream arrived without a base snapshot to apply it to.
    case incrementalWithoutBase
    /// A full stream arrived where an incremental one from `base` was expected.
    case notIncremental(base: String)
    /// The new snapshot's id cannot be recorded (an extended attribute).
    case recordIdentity(snapshot: String, Errno)
    /// The stream itself was refused.
    case stream(ReplicationStreamError)

    public var errno: Errno? {
        switch self {
        case .snapshotMissing: .noSuchFileOrDirectory
        case .unusableSnapshotFile(_, let errno), .baseSnapshotMissing(_, _, let errno), .reflinkCopy(_, let errno),
             .recordIdentity(_, let errno):
            errno
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .emptySnapshot(let name, let volname): "export: snapshot '\(name)' of '\(volname)' is empty"
        case .snapshotMissing(let name, let volname): "export: snapshot '\(name)' of '\(volname)' does not exist"
        case .unusableSnapshotFile(let path, let errno): "export: '\(path)' is not a usable snapshot file - \(errno)"
        case .changedDuringExport(let path): "export: '\(path)' changed during the export"
        case .snapshotMismatch(let carried, let requested): "import: the stream carries snapshot '\(carried)', not '\(requested)'"
        case .snapshotExists(let name, let volname): "snapshot '\(name)' already exists on '\(volname)'"
        case .baseSnapshotMissing(let name, let volname, _):
            "import: base snapshot '\(name)' of '\(volname)' does not exist on this storage"
        case .notTheBase(let name, let volname, let localID, let streamID):
            "import: snapshot '\(name)' of '\(volname)' is not the stream's base (id \(localID) here, \(streamID) in the stream)"
        case .reflinkCopy(let path, let errno): "import: reflink copy of '\(path)' failed - \(errno)"
        case .incrementalWithoutBase: "import: the stream is incremental, but no base snapshot was given"
        case .notIncremental(let base): "import: the stream is a full one, not incremental from '\(base)'"
        case .recordIdentity(let snapshot, let errno): "import: cannot record the id of snapshot '\(snapshot)' - \(errno)"
        case .stream(let refusal): "import: \(refusal)"
        }
    }
}
