import PVEStorage

import Synchronization

/// Whether a directory's file system can share extents (`FICLONE`), probed once per
/// directory and process with two throw-away files; only a definite answer is kept.
enum ReflinkSupport {
    /// Answers by directory, for the life of the process.
    static let known = Mutex<[String: Bool]>([:])

    static func isSupported(in directory: String, system: any SystemCalls) -> Bool {
        if let answer = known.withLock({ $0[directory] }) { return answer }
        guard let answer = probe(directory, system) else { return false }
        known.withLock { $0[directory] = answer }
        return answer
    }

    /// True or false when the file system answered; nil when the probe itself failed
    /// (no directory yet, a full disk): asked again next time.
    private static func probe(_ directory: String, _ system: any SystemCalls) -> Bool? {
        guard let source = try? system.createTemporaryFile(in: directory, contents: [UInt8](repeating: 0x5A, count: 4096), mode: 0o600)
        else { return nil }
        defer { try? system.removeFile(source) }
        guard let target = try? system.createTemporaryFile(in: directory, mode: 0o600) else { return nil }
        defer { try? system.removeFile(target) }
        do {
            try system.cloneFile(source, into: target)
            return true
        } catch {
            let refusals: [Errno] = [.notSupported, .crossDevice, .invalidArgument, .notTypewriter, .notImplemented]
            return refusals.contains(error) ? false : nil
        }
    }
}

/// Raw images' snapshots on a file system that shares extents: `<volume>@<name>`, a
/// reflink copy of the volume file.
extension DirectoryStorage {
    /// Whether raw images of this storage can have reflink snapshots.
    /// Probed in the images directory, or in the storage's own while that does not exist
    /// yet (a new node's storage, the target of a first replication).
    public func supportsReflinks() -> Bool {
        guard let directory = try? subdirectory(for: .images) else { return false }
        if !system.isDirectory(directory), let base = try? basePath(), system.isDirectory(base) {
            return ReflinkSupport.isSupported(in: base, system: system)
        }
        return ReflinkSupport.isSupported(in: directory, system: system)
    }

    /// The file of a raw volume's reflink snapshot.
    static func reflinkSnapshotPath(_ path: String, _ name: String) -> String { path + "@" + name }

    /// Refuses a new raw volume (or a new name for one) at `path` while reflink snapshots
    /// of that name are there (left by a killed operation or outside PVE): the volume
    /// would inherit them, and a rollback would bring back another disk's data.
    func refuseLeftoverSnapshots(at path: String) throws(StorageError) {
        guard path.hasSuffix(".\(ImageFormat.raw)") else { return }
        let leftovers = try reflinkSnapshotFiles(of: path)
        guard leftovers.isEmpty else {
            throw StorageError(ImageFailure.leftoverSnapshots(path: path, files: leftovers.map(\.path)))
        }
    }

    /// The reflink snapshots of a raw volume at `path` (files `<name>@<snapshot>`), by name.
    /// A directory that cannot be read is an error: removing or moving a volume without
    /// its snapshots would leave them to the next volume of that name.
    func reflinkSnapshotFiles(of path: String) throws(StorageError) -> [(name: String, path: String)] {
        let prefix = FilePath.name(of: path) + "@"
        let directory = FilePath.parent(of: path)
        let entries: [DirectoryEntry]
        do { entries = try system.listDirectory(directory) } catch {
            if error == .noSuchFileOrDirectory { return [] }
            throw StorageError(SnapshotFailure.notListed(path: path, error))
        }
        return entries.compactMap(\.name).filter { $0.hasPrefix(prefix) }.compactMap { entry in
            let name = String(entry.dropFirst(prefix.count))
            return SnapshotNames.isValid(name) ? (name, directory + "/" + entry) : nil
        }.sorted { $0.name < $1.name }
    }

    /// A reflink copy under `<volume>@<name>`, published by a rename once complete.
    func takeReflinkSnapshot(_ volname: String, _ name: String, path: String) throws(StorageError) {
        let snapshotPath = Self.reflinkSnapshotPath(path, name)
        let exists = StorageError(SnapshotFailure.exists(name: name, volname: volname))
        guard system.isGone(snapshotPath) else { throw exists }
        let identity = SnapshotIdentity.new(at: system.currentTime())
        try reflinkCopy(of: path, to: snapshotPath, replacing: false, exists: exists) { temporary in
            // Without user attributes the snapshot still works; it is then identified by its inode.
            try? system.setExtendedAttribute(SnapshotIdentity.attribute, of: temporary, to: identity.encoded)
        }
    }

