import PVEStorage

/// One entry of `list_images`.
public struct ImageInfo: Equatable, Sendable {
    public var volid: String
    /// The format by extension; nil when the file is not in that format (listed as `invalid`).
    public var format: ImageFormat?
    /// Virtual size in bytes.
    public var size: Int64
    /// The owner: the name of the `images/<vmid>` directory, as a string.
    public var vmid: String
    /// Bytes allocated on disk.
    public var used: Int64
    /// The backing file as recorded in the image (linked clones).
    public var parent: String?
    public var changeTime: Int64
}

/// Guest images in `images/<vmid>/`: listing, naming, allocation, templates, linked
/// clones, resizing and removal, with `dir`'s behaviour and messages.
extension DirectoryStorage {
    /// PVE's limit of disks per guest and storage.
    public static let maximumDisksPerGuest = 1024

    var inspector: ImageInspector { ImageInspector(system: system, diagnostics: diagnostics) }

    /// `<images dir>/<vmid>`, refusing a VMID that is not a number (it becomes a path component).
    func imageDirectory(vmid: String) throws(StorageError) -> String {
        guard Grammar.isDigits(vmid.utf8) else { throw StorageError("VMID '\(vmid)' contains illegal characters") }
        return try subdirectory(for: .images) + "/" + vmid
    }

    // MARK: - Listing

    /// `list_images`: the images of one owner (or all), or only those in `volumes`.
    ///
    /// Like dir's glob, a directory or file that cannot be read is left out of the list;
    /// `strict` (for choosing a free name) makes that an error instead, so that a
    /// transient I/O error cannot hand out a disk number that is taken.
    public func listImages(vmid: String?, volumes: [String]?, strict: Bool = false) throws(StorageError) -> [ImageInfo] {
        let imagesDirectory = try subdirectory(for: .images)
        func entries(_ directory: String, _ listing: Result<[DirectoryEntry], Errno>) throws(StorageError) -> [String] {
            switch listing {
            case .success(let entries): return entries.compactMap(\.name)
            case .failure(let error):
                guard strict, error != .noSuchFileOrDirectory else { return [] }
                throw StorageError("unable to list images in '\(directory)' - \(error)", errno: error)
            }
        }
        // In the order of Perl's glob, which dir lists with.
        let owners = GlobOrder.sorted(try entries(imagesDirectory, system.listDirectoryResult(imagesDirectory))
            .filter { $0.utf8.count >= 2 && Grammar.isDigits($0.utf8) })
            .filter { volumes != nil || vmid == nil || $0 == vmid }
        // The owners' directories are listed in one batch (concurrently on a network file system).
        let listings = system.listDirectories(owners.map { imagesDirectory + "/" + $0 })
        var candidates: [(directory: String, owner: String, name: String, format: ImageFormat)] = []
        for (owner, listing) in zip(owners, listings) {
            let directory = imagesDirectory + "/" + owner
            let names = GlobOrder.sorted(try entries(directory, listing).filter { !$0.hasPrefix(".") })
            for name in names {
                guard let format = Grammar.imageFormat(Array(name.utf8)),
                      (try? VolumeName.parseImageFile(name, for: host)) != nil
                else { continue }
                candidates.append((directory, owner, name, format))
            }
        }
        // Every image's status and header are looked up in one batch (concurrently on a
        // network file system); then each is inspected in order, as one at a time.
        let probes = system.probeFiles(candidates.map { candidate in
            FileProbeRequest(path: candidate.directory + "/" + candidate.name, followSymlinks: true,
                             headBytes: candidate.format == .qcow2 || candidate.format == .vmdk ? Self.probedHeaderBytes : 0)
        })
        var images: [ImageInfo] = []
        for (index, candidate) in candidates.enumerated() {
            let (directory, owner, name, format) = candidate
            if let image = try listedImage(directory: directory, owner: owner, name: name, format: format, probe: probes[index]),
               volumes.map({ $0.contains(image.volid) }) ?? true {
                images.append(image)
            } else if strict, !system.isGone(directory + "/" + name) {
                // There, but unreadable: its name is taken all the same.
                images.append(ImageInfo(volid: "\(id):\(owner)/\(name)", format: format, size: 0, vmid: owner,
                                        used: 0, parent: nil, changeTime: 0))
            }
        }
        return images
    }

