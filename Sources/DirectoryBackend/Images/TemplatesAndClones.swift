import PVEStorage

/// Templates (`create_base`) and linked clones of their images (`clone_image`).
extension DirectoryStorage {
    /// `create_base`: renames `vm-…` to `base-…` (other names, such as a container's
    /// `subvol-…` directory, stay as they are), makes it read-only and, where the file
    /// system allows, immutable. Returns the new volume name.
    public func createBase(_ volname: String) throws(StorageError) -> String {
        _ = try basePath()
        let (path, volume) = try filesystemPath(volname)
        guard volume.vtype == .images else { throw StorageError(TemplateFailure.baseOfWrongType(volume.vtype)) }
        guard !volume.isBase else { throw StorageError(TemplateFailure.alreadyBase) }
        if volume.format == .image(.raw) {
            // A template has no snapshots: they would stay behind under the old name.
            let snapshots = try reflinkSnapshotFiles(of: path)
            guard snapshots.isEmpty else {
                throw StorageError(TemplateFailure.hasSnapshots(volname: volname, snapshots: snapshots.map(\.name)))
            }
        }
        let inspected: ImageMetadata?
        do { inspected = try inspector.inspect(path, format: volume.format) } catch { throw StorageError(error) }
        guard let metadata = inspected, metadata.virtualSize != nil else {
            throw StorageError(TemplateFailure.sizeUnknown(volname: volname))
        }
        if let baseName = volume.baseName, let baseVMID = volume.baseVMID, metadata.backingFile != "../\(baseVMID)/\(baseName)" {
            throw StorageError(TemplateFailure.wrongParent(volname: volname))
        }
        let newName = volume.name.hasPrefix("vm-") ? "base-" + volume.name.dropFirst(3) : volume.name
        let vmid = volume.vmid ?? ""
        let newVolname = volume.baseName.map { "\(volume.baseVMID ?? "")/\($0)/\(vmid)/\(newName)" } ?? "\(vmid)/\(newName)"
        let (newPath, _) = try filesystemPath(newVolname)
        let exists = StorageError(ImageFailure.fileExists(path: newPath))
        if (try? system.status(newPath, followSymlinks: true))?.kind == .regular { throw exists }
        // A subvol keeps its name (only vm- becomes base-): dir's rename onto itself
        // succeeds and the directory becomes the template as it is.
        if newPath != path {
            do { try system.rename(path, to: newPath, replacing: false) } catch {
                if error == .fileExists { throw exists }
                throw StorageError(ImageFailure.rename(from: path, to: newPath, error))
            }
        }
        try? system.setMode(newPath, 0o444)
        do { try system.setImmutable(newPath, true) } catch {
            diagnostics.warn("unable to set the immutable flag of '\(newPath)' - \(error)")
        }
        return newVolname
    }

    /// `clone_image`: a linked clone of a template's image for `vmid`, a qcow2 overlay
    /// whose backing file is `../<basevmid>/<basename>`. Returns its volume name.
    public func cloneImage(_ volname: String, vmid: String, snapshot: SnapshotSelector) throws(StorageError) -> String {
        _ = try basePath()
        let volume = try VolumeName.parse(volname, for: host)
        guard volume.vtype == .images else { throw StorageError(TemplateFailure.cloneOfWrongType(volume.vtype)) }
        if snapshot.isTrue { throw StorageError(TemplateFailure.cloneOfSnapshot) }
        if volume.format == .image(.subvol) {
            throw StorageError(TemplateFailure.cloneOfSubvolume)
        }
        guard volume.isBase else { throw StorageError(TemplateFailure.cloneOfNonBase) }
        let baseName = volume.name
        let baseVMID = volume.vmid ?? ""
        let directory = try imageDirectory(vmid: vmid)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError(ImageFailure.mkdir(path: directory, error))
        }
        let name = try findFreeDiskname(vmid: vmid, format: .known(.qcow2), addFormatSuffix: true)
        diagnostics.warn("clone \(volname): images, \(name), \(vmid) to \(name) (base=../\(baseVMID)/\(baseName))")
        let newVolname = "\(baseVMID)/\(baseName)/\(vmid)/\(name)"
        let path = directory + "/" + name
        let preallocation = try QemuImg.preallocation(config.preallocation, format: volume.format)
        try createImage(at: path, removingEmptyDirectory: false,
                        { QemuImg.createBacked(path: $0, backing: "../\(baseVMID)/\(baseName)", backingFormat: volume.format,
                                               layout: host.backedImageOptions,
                                               preallocation: preallocation) },
                        publish: { temporary throws(StorageError) in
                            try publish(temporary, as: path, exists: StorageError(ImageFailure.imageExists(path: path)))
                        })
        return newVolname
    }
}