    /// The identity of a reflink snapshot file (``SnapshotIdentity``): its attribute, or
    /// the fallback when it has none (or the file system keeps none, or it is not an
    /// identity). An attribute that cannot be read now is an error: another id would be
    /// sent, and kept by the replica for good.
    func reflinkSnapshotIdentity(_ snapshotPath: String, status: FileStatus) throws(StorageError) -> SnapshotIdentity {
        let value: [UInt8]?
        do { value = try system.extendedAttribute(SnapshotIdentity.attribute, of: snapshotPath) } catch {
            guard error == .notSupported else {
                throw StorageError(SnapshotFailure.identityUnreadable(path: snapshotPath, error))
            }
            value = nil
        }
        return value.flatMap(SnapshotIdentity.init(encoded:)) ?? .fallback(for: status)
    }

    /// Clones `source` into a temporary in the target's directory, with the source's
    /// permissions, and renames it to `target`: the target is the old file or the complete copy.
    func reflinkCopy(of source: String, to target: String, replacing: Bool, exists: StorageError,
                     beforePublishing prepare: (String) throws(StorageError) -> Void = { _ in }) throws(StorageError) {
        let directory = FilePath.parent(of: target)
        let info: FileStatus
        do { info = try system.status(source, followSymlinks: false) } catch {
            throw StorageError(ImageFailure.stat(path: source, error))
        }
        guard info.kind == .regular else { throw StorageError(ImageFailure.notRegularFile(path: source)) }
        let temporary: String
        do { temporary = try system.createTemporaryFile(in: directory, mode: 0o600) } catch {
            throw StorageError(ImageFailure.temporaryNotCreated(directory: directory, error))
        }
        do throws(StorageError) {
            do { try system.cloneFile(source, into: temporary) } catch {
                throw StorageError(ImageFailure.reflinkCopy(source: source, error))
            }
            try? system.setMode(temporary, info.mode & 0o777)
            try prepare(temporary)
            do { try system.rename(temporary, to: target, replacing: replacing) } catch {
                if error == .fileExists { throw exists }
                throw StorageError(ImageFailure.renameInto(path: target, error))
            }
        } catch {
            try? system.removeFile(temporary)
            throw error
        }
    }

    /// `volume_snapshot_info` of a raw volume: its reflink snapshot files.
    func reflinkSnapshotInfo(_ path: String) throws(StorageError) -> [SnapshotDetails] {
        var snapshots: [SnapshotDetails] = []
        for snapshot in try reflinkSnapshotFiles(of: path) {
            guard let info = try? system.status(snapshot.path, followSymlinks: false) else { continue }
            let identity = try reflinkSnapshotIdentity(snapshot.path, status: info)
            var details = SnapshotDetails(name: snapshot.name)
            details.id = identity.id
            details.timestamp = identity.timestamp
            details.virtualSize = info.size
            details.file = snapshot.path
            snapshots.append(details)
        }
        return snapshots
    }

    /// Copies the snapshot back over the volume file (a reflink again).
    func rollbackReflinkSnapshot(_ volname: String, _ selector: SnapshotSelector, path: String) throws(StorageError) {
        let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
        let snapshotPath = Self.reflinkSnapshotPath(path, name)
        guard system.exists(snapshotPath) else {
            throw StorageError(SnapshotFailure.rollbackTargetMissing(name: name, volname: volname))
        }
        try reflinkCopy(of: snapshotPath, to: path, replacing: true, exists: StorageError(ImageFailure.volumeExists(path: path)))
    }

    func deleteReflinkSnapshot(_ volname: String, _ selector: SnapshotSelector, path: String) throws(StorageError) {
        let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
        let snapshotPath = Self.reflinkSnapshotPath(path, name)
        do { try system.removeFile(snapshotPath) } catch {
            if error == .noSuchFileOrDirectory { throw StorageError(SnapshotFailure.missing(name: name, volname: volname)) }
            throw StorageError(SnapshotFailure.notDeleted(name: name, volname: volname, path: snapshotPath, error))
        }
    }
}
