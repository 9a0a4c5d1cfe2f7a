import PVEStorage

/// `snapshot-as-volume-chain`: each snapshot is the former volume file
/// `snap-<name>-<volume>`, below a qcow2 overlay under the volume's name.
extension DirectoryStorage {
    /// One layer of a volume chain, newest first: `current` (the volume file), then its
    /// snapshots, as long as each backing file is a `snap-<name>-<volume>` file.
    struct ChainLayer {
        var name: String
        var file: String
        var virtualSize: Int64
    }

    /// The layers of the chain below `path`; the backing references are read from the
    /// qcow2 headers natively (dir runs `qemu-img info --backing-chain`). A snapshot layer
    /// that cannot be read breaks the chain: qemu-img's error for that file, as dir gets it
    /// (removing or moving the volume without all its layers would leave them behind).
    func volumeChain(_ path: String) throws(StorageError) -> [ChainLayer] {
        let directory = FilePath.parent(of: path)
        let volumeName = FilePath.name(of: path)
        var layers: [ChainLayer] = []
        var file = path
        var name = SnapshotNames.current
        while layers.count <= Self.maximumDisksPerGuest {
            guard let header = try qcow2Header(file) else {
                // Not a qcow2 file: a layer of its own, with nothing below it (qemu-img
                // would probe it as raw).
                let size = (try? system.status(file, followSymlinks: true).size) ?? 0
                layers.append(ChainLayer(name: name, file: file, virtualSize: ImageInspector.rawSize(size)))
                break
            }
            layers.append(ChainLayer(name: name, file: file, virtualSize: header.virtualSize))
            guard let backing = header.backingFile else { break }
            let backingName = FilePath.name(of: backing)
            guard let snapshot = Self.chainSnapshotName(backingName, volume: volumeName) else { break }
            let next = backing.hasPrefix("/") ? backing : directory + "/" + backing
            guard !layers.contains(where: { $0.file == next }) else { break }
            file = next
            name = snapshot
        }
        return layers
    }

    /// The header of a qcow2 file, nil when the file is not a qcow2 image; a failure in
    /// qemu-img's words.
    private func qcow2Header(_ file: String) throws(StorageError) -> ImageHeader? {
        let info: FileStatus
        do { info = try system.status(file, followSymlinks: true) } catch {
            throw StorageError(ImageFailure.cannotOpen(path: file, error))
        }
        do { return try QCOW2.readHeader(ImageFile(path: file, length: info.size, system: system)) } catch {
            if case .notInFormat = error { return nil }
            throw StorageError(ImageInspectionError(error, path: file))
        }
    }

    /// `<name>` of a file `snap-<name>-<volume>` (the longest such name, as dir's pattern).
    static func chainSnapshotName(_ file: String, volume: String) -> String? {
        let suffix = "-" + volume
        guard file.hasPrefix("snap-"), file.hasSuffix(suffix), file.utf8.count > 5 + suffix.utf8.count else { return nil }
        return String(file.dropFirst(5).dropLast(suffix.count))
    }

    /// `snap-<name>-<volume>` files that are the volume file itself under a second name:
    /// what a chain snapshot killed after its link and before its overlay leaves.
    func leftoverChainLinks(of path: String, own: FileStatus) -> [String] {
        let directory = FilePath.parent(of: path)
        let volumeName = FilePath.name(of: path)
        guard let entries = try? system.listDirectory(directory) else { return [] }
        return entries.compactMap(\.name).filter { Self.chainSnapshotName($0, volume: volumeName) != nil }.compactMap { name in
            let file = directory + "/" + name
            guard let info = try? system.status(file, followSymlinks: false), info.isSameFile(as: own) else { return nil }
            return file
        }
    }

    /// The external snapshot files below a volume in a chain, newest first.
    func chainSnapshotFiles(of path: String) throws(StorageError) -> [String] {
        try volumeChain(path).dropFirst().map(\.file)
    }

