import PVEStorage

extension DirectoryStorage {
    /// `rename_volume`: moves an image to `targetVMID` (under `targetName`, or the next
    /// free name), never replacing a volume. Returns the new volid (with the storage ID).
    public func renameVolume(_ volname: String, targetVMID: String, targetName requested: String?) throws(StorageError) -> String {
        guard config.path != nil else { throw StorageError("no path found") }
        let (sourcePath, volume) = try filesystemPath(volname)
        if config.snapshotAsVolumeChain, volume.format == .image(.qcow2), try !chainSnapshotFiles(of: sourcePath).isEmpty {
            throw StorageError("we can't rename volume if a snapshot backed by a volume-chain exists")
        }
        var name = requested ?? ""
        if name.isEmpty { name = try findFreeDiskname(vmid: targetVMID, format: FormatName(volume.format), addFormatSuffix: true) }
        guard volume.vtype == .images else {
            // dir renames `images/<vmid>/<name>` whatever the volume is: for a backup, ISO,
            // snippet or import file there is no such file, and it fails with this message.
            // The volume itself is never moved (a protected backup into images/, as before).
            let images = try subdirectory(for: .images)
            let target = try imageDirectory(vmid: targetVMID) + "/" + name
            throw StorageError("rename '\(images)/\(volume.vmid ?? "")/\(volume.name)' to '\(target)' failed - \(Errno.noSuchFileOrDirectory)",
                               errno: .noSuchFileOrDirectory)
        }
        // The target becomes a path component: it must be an image file name.
        _ = try VolumeName.parseImageFile(name, for: host)
        let directory = try imageDirectory(vmid: targetVMID)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError("mkdir \(directory): \(error)", errno: error)
        }
        let targetPath = directory + "/" + name
        let exists = StorageError("target volume '\(name)' already exists")
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
                if error == .fileExists { throw StorageError("target volume '\(FilePath.name(of: target))' already exists") }
                throw StorageError("rename '\(snapshot.path)' to '\(target)' failed - \(error)", errno: error)
            }
            moved.append((snapshot.path, target))
        }
        do { try system.rename(sourcePath, to: targetPath, replacing: false) } catch {
            moveBack()
            if error == .fileExists { throw exists }
            throw StorageError("rename '\(sourcePath)' to '\(targetPath)' failed - \(error)", errno: error)
        }
        let base = volume.baseName.map { "\(volume.baseVMID ?? "")/\($0)/" } ?? ""
        return "\(id):\(base)\(targetVMID)/\(name)"
    }
}