    /// How much of a qcow2 or vmdk file a listing reads at once: the header, its
    /// extensions and the backing file's name of an image qemu-img wrote.
    static let probedHeaderBytes = 4096

    private func listedImage(directory: String, owner: String, name: String, format: ImageFormat,
                             probe: FileProbe? = nil) throws(StorageError) -> ImageInfo? {
        let path = directory + "/" + name
        var reported: ImageFormat? = format
        var metadata: ImageMetadata?
        do throws(ImageInspectionError) {
            do {
                metadata = try inspector.inspect(path, format: .image(format), probe: probe)
            } catch where error.kind == .wrongFormat {
                diagnostics.warn("image '\(path)' is not in expected format '\(format)', querying as raw")
                metadata = try inspector.inspect(path, format: .image(.raw), probe: probe)
                reported = nil
            }
        } catch {
            throw error.storageError
        }
        guard let metadata, let size = metadata.virtualSize else { return nil }
        var volid = "\(id):\(owner)/\(name)"
        if let parent = metadata.backingFile, let base = Self.linkedBase(parent) {
            volid = "\(id):\(base.vmid)/\(base.name)/\(owner)/\(name)"
        }
        return ImageInfo(volid: volid, format: reported, size: size, vmid: owner, used: metadata.allocatedSize ?? 0,
                         parent: metadata.backingFile, changeTime: metadata.changeTime)
    }

    /// The base of a linked clone from its backing file `../<vmid>/<name>.<fmt>`. As in
    /// PVE, the two leading characters are not checked to be dots.
    static func linkedBase(_ parent: String) -> (vmid: String, name: String)? {
        let characters = Array(parent)
        guard characters.count > 3, characters[0] != "\n", characters[1] != "\n", characters[2] == "/" else { return nil }
        let rest = String(characters[3...])
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, Grammar.isDigits(parts[0].utf8), !parts[1].contains("\n"),
              Grammar.imageFormat(Array(parts[1].utf8)) != nil
        else { return nil }
        return (String(parts[0]), String(parts[1]))
    }


    // MARK: - Names

    /// `find_free_diskname`: the first `vm-<vmid>-disk-<n>` (or `subvol-…`) that no image
    /// of the VMID uses, whatever its extension (dir holds subvols, see §9.5).
    public func findFreeDiskname(vmid: String, format: FormatName<ImageFormat>, addFormatSuffix: Bool) throws(StorageError) -> String {
        _ = try imageDirectory(vmid: vmid)
        var used = Set(try listImages(vmid: vmid, volumes: nil, strict: true).compactMap { Self.diskNumber(in: $0.volid, vmid: vmid) })
        // Reflink snapshots whose volume is gone (a killed free or rename) keep their number taken.
        if let entries = try? system.listDirectory(try imageDirectory(vmid: vmid)) {
            for entry in entries.compactMap(\.name) {
                guard let at = entry.firstIndex(of: "@"), let number = Self.diskNumber(in: String(entry[..<at]), vmid: vmid) else { continue }
                used.insert(number)
            }
        }
        let prefix = format == .known(.subvol) ? "subvol" : "vm"
        let suffix = addFormatSuffix ? ".\(format)" : ""
        for number in 0..<Self.maximumDisksPerGuest where !used.contains(String(number)) {
            return "\(prefix)-\(vmid)-disk-\(number)\(suffix)"
        }
        throw StorageError("unable to allocate an image name for VM \(vmid) in storage '\(id)'")
    }

    /// The digits after the first `(vm|base|subvol|basevol)-<vmid>-disk-` in `volid`, as written.
    static func diskNumber(in volid: String, vmid: String) -> String? {
        let bytes = Array(volid.utf8)
        let patterns = ["vm", "base", "subvol", "basevol"].map { Array("\($0)-\(vmid)-disk-".utf8) }
        for start in bytes.indices {
            for pattern in patterns where bytes[start...].starts(with: pattern) {
                let digits = bytes[(start + pattern.count)...].prefix { (0x30...0x39).contains($0) }
                if !digits.isEmpty { return String(decoding: digits, as: UTF8.self) }
            }
        }
        return nil
    }

    // MARK: - Allocation

