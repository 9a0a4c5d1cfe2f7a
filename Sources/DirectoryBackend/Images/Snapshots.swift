import PVEStorage

/// What a volume's snapshot is, by its format and the storage.
public enum SnapshotKind: Equatable, Sendable {
    /// qcow2 internal snapshots, made with `qemu-img snapshot` (`dir`'s default).
    case internalQCOW2
    /// `snapshot-as-volume-chain`: each snapshot is the former volume file
    /// `snap-<name>-<volume>`, below a new qcow2 overlay under the volume's name.
    case volumeChain
    /// A raw image on a file system that shares extents: `<volume>@<name>`, a reflink copy.
    case reflink
}

/// How QEMU takes a snapshot of the volume of a running VM (`volume_qemu_snapshot_method`).
public enum QEMUSnapshotMethod: String, Sendable {
    case qemu, storage, mixed
}

/// One snapshot of a volume, as `volume_snapshot_info` reports it.
public struct SnapshotDetails: Equatable, Sendable {
    public var name: String
    /// When it was taken (internal and reflink snapshots).
    public var timestamp: Int64?
    /// Reflink snapshots: what tells this snapshot from another of the same name, equal on a replica.
    public var id: String?
    /// The disk's size in the snapshot.
    public var virtualSize: Int64?
    /// Volume chains and reflink snapshots: the file that holds it.
    public var file: String?
    /// Volume chains: 0 for `current`, one more for each older layer.
    public var order: Int?
    /// Volume chains: `<vmid>/<file name>` and the volid, and the neighbouring layers.
    public var volname: String?
    public var volid: String?
    public var parent: String?
    public var child: String?

    public init(name: String) { self.name = name }
}

/// Snapshot names as PVE's own callers pass them: the API's names (a letter, then
/// letters, digits, `-` and `_`), and also those PVE gives itself without the API's
/// check (`__replicate_<job>_<time>__`, `__migration__`, `vzdump`). The names become
/// parts of file names (`snap-<name>-<volume>`, `<volume>@<name>`), so only what could
/// break that layout is refused: an empty or overlong name, `/`, `..`, and control
/// characters (which also break PVE's line-based guest configuration and logs).
public enum SnapshotNames {
    /// In bytes: with the volume's own name it stays within a file name's 255 bytes.
    public static let maximumLength = 128
    /// The name of a volume's current state in a volume chain.
    public static let current = "current"

    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") { return false }
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    /// `name` when valid; the error names it (shortened, control characters escaped).
    public static func validated(_ name: String) throws(StorageError) -> String {
        guard isValid(name) else {
            throw StorageError(SnapshotFailure.invalidName(name))
        }
        return name
    }

    /// The name of a new snapshot: valid, and not the reserved `current`.
    static func forNewSnapshot(_ selector: SnapshotSelector) throws(StorageError) -> String {
        guard case .named(let name) = selector else {
            if selector == .current { throw StorageError(SnapshotFailure.reservedName) }
            throw StorageError(SnapshotFailure.missingName)
        }
        return try validated(name)
    }

    /// A snapshot asked for by name (rollback, delete, rename): `missing snapname` when none.
    static func requested(_ selector: SnapshotSelector) throws(StorageError) -> String {
        guard let name = selector.name else {
            if selector == .current { return current }
            throw StorageError(SnapshotFailure.missingName)
        }
        return name
    }
}

/// The snapshot methods: each picks the volume's kind of snapshot and hands over to
/// that kind's file (InternalSnapshots, ChainSnapshots, ReflinkSnapshots).
extension DirectoryStorage {
    // MARK: - Kinds

    /// The kind of snapshot the volume takes, nil when it takes none (`dir`'s refusal).
    func snapshotKind(of volume: VolumeName) throws(StorageError) -> SnapshotKind? {
        switch volume.format {
        case .image(.qcow2):
            return config.snapshotAsVolumeChain ? .volumeChain : .internalQCOW2
        case .image(.raw) where volume.vtype == .images:
            return supportsReflinks() ? .reflink : nil
        default:
            return nil
        }
    }