    /// The former volume file becomes `snap-<name>-<volume>` and a new overlay backed by it
    /// takes the volume's name. Unlike dir (rename, then create), the volume's name never
    /// goes missing: the snapshot name is a second link to the file, and the overlay,
    /// written under a temporary name, replaces the volume's name in one rename.
    func takeChainSnapshot(_ volname: String, _ name: String, path: String) throws(StorageError) {
        let (snapshotPath, _) = try filesystemPath(volname, snapshot: .named(name))
        diagnostics.print("rename \(path) to \(snapshotPath)")
        let volumeStatus: FileStatus
        do { volumeStatus = try system.status(path, followSymlinks: false) } catch {
            throw StorageError(ImageFailure.rename(from: path, to: snapshotPath, error))
        }
        if let existing = try? system.status(snapshotPath, followSymlinks: false) {
            // A link left by a snapshot that was killed before its overlay was in place.
            guard existing.isSameFile(as: volumeStatus) else { throw StorageError(SnapshotFailure.targetExists(name: name)) }
            try? system.removeFile(snapshotPath)
        }
        var linked = true
        do { try system.link(path, to: snapshotPath) } catch {
            if error == .fileExists { throw StorageError(SnapshotFailure.targetExists(name: name)) }
            guard [.operationNotPermitted, .notSupported, .notImplemented, .tooManyLinks].contains(error) else {
                throw StorageError(ImageFailure.rename(from: path, to: snapshotPath, error))
            }
            // No hard links here: dir's order, renaming the file back on failure.
            do { try system.rename(path, to: snapshotPath, replacing: false) } catch {
                if error == .fileExists { throw StorageError(SnapshotFailure.targetExists(name: name)) }
                throw StorageError(ImageFailure.rename(from: path, to: snapshotPath, error))
            }
            linked = false
        }
        do throws(StorageError) {
            try replaceWithOverlay(path, backedBy: FilePath.name(of: snapshotPath))
        } catch {
            diagnostics.warn(error.message)
            if linked {
                try? system.removeFile(snapshotPath)
            } else if (try? system.rename(snapshotPath, to: path, replacing: false)) == nil {
                diagnostics.warn("rename '\(snapshotPath)' to '\(path)' failed")
            }
            throw StorageError(SnapshotFailure.overlayNotAllocated(volname: volname, snapshot: name))
        }
    }

    /// Puts a new qcow2 overlay backed by `backing` (a file name in the same directory)
    /// in place of `path`, atomically: written under a temporary name, then renamed.
    func replaceWithOverlay(_ path: String, backedBy backing: String) throws(StorageError) {
        let preallocation = try QemuImg.preallocation(config.preallocation, format: .image(.qcow2))
        try createImage(at: path, removingEmptyDirectory: false,
                        { QemuImg.createBacked(path: $0, backing: backing, backingFormat: .image(.qcow2), layout: .extendedL2,
                                               preallocation: preallocation) },
                        publish: { temporary throws(StorageError) in
                            do throws(Errno) { try system.rename(temporary, to: path, replacing: true) } catch {
                                throw StorageError(SnapshotFailure.overlayNotMoved(path: path, error))
                            }
                        })
    }

    /// `volume_snapshot_info` of a chain: every layer, `current` first.
    func chainInfo(_ path: String, volume: VolumeName) throws(StorageError) -> [SnapshotDetails] {
        let layers = try volumeChain(path)
        let vmid = volume.vmid ?? ""
        return layers.enumerated().map { order, layer in
            var details = SnapshotDetails(name: layer.name)
            details.order = order
            details.file = layer.file
            details.volname = "\(vmid)/\(FilePath.name(of: layer.file))"
            details.volid = "\(id):\(vmid)/\(FilePath.name(of: layer.file))"
            details.virtualSize = layer.virtualSize
            details.parent = order + 1 < layers.count ? layers[order + 1].name : nil
            details.child = order > 0 ? layers[order - 1].name : nil
            return details
        }
    }

    /// `volume_snapshot_info` of a volume that takes no snapshots on a storage that keeps
    /// chains: like dir's chain of one layer, the current state only.
    func currentStateInfo(_ path: String, volname: String, volume: VolumeName) throws(StorageError) -> [SnapshotDetails] {
        let inspected: ImageMetadata?
        do { inspected = try inspector.inspect(path, format: volume.format) } catch { throw StorageError(error) }
        guard let metadata = inspected else { throw qemuImgCannotOpen(path) }
        var current = SnapshotDetails(name: SnapshotNames.current)
        current.order = 0
        current.file = path
        current.volname = volname
        current.volid = "\(id):\(volname)"
        current.virtualSize = metadata.virtualSize
        return [current]
    }