    /// `alloc_image`: creates a `format` image of `sizeKiB` KiB (a directory for subvol)
    /// and returns `<vmid>/<name>`. The file appears under its name only when complete.
    /// A format this storage does not hold fails as in dir: its name is no image name.
    public func allocateImage(vmid: String, format requested: FormatName<ImageFormat>, name requestedName: String?,
                              sizeKiB: Scalar) throws(StorageError) -> String {
        let directory = try imageDirectory(vmid: vmid)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError("mkdir \(directory): \(error)", errno: error)
        }
        var name = requestedName ?? ""
        if name.isEmpty { name = try findFreeDiskname(vmid: vmid, format: requested, addFormatSuffix: true) }
        let parsed = try VolumeName.parseImageFile(name, for: host)
        guard let format = requested.format, parsed.format == format else {
            throw StorageError("illegal name '\(name)' - wrong extension for format ('\(parsed.format) != '\(requested)')")
        }
        let path = directory + "/" + name
        let exists = StorageError("disk image '\(path)' already exists")
        guard (try? system.status(path, followSymlinks: false)) == nil else { throw exists }
        try refuseLeftoverSnapshots(at: path)

        if format == .subvol {
            guard (sizeKiB.integer ?? (sizeKiB.isTrue ? 1 : 0)) == 0 else { throw StorageError("storage does not support subvol quotas") }
            do {
                try system.makeDirectory(path, mode: 0o755)
                try system.setMode(path, 0o755)
            } catch {
                throw StorageError("unable to create subvol '\(path)' - \(error)", errno: error)
            }
            return "\(vmid)/\(name)"
        }