    /// The kind of an existing snapshot `selector` of the volume at `path`: as the volume
    /// takes them, or a reflink snapshot whose file is there although the probe cannot
    /// say so now (a full disk, a file system that lost reflinks): rolling back or
    /// deleting it then fails with the real reason, or needs no reflink at all.
    func snapshotKind(of volume: VolumeName, path: String, existing selector: SnapshotSelector) throws(StorageError) -> SnapshotKind? {
        if let kind = try snapshotKind(of: volume) { return kind }
        guard volume.format == .image(.raw), volume.vtype == .images, let name = selector.name,
              SnapshotNames.isValid(name), system.exists(Self.reflinkSnapshotPath(path, name))
        else { return nil }
        return .reflink
    }

    /// The volume a snapshot method works on. A name that is no volume is refused as dir
    /// refuses it, by its extension before any parsing (`refusal`, the method's message),
    /// unless it names a qcow2 file, whose parse error is the answer.
    private func snapshotVolume(_ volname: String, refusal: SnapshotFailure) throws(StorageError) -> VolumeName {
        do { return try VolumeName.parse(volname, for: host) } catch {
            guard volname.hasSuffix(".qcow2") || volname.hasSuffix(".qed") else { throw StorageError(refusal) }
            throw error
        }
    }

    // MARK: - volume_snapshot

    /// `volume_snapshot`: takes snapshot `selector` of the volume.
    public func takeSnapshot(_ volname: String, _ selector: SnapshotSelector) throws(StorageError) {
        let volume = try snapshotVolume(volname, refusal: .cannotSnapshotFormat)
        guard let kind = try snapshotKind(of: volume) else { throw StorageError(SnapshotFailure.cannotSnapshotFormat) }
        let name = try SnapshotNames.forNewSnapshot(selector)
        let (path, _) = try filesystemPath(volname)
        switch kind {
        case .internalQCOW2:
            try takeInternalSnapshot(name, path: path)
        case .volumeChain:
            try takeChainSnapshot(volname, name, path: path)
        case .reflink:
            try takeReflinkSnapshot(volname, name, path: path)
        }
    }

    // MARK: - volume_snapshot_info

