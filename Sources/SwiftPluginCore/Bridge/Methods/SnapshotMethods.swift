/// The snapshot methods: argument handling only; the
/// storage logic is in ``DirectoryStorage`` (Images/Snapshots.swift).
extension PluginMethods {
    public static func volumeSnapshot(_ arguments: VolumeSnapshotArguments, _ call: Call) throws(StorageError) -> Value {
        try call.storage(arguments.storeid, arguments.scfg).takeSnapshot(arguments.volname, arguments.snap)
        return .undef
    }

    /// `{ <name> => { timestamp, virtual-size, ... } }` (see ``SnapshotDetails``).
    public static func volumeSnapshotInfo(_ arguments: VolumeSnapshotInfoArguments, _ call: Call) throws(StorageError) -> Value {
        let snapshots = try call.storage(arguments.storeid, arguments.scfg).snapshotInfo(arguments.volname)
        var info: [String: Value] = [:]
        for snapshot in snapshots { info[snapshot.name] = .hash(snapshot.perlHash) }
        return .hash(info)
    }

    /// 1, or the refusal after the blockers were pushed onto `$blockers`.
    public static func volumeRollbackIsPossible(_ arguments: VolumeRollbackIsPossibleArguments, _ call: Call) throws(StorageError) -> Value {
        var blockers: [String] = []
        do throws(StorageError) {
            try call.storage(arguments.storeid, arguments.scfg).checkRollback(arguments.volname, arguments.snap, blockers: &blockers)
        } catch {
            for blocker in blockers { call.push(.string(blocker)) }
            throw error
        }
        return 1
    }

    public static func volumeSnapshotRollback(_ arguments: VolumeSnapshotRollbackArguments, _ call: Call) throws(StorageError) -> Value {
        try call.storage(arguments.storeid, arguments.scfg).rollbackSnapshot(arguments.volname, arguments.snap)
        return .undef
    }

    /// 1 when QEMU already removed the internal snapshot of the running VM (as dir), else undef.
    public static func volumeSnapshotDelete(_ arguments: VolumeSnapshotDeleteArguments, _ call: Call) throws(StorageError) -> Value {
        let deferred = try call.storage(arguments.storeid, arguments.scfg).deleteSnapshot(
            arguments.volname, arguments.snap, running: arguments.running)
        return deferred ? 1 : .undef
    }

    /// 1, as dir returns its rename's value.
    public static func renameSnapshot(_ arguments: RenameSnapshotArguments, _ call: Call) throws(StorageError) -> Value {
        try call.storage(arguments.storeid, arguments.scfg).renameSnapshot(
            arguments.volname, from: arguments.sourceSnap, to: arguments.targetSnap)
        return 1
    }

    public static func volumeQemuSnapshotMethod(_ arguments: VolumeQemuSnapshotMethodArguments, _ call: Call) throws(StorageError) -> Value {
        .string(try call.storage("", arguments.scfg).qemuSnapshotMethod(arguments.volname).rawValue)
    }

    /// Asked per class before a running container's mount points are snapshotted: a
    /// reflink snapshot copies the file as it is, so its file system must be frozen first.
    public static func volumeSnapshotNeedsFsfreeze(_ arguments: VolumeSnapshotNeedsFsfreezeArguments, _ call: Call) throws(StorageError) -> Value { 1 }
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