        let preallocation = try QemuImg.preallocation(config.preallocation, format: .image(format))
        let size = sizeKiB.text ?? ""
        // A C string would end at the NUL: "1024\0" must not allocate 1024 KiB.
        guard !size.utf8.contains(0) else { throw StorageError("invalid size '\(Self.escapingControls(size))'") }
        try createImage(at: path, removingEmptyDirectory: true,
                        { QemuImg.create(format: format, path: $0, sizeKiB: size, preallocation: preallocation) },
                        publish: { temporary throws(StorageError) in try publish(temporary, as: path, exists: exists) })
        return "\(vmid)/\(name)"
    }

    /// Creates an image with qemu-img under a hidden temporary name in `path`'s directory
    /// and moves it to `path` with `publish`. On failure the temporary is removed (with
    /// `removingEmptyDirectory`, the directory too when empty); the error and the warnings
    /// qemu-img produced name `path`, never the temporary.
    func createImage(at path: String, removingEmptyDirectory: Bool, _ command: (String) -> Command,
                     publish: (String) throws(StorageError) -> Void) throws(StorageError) {
        let directory = FilePath.parent(of: path)
        system.reclaimStaleTemporaries(in: directory)
        let temporary = try newTemporary(in: directory, removingEmpty: removingEmptyDirectory)
        let mark = diagnostics.mark
        defer { diagnostics.replace(temporary, with: path, since: mark) }
        do throws(StorageError) {
            var create = command(temporary)
            create.removeWhenInterrupted = [temporary]
            try runQemuImg(create, errorPrefix: "unable to create image")
            try publish(temporary)
        } catch {
            try? system.removeFile(temporary)
            if removingEmptyDirectory { try? system.removeDirectory(directory) }
            throw error.naming(path, insteadOf: temporary)
        }
    }

    /// A new, empty hidden temporary file in the image's directory (never listed, same
    /// file system for the rename), created exclusively under an unpredictable name that
    /// nothing planted can redirect (see ``Temporaries``); qemu-img then writes into it.
    func newTemporary(in directory: String, removingEmpty: Bool) throws(StorageError) -> String {
        // qemu-img fills it as if it had created it: 0644 less the daemon's umask, as with dir.
        do { return try system.createTemporaryFile(in: directory, mode: 0o644, applyingUmask: true) } catch {
            if removingEmpty { try? system.removeDirectory(directory) }
            throw StorageError("unable to create image: cannot create a temporary file in '\(directory)' - \(error)", errno: error)
        }
    }

    /// `text` with control characters as `\xNN`, for messages.
    static func escapingControls(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16)
                result += "\\x" + (hex.count == 1 ? "0" : "") + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Moves a finished file to its final name, never replacing what is there.
    func publish(_ temporary: String, as path: String, exists: StorageError) throws(StorageError) {
        do { try system.rename(temporary, to: path, replacing: false) } catch {
            if error == .fileExists { throw exists }
            throw StorageError("unable to create image: cannot move the new image to '\(path)' - \(error)", errno: error)
        }
    }

    // MARK: - Removal

    /// `free_image`, for every content type: refuses a protected backup, clears the
    /// immutable flag of a template's image, removes the file (or subvol tree) and
    /// then its directory if that became empty.
    /// `format` is the caller's (nil when none or no image format): a subvol is removed as a tree.
    public func freeVolume(_ volname: String, isBase: Bool, format: ImageFormat?) throws(StorageError) {
        let (path, volume) = try filesystemPath(volname)
        if volume.vtype == .backup, system.exists(path + ".protected") {
            throw StorageError("cannot remove protected volume '\(volname)' on '\(id)'")
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
                guard error == .noSuchFileOrDirectory else { throw StorageError("stat '\(path)' failed - \(error)", errno: error) }
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
                        throw StorageError("unlink '\(snapshot.path)' failed - \(error)", errno: error)
                    }
                }
            }
            do { try system.removeFile(path) } catch {
                throw StorageError("unlink '\(path)' failed - \(error)", errno: error)
            }
            for snapshot in snapshots.reversed() {
                do { try system.removeFile(snapshot) } catch {
                    diagnostics.warn("unlink '\(snapshot)' failed - \(error)")
                }
            }
        }
        try? system.removeDirectory(FilePath.parent(of: path))
    }

    // MARK: - Size

    /// `volume_size_info` in list form: (size, format, used, parent, ctime), or nil
    /// (with a warning) when the file is missing.
    public func volumeSizeInfo(_ volname: String) throws(StorageError) -> ImageMetadata? {
        let (path, volume) = try filesystemPath(volname)
        do { return try inspector.inspect(path, format: volume.format) } catch { throw error.storageError }
    }

    /// `volume_resize` to `size` bytes (raw and qcow2 only); nothing to do while the VM
    /// runs (QEMU resizes the image itself). Returns whether it deferred to QEMU.
    public func resizeVolume(_ volname: String, size: Scalar, running: Bool, snapshot: SnapshotSelector, className: String) throws(StorageError) -> Bool {
        guard volname.hasSuffix(".raw") || volname.hasSuffix(".qcow2") else { throw StorageError("can't resize this image format") }
        if running { return true }
        if !config.snapshotAsVolumeChain, snapshot.isTrue {
            throw StorageError("resizing a snapshot is not supported for \(className) without 'snapshot-as-volume-chain'")
        }
        let (path, volume) = try filesystemPath(volname, snapshot: snapshot)
        // PVE 8's dir resizes without a preallocation mode.
        let preallocation = host == .pve8 ? nil : try QemuImg.preallocation(config.preallocation, format: volume.format)
        guard let bytes = size.text, Grammar.isDigits(bytes.utf8) else { throw StorageError("invalid size '\(size.printable)'") }
        try runQemuImg(QemuImg.resize(path: path, format: volume.format, size: bytes, preallocation: preallocation), errorPrefix: nil)
        return false
    }

    // MARK: - Templates and linked clones

    /// `create_base`: renames `vm-…` to `base-…` (other names, such as a container's
    /// `subvol-…` directory, stay as they are), makes it read-only and, where the file
    /// system allows, immutable. Returns the new volume name.
    public func createBase(_ volname: String) throws(StorageError) -> String {
        _ = try basePath()
        let (path, volume) = try filesystemPath(volname)
        guard volume.vtype == .images else { throw StorageError("create_base on wrong vtype '\(volume.vtype)'") }
        guard !volume.isBase else { throw StorageError("create_base not possible with base image") }
        if volume.format == .image(.raw) {
            // A template has no snapshots: they would stay behind under the old name.
            let snapshots = try reflinkSnapshotFiles(of: path)
            guard snapshots.isEmpty else {
                throw StorageError("create_base not possible while '\(volname)' has snapshots ("
                    + snapshots.map { "'\($0.name)'" }.joined(separator: ", ") + "); delete them first")
            }
        }
        let inspected: ImageMetadata?
        do { inspected = try inspector.inspect(path, format: volume.format) } catch { throw error.storageError }
        guard let metadata = inspected, metadata.virtualSize != nil else {
            throw StorageError("file_size_info on '\(volname)' failed")
        }
        if let baseName = volume.baseName, let baseVMID = volume.baseVMID, metadata.backingFile != "../\(baseVMID)/\(baseName)" {
            throw StorageError("volname '\(volname)' contains wrong information about parent")
        }
        let newName = volume.name.hasPrefix("vm-") ? "base-" + volume.name.dropFirst(3) : volume.name
        let vmid = volume.vmid ?? ""
        let newVolname = volume.baseName.map { "\(volume.baseVMID ?? "")/\($0)/\(vmid)/\(newName)" } ?? "\(vmid)/\(newName)"
        let (newPath, _) = try filesystemPath(newVolname)
        let exists = StorageError("file '\(newPath)' already exists")
        if (try? system.status(newPath, followSymlinks: true))?.kind == .regular { throw exists }
        // A subvol keeps its name (only vm- becomes base-): dir's rename onto itself
        // succeeds and the directory becomes the template as it is.
        if newPath != path {
            do { try system.rename(path, to: newPath, replacing: false) } catch {
                if error == .fileExists { throw exists }
                throw StorageError("rename '\(path)' to '\(newPath)' failed - \(error)", errno: error)
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
        guard volume.vtype == .images else { throw StorageError("clone_image on wrong vtype '\(volume.vtype)'") }
        if snapshot.isTrue { throw StorageError("this storage type does not support clone_image on snapshot") }
        if volume.format == .image(.subvol) {
            throw StorageError("this storage type does not support clone_image on subvolumes")
        }
        guard volume.isBase else { throw StorageError("clone_image only works on base images") }
        let baseName = volume.name
        let baseVMID = volume.vmid ?? ""
        let directory = try imageDirectory(vmid: vmid)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError("mkdir \(directory): \(error)", errno: error)
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
                            try publish(temporary, as: path, exists: StorageError("disk image '\(path)' already exists"))
                        })
        return newVolname
    }

    // MARK: - Renaming

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

    // MARK: - Activation and QEMU

    /// `activate_volume`: the volume (or snapshot) must exist.
    public func activateVolume(_ volname: String, snapshot: SnapshotSelector) throws(StorageError) {
        let (path, _) = try filesystemPath(volname, snapshot: snapshot)
        guard system.exists(path) else { throw StorageError("volume '\(id):\(volname)' does not exist") }
    }

    /// `qemu_blockdev_options`: QEMU's protocol node for the volume's file.
    public func blockdevOptions(_ volname: String, snapshot: SnapshotSelector) throws(StorageError) -> BlockdevOptions {
        let (path, volume) = try filesystemPath(volname, snapshot: snapshot)
        if snapshot.isTrue, volume.format == .image(.qcow2), !config.snapshotAsVolumeChain {
            throw StorageError("cannot attach only the snapshot of a '\(volume.format)' image")
        }
        let info: FileStatus
        do { info = try system.status(path, followSymlinks: true) } catch {
            throw StorageError("stat for '\(path)' failed - \(error)", errno: error)
        }
        let device = info.kind == .blockDevice || info.kind == .characterDevice
        return BlockdevOptions(driver: device ? .hostDevice : .file, filename: path)
    }
}

