import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// The snapshot methods: argument handling only; the
/// storage logic is in ``DirectoryStorage`` (Images/Snapshots.swift).
extension DirectoryPlugin {
    public func volumeSnapshot(_ arguments: VolumeSnapshotArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).takeSnapshot(arguments.volname, arguments.snap)
        return .undef
    }

    /// `{ <name> => { timestamp, virtual-size, ... } }` (see ``SnapshotDetails``).
    public func volumeSnapshotInfo(_ arguments: VolumeSnapshotInfoArguments) throws(StorageError) -> Value {
        let snapshots = try storage(arguments.storeid, arguments.scfg).snapshotInfo(arguments.volname)
        var info: [String: Value] = [:]
        for snapshot in snapshots { info[snapshot.name] = .hash(snapshot.perlHash) }
        return .hash(info)
    }

    /// 1, or the refusal after the blockers were pushed onto `$blockers`.
    public func volumeRollbackIsPossible(_ arguments: VolumeRollbackIsPossibleArguments) throws(StorageError) -> Value {
        var blockers: [String] = []
        do throws(StorageError) {
            try storage(arguments.storeid, arguments.scfg).checkRollback(arguments.volname, arguments.snap, blockers: &blockers)
        } catch {
            for blocker in blockers { call.push(.string(blocker)) }
            throw error
        }
        return 1
    }

    public func volumeSnapshotRollback(_ arguments: VolumeSnapshotRollbackArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).rollbackSnapshot(arguments.volname, arguments.snap)
        return .undef
    }

    /// 1 when QEMU already removed the internal snapshot of the running VM (as dir), else undef.
    public func volumeSnapshotDelete(_ arguments: VolumeSnapshotDeleteArguments) throws(StorageError) -> Value {
        let deferred = try storage(arguments.storeid, arguments.scfg).deleteSnapshot(
            arguments.volname, arguments.snap, running: arguments.running)
        return deferred ? 1 : .undef
    }

    /// 1, as dir returns its rename's value.
    public func renameSnapshot(_ arguments: RenameSnapshotArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).renameSnapshot(
            arguments.volname, from: arguments.sourceSnap, to: arguments.targetSnap)
        return 1
    }

    public func volumeQemuSnapshotMethod(_ arguments: VolumeQemuSnapshotMethodArguments) throws(StorageError) -> Value {
        .string(try storage("", arguments.scfg).qemuSnapshotMethod(arguments.volname).rawValue)
    }

    /// Asked per class before a running container's mount points are snapshotted: a
    /// reflink snapshot copies the file as it is, so its file system must be frozen first.
    public func volumeSnapshotNeedsFsfreeze(_ arguments: VolumeSnapshotNeedsFsfreezeArguments) throws(StorageError) -> Value { 1 }
}

extension SnapshotDetails {
    /// One snapshot's hash in `volume_snapshot_info`: only the members it has.
    public var perlHash: [String: Value] {
        var members: [String: Value] = [:]
        if let id { members["id"] = .string(id) }
        if let timestamp { members["timestamp"] = .int(timestamp) }
        if let virtualSize { members["virtual-size"] = .int(virtualSize) }
        if let file { members["file"] = .string(file) }
        if let order { members["order"] = .int(Int64(order)) }
        if let volname { members["volname"] = .string(volname) }
        if let volid { members["volid"] = .string(volid) }
        if let parent { members["parent"] = .string(parent) }
        if let child { members["child"] = .string(child) }
        return members
    }
}
