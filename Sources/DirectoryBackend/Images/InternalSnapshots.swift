import PVEStorage

/// qcow2 internal snapshots (`dir`'s default): made, applied and deleted by
/// `qemu-img snapshot`, listed from the image's snapshot table natively.
extension DirectoryStorage {
    func takeInternalSnapshot(_ name: String, path: String) throws(StorageError) {
        try runQemuImg(QemuImg.snapshot(.create, name, path: path), errorPrefix: nil)
    }

    func rollbackInternalSnapshot(_ selector: SnapshotSelector, path: String) throws(StorageError) {
        try runQemuImg(QemuImg.snapshot(.apply, try SnapshotNames.requested(selector), path: path), errorPrefix: nil)
    }

    func deleteInternalSnapshot(_ selector: SnapshotSelector, path: String) throws(StorageError) {
        try runQemuImg(QemuImg.snapshot(.delete, try SnapshotNames.requested(selector), path: path), errorPrefix: nil)
    }

    /// `volume_snapshot_info` of a qcow2 image: its snapshot table.
    func internalSnapshotInfo(_ path: String) throws(StorageError) -> [SnapshotDetails] {
        let snapshots: [QCOW2.Snapshot]
        do {
            let info = try system.status(path, followSymlinks: true)
            snapshots = try QCOW2.readSnapshots(ImageFile(path: path, length: info.size, system: system))
        } catch let error as ImageFormatError {
            throw StorageError(ImageInspectionError(error, path: path))
        } catch {
            throw StorageError(ImageFailure.informationUnavailable)
        }
        return snapshots.map { snapshot in
            var details = SnapshotDetails(name: snapshot.name)
            details.timestamp = Int64(snapshot.dateSeconds)
            details.virtualSize = snapshot.virtualSize
            return details
        }
    }
}
