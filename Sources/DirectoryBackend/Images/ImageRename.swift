import PVEStorage

extension DirectoryStorage {
    /// `rename_volume`: moves an image to `targetVMID` (under `targetName`, or the next
    /// free name), never replacing a volume. Returns the new volid (with the storage ID).
    public func renameVolume(_ volname: String, targetVMID: String, targetName requested: String?) throws(StorageError) -> String {
        guard config.path != nil else { throw StorageError(ImageFailure.noPath) }
        let (sourcePath, volume) = try filesystemPath(volname)
        if config.snapshotAsVolumeChain, volume.format == .image(.qcow2), try !chainSnapshotFiles(of: sourcePath).isEmpty {
            throw StorageError(ImageFailure.renameWithChainSnapshots)
        }
        var name = requested ?? ""
        if name.isEmpty { name = try findFreeDiskname(vmid: targetVMID, format: FormatName(volume.format), addFormatSuffix: true) }
        guard volume.vtype == .images else {
            // dir renames `images/<vmid>/<name>` whatever the volume is: for a backup, ISO,
            // snippet or import file there is no such file, and it fails with this message.
            // The volume itself is never moved (a protected backup into images/, as before).
            let images = try subdirectory(for: .images)
            let target = try imageDirectory(vmid: targetVMID) + "/" + name
            throw StorageError(ImageFailure.rename(from: "\(images)/\(volume.vmid ?? "")/\(volume.name)", to: target,
                                                   .noSuchFileOrDirectory))
        }
        // The target becomes a path component: it must be an image file name.
        _ = try VolumeName.parseImageFile(name, for: host)
        let directory = try imageDirectory(vmid: targetVMID)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError(ImageFailure.mkdir(path: directory, error))
        }
        let targetPath = directory + "/" + name
        let exists = StorageError(ImageFailure.targetVolumeExists(name: name))
        if system.exists(targetPath) { throw exists }
        try refuseLeftoverSnapshots(at: targetPath)
        // A raw volume's reflink snapshots move first, and back if the volume cannot follow.
        let snapshots = volume.format == .image(.raw) ? try reflinkSnapshotFiles(of: sourcePath) : []
        var moved: [(from: String, to: String)] = []
        func moveBack() { for move in moved.reversed() { try? system.rename(move.to, to: move.from, replacing: false) } }
        for snapshot in snapshots {
            let target = Self.reflinkSnapshotPath(targetPath, snapshot.name)
            do { try system.rename(snapshot.path, to: target, replacing: false) } catch {
                moveBack()
                if error == .fileExists { throw StorageError(ImageFailure.targetVolumeExists(name: FilePath.name(of: target))) }
                throw StorageError(ImageFailure.rename(from: snapshot.path, to: target, error))
            }
            moved.append((snapshot.path, target))
        }
        do { try system.rename(sourcePath, to: targetPath, replacing: false) } catch {
            moveBack()
            if error == .fileExists { throw exists }
            throw StorageError(ImageFailure.rename(from: sourcePath, to: targetPath, error))
        }
        let base = volume.baseName.map { "\(volume.baseVMID ?? "")/\($0)/" } ?? ""
        return "\(id):\(base)\(targetVMID)/\(name)"
    }
}