/// QEMU's protocol node for a volume's file (`-blockdev driver=...,filename=...`).
public struct BlockdevOptions: Equatable, Sendable {
    public enum Driver: String, Sendable {
        case file
        case hostDevice = "host_device"
    }

    public var driver: Driver
    public var filename: String
}

extension StorageError {
    /// The error with a temporary file's path replaced by the final one, so that messages
    /// name the volume the user asked for.
    func naming(_ path: String, insteadOf temporary: String) -> StorageError {
        StorageError(message.replacingText(temporary, with: path), errno: errno)
    }
}

extension Diagnostics {
    /// Rewrites the warnings and output lines since `mark` with `text` replaced (a
    /// temporary's path by the final one).
    func replace(_ text: String, with replacement: String, since mark: Mark) {
        rewrite(since: mark) { $0.replacingText(text, with: replacement) }
    }
}

extension String {
    /// Every occurrence of `pattern` (byte for byte) replaced by `replacement`.
    func replacingText(_ pattern: String, with replacement: String) -> String {
        let source = Array(utf8)
        let bytes = Array(pattern.utf8)
        guard !bytes.isEmpty else { return self }
        var result: [UInt8] = []
        var index = 0
        while index < source.count {
            if source[index...].starts(with: bytes) {
                result += replacement.utf8
                index += bytes.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