    /// `volume_snapshot_info`: the volume's snapshots (for a chain, `current` too).
    public func snapshotInfo(_ volname: String) throws(StorageError) -> [SnapshotDetails] {
        let (path, volume) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume)
        if kind == .volumeChain { return try chainInfo(path, volume: volume) }
        if config.snapshotAsVolumeChain, kind == nil, volume.vtype == .images, volume.format != .image(.subvol) {
            return try currentStateInfo(path, volname: volname, volume: volume)
        }
        if volume.format == .image(.raw), volume.vtype == .images {
            // Listed even where reflinks stopped working: they are there to be deleted.
            return try reflinkSnapshotInfo(path)
        }
        guard system.exists(path) else { throw qemuImgCannotOpen(path) }
        guard volume.format == .image(.qcow2) else { return [] }
        return try internalSnapshotInfo(path)
    }

    /// qemu-img's message for a volume file that is not there.
    func qemuImgCannotOpen(_ path: String) -> StorageError {
        StorageError(ImageFailure.cannotOpen(path: path, .noSuchFileOrDirectory))
    }

    // MARK: - Rollback

    /// `volume_rollback_is_possible`: in a chain only to the most recent snapshot (the
    /// newer ones are added to `blockers`, oldest first, before the refusal); a reflink
    /// snapshot must exist. Internal snapshots can always be rolled back to, as in dir.
    public func checkRollback(_ volname: String, _ selector: SnapshotSelector, blockers: inout [String]) throws(StorageError) {
        let volume: VolumeName
        do { volume = try VolumeName.parse(volname, for: host) } catch {
            // dir answers without looking at the name unless it keeps volume chains.
            if config.snapshotAsVolumeChain { throw error }
            return
        }
        let name = selector.name ?? (selector == .current ? SnapshotNames.current : "")
        let missing = StorageError(SnapshotFailure.rollbackTargetMissing(name: name, volname: volname))
        let (path, _) = try filesystemPath(volname)
        switch try snapshotKind(of: volume, path: path, existing: selector) {
        case .volumeChain:
            try checkChainRollback(volname, to: name, missing: missing, blockers: &blockers)
        case .reflink:
            guard SnapshotNames.isValid(name), system.exists(Self.reflinkSnapshotPath(path, name)) else { throw missing }
        case nil where config.snapshotAsVolumeChain:
            // dir's chain of a volume without snapshots has no such snapshot.
            throw missing
        case .internalQCOW2, nil:
            return
        }
    }

    /// `volume_snapshot_rollback`.
    public func rollbackSnapshot(_ volname: String, _ selector: SnapshotSelector) throws(StorageError) {
        let volume = try snapshotVolume(volname, refusal: .cannotRollbackFormat)
        let (path, _) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume, path: path, existing: selector)
        guard let kind, kind == .reflink || volume.format == .image(.qcow2) else {
            throw StorageError(SnapshotFailure.cannotRollbackFormat)
        }
        switch kind {
        case .internalQCOW2:
            try rollbackInternalSnapshot(selector, path: path)
        case .volumeChain:
            try rollbackChainSnapshot(volname, selector, path: path)
        case .reflink:
            try rollbackReflinkSnapshot(volname, selector, path: path)
        }
    }

    // MARK: - Delete

    /// `volume_snapshot_delete`. Returns true when there was nothing to do because QEMU
    /// removed the internal snapshot of the running VM itself (dir returns 1 then).
    public func deleteSnapshot(_ volname: String, _ selector: SnapshotSelector, running: Bool) throws(StorageError) -> Bool {
        let volume = try snapshotVolume(volname, refusal: .cannotDeleteFormat)
        let (path, _) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume, path: path, existing: selector)
        guard volume.format == .image(.qcow2) || kind == .reflink else {
            throw StorageError(SnapshotFailure.cannotDeleteFormat)
        }
        if kind == .reflink {
            try deleteReflinkSnapshot(volname, selector, path: path)
            return false
        }
        if kind == .internalQCOW2 {
            if running { return true }
            try deleteInternalSnapshot(selector, path: path)
            return false
        }
        try deleteChainSnapshot(volname, try SnapshotNames.validated(try SnapshotNames.requested(selector)), running: running)
        return false
    }

    // MARK: - Rename

    /// `rename_snapshot`: renames the files of a snapshot (in a chain, `current` is the
    /// volume file itself). Internal snapshots live in the volume file, so their target
    /// always exists, as in dir.
    public func renameSnapshot(_ volname: String, from source: SnapshotSelector, to target: SnapshotSelector) throws(StorageError) {
        let volume = try VolumeName.parse(volname, for: host)
        if try snapshotKind(of: volume) == .reflink, source == .current || target == .current {
            throw StorageError(SnapshotFailure.currentOfRawVolume)
        }
        if case .named(let name) = target { _ = try SnapshotNames.validated(name) }
        let (sourcePath, _) = try filesystemPath(volname, snapshot: source)
        let (targetPath, _) = try filesystemPath(volname, snapshot: target)
        diagnostics.print("rename \(sourcePath) to \(targetPath)")
        let targetName = target.name ?? (target == .current ? SnapshotNames.current : "")
        guard !system.exists(targetPath) else { throw StorageError(SnapshotFailure.targetExists(name: targetName)) }
        do { try system.rename(sourcePath, to: targetPath, replacing: false) } catch {
            if error == .fileExists { throw StorageError(SnapshotFailure.targetExists(name: targetName)) }
            throw StorageError(ImageFailure.rename(from: sourcePath, to: targetPath, error))
        }
    }

    /// `volume_qemu_snapshot_method`: QEMU snapshots qcow2 itself (`mixed` in a chain:
    /// the storage renames the files); everything else is the storage's.
    public func qemuSnapshotMethod(_ volname: String) throws(StorageError) -> QEMUSnapshotMethod {
        let volume = try VolumeName.parse(volname, for: host)
        guard volume.format == .image(.qcow2) else { return .storage }
        return config.snapshotAsVolumeChain ? .mixed : .qemu
    }
}