    /// A chain rolls back only to its most recent snapshot: the newer ones are added to
    /// `blockers`, oldest first, before the refusal.
    func checkChainRollback(_ volname: String, to name: String, missing: StorageError,
                            blockers: inout [String]) throws(StorageError) {
        let snapshots = try snapshotInfo(volname).filter { $0.name != SnapshotNames.current }
        guard let position = snapshots.firstIndex(where: { $0.name == name }) else { throw missing }
        // Newest first: everything before it is more recent.
        let newer = snapshots[..<position].reversed().map(\.name)
        blockers += newer
        if !newer.isEmpty { throw StorageError(SnapshotFailure.notMostRecent(name: name, volname: volname)) }
    }

    /// dir deletes the volume file, then creates the new one: here the new overlay
    /// replaces it in one rename, so a failure leaves the volume as it was.
    func rollbackChainSnapshot(_ volname: String, _ selector: SnapshotSelector, path: String) throws(StorageError) {
        let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
        let (snapshotPath, _) = try filesystemPath(volname, snapshot: .named(name))
        do throws(StorageError) {
            guard system.exists(snapshotPath) else {
                throw StorageError(SnapshotFailure.snapshotFileMissing(path: snapshotPath))
            }
            try replaceWithOverlay(path, backedBy: FilePath.name(of: snapshotPath))
        } catch {
            throw StorageError(SnapshotFailure.rollbackNotAllocated(volname: volname, underlying: error))
        }
    }

    func deleteChainSnapshot(_ volname: String, _ name: String, running: Bool) throws(StorageError) {
        // `current` is the volume file itself: qemu-server deletes it this way after
        // committing the current state into the only snapshot of a running VM, and then
        // renames that snapshot to `current`.
        let selector: SnapshotSelector = name == SnapshotNames.current ? .current : .named(name)
        let (snapshotPath, volume) = try filesystemPath(volname, snapshot: selector)
        if running {
            // QEMU already merged it (block-commit or block-stream): only the file is left.
            do { try system.removeFile(snapshotPath) } catch {
                throw StorageError(SnapshotFailure.notDeleted(name: name, volname: volname, path: snapshotPath, error))
            }
            return
        }
        let snapshots = try snapshotInfo(volname)
        guard let snapshot = snapshots.first(where: { $0.name == name }), let file = snapshot.file, system.exists(file) else {
            throw StorageError(SnapshotFailure.layerMissing(path: snapshotPath))
        }
        guard let childName = snapshot.child, let child = snapshots.first(where: { $0.name == childName }), let childFile = child.file else {
            throw StorageError(SnapshotFailure.layerMissing(path: snapshotPath))
        }
        if snapshot.parent == nil {
            // The oldest: merge its child into it, then it takes the child's place.
            diagnostics.print("\(volname): deleting snapshot '\(name)' by commiting snapshot '\(childName)'")
            diagnostics.print("running 'qemu-img commit \(childFile)'")
            do throws(StorageError) { try runQemuImg(QemuImg.commit(childFile), errorPrefix: nil) } catch {
                diagnostics.warn("The state of \(name) is now invalid. Don't try to clone or rollback it. You can only try to delete it again later")
                throw StorageError(SnapshotFailure.commitFailed(child: childName, snapshot: name, underlying: error))
            }
            diagnostics.print("rename \(file) to \(childFile)")
            do { try system.rename(file, to: childFile, replacing: true) } catch {
                throw StorageError(ImageFailure.rename(from: file, to: childFile, error))
            }
        } else {
            let parentName = snapshot.parent ?? ""
            diagnostics.print("\(volname): deleting snapshot '\(name)' by rebasing '\(childName)' on top of '\(parentName)'")
            let rebase = QemuImg.rebase(childFile, onto: "snap-\(parentName)-\(volume.name)")
            diagnostics.print("running '\(([rebase.executable] + rebase.arguments).joined(separator: " "))'")
            do throws(StorageError) { try runQemuImg(rebase, errorPrefix: nil) } catch {
                throw StorageError(SnapshotFailure.rebaseFailed(child: childName, parent: parentName, underlying: error))
            }
            do { try system.removeFile(file) } catch {
                throw StorageError(SnapshotFailure.oldVolumeNotDeleted(volname: snapshot.volname ?? name, path: file, error))
            }
        }
    }
}
