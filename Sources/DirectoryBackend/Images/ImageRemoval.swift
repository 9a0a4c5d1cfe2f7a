import PVEStorage

extension DirectoryStorage {
    /// `free_image`, for every content type: refuses a protected backup, clears the
    /// immutable flag of a template's image, removes the file (or subvol tree) and
    /// then its directory if that became empty.
    /// `format` is the caller's (nil when none or no image format): a subvol is removed as a tree.
    public func freeVolume(_ volname: String, isBase: Bool, format: ImageFormat?) throws(StorageError) {
        let (path, volume) = try filesystemPath(volname)
        if volume.vtype == .backup, system.exists(path + ".protected") {
            throw StorageError(ImageFailure.protectedVolume(volname: volname, storage: id))
        }
        if isBase {
            do { try system.setImmutable(path, false) } catch {
                diagnostics.warn("unable to clear the immutable flag of '\(path)' - \(error)")
            }
        } else if format == .subvol {
            // A container template keeps its subvol name, so PVE frees it without isBase:
            // the mark create_base set is cleared, or the template could never be removed
            // (dir leaves it behind with a warning). Elsewhere there is no mark to clear.
            try? system.setImmutable(path, false)
        }
        if format == .subvol {
            do { try system.removeTree(path) } catch {
                if error != .noSuchFileOrDirectory { diagnostics.warn("unable to remove '\(path)' - \(error)") }
            }
        } else {
            // Only a file that is not there is "already gone": a failed stat is no proof.
            let own: FileStatus?
            do { own = try system.status(path, followSymlinks: false) } catch {
                guard error == .noSuchFileOrDirectory else { throw StorageError(ImageFailure.stat(path: path, error)) }
                own = nil
            }
            guard let own, own.kind == .symlink || own.kind == .regular else {
                diagnostics.warn("disk image '\(path)' does not exist")
                return
            }
            var snapshots = config.snapshotAsVolumeChain && volume.format == .image(.qcow2)
                ? try chainSnapshotFiles(of: path) : []
            if config.snapshotAsVolumeChain, volume.format == .image(.qcow2) {
                // A second name of the volume file left by a snapshot killed before its overlay.
                snapshots += leftoverChainLinks(of: path, own: own).filter { !snapshots.contains($0) }
            }
            // Reflink snapshots go first: one left behind would belong to the next volume of this name.
            if volume.format == .image(.raw), volume.vtype == .images {
                for snapshot in try reflinkSnapshotFiles(of: path) {
                    do { try system.removeFile(snapshot.path) } catch {
                        throw StorageError(ImageFailure.unlink(path: snapshot.path, error))
                    }
                }
            }
            do { try system.removeFile(path) } catch {
                throw StorageError(ImageFailure.unlink(path: path, error))
            }
            for snapshot in snapshots.reversed() {
                do { try system.removeFile(snapshot) } catch {
                    diagnostics.warn("unlink '\(snapshot)' failed - \(error)")
                }
            }
        }
        try? system.removeDirectory(FilePath.parent(of: path))
    }
}
