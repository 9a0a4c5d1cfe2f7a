import PVEStorage

/// `alloc_image`, and the creation of an image under a temporary name that it and
/// the other creators share.
extension DirectoryStorage {
    /// `alloc_image`: creates a `format` image of `sizeKiB` KiB (a directory for subvol)
    /// and returns `<vmid>/<name>`. The file appears under its name only when complete.
    /// A format this storage does not hold fails as in dir: its name is no image name.
    public func allocateImage(vmid: String, format requested: FormatName<ImageFormat>, name requestedName: String?,
                              sizeKiB: Scalar) throws(StorageError) -> String {
        let directory = try imageDirectory(vmid: vmid)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError(ImageFailure.mkdir(path: directory, error))
        }
        var name = requestedName ?? ""
        if name.isEmpty { name = try findFreeDiskname(vmid: vmid, format: requested, addFormatSuffix: true) }
        let parsed = try VolumeName.parseImageFile(name, for: host)
        guard let format = requested.format, parsed.format == format else {
            throw StorageError(ImageFailure.wrongExtension(name: name, format: parsed.format, requested: requested))
        }
        let path = directory + "/" + name
        let exists = StorageError(ImageFailure.imageExists(path: path))
        guard (try? system.status(path, followSymlinks: false)) == nil else { throw exists }
        try refuseLeftoverSnapshots(at: path)

        if format == .subvol {
            guard (sizeKiB.integer ?? (sizeKiB.isTrue ? 1 : 0)) == 0 else { throw StorageError(ImageFailure.subvolQuota) }
            do {
                try system.makeDirectory(path, mode: 0o755)
                try system.setMode(path, 0o755)
            } catch {
                throw StorageError(ImageFailure.subvolNotCreated(path: path, error))
            }
            return "\(vmid)/\(name)"
        }

        let preallocation = try QemuImg.preallocation(config.preallocation, format: .image(format))
        let size = sizeKiB.text ?? ""
        // A C string would end at the NUL: "1024\0" must not allocate 1024 KiB.
        guard !size.utf8.contains(0) else { throw StorageError(ImageFailure.invalidSize(shown: Self.escapingControls(size))) }
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
        do throws(StorageError) {
            var create = command(temporary)
            create.removeWhenInterrupted = [temporary]
            try runQemuImg(create, errorPrefix: "unable to create image", naming: TemporaryName(temporary: temporary, final: path))
            try publish(temporary)
        } catch {
            try? system.removeFile(temporary)
            if removingEmptyDirectory { try? system.removeDirectory(directory) }
            throw error
        }
    }

    /// A new, empty hidden temporary file in the image's directory (never listed, same
    /// file system for the rename), created exclusively under an unpredictable name that
    /// nothing planted can redirect (see ``Temporaries``); qemu-img then writes into it.
    func newTemporary(in directory: String, removingEmpty: Bool) throws(StorageError) -> String {
        // qemu-img fills it as if it had created it: 0644 less the daemon's umask, as with dir.
        do { return try system.createTemporaryFile(in: directory, mode: 0o644, applyingUmask: true) } catch {
            if removingEmpty { try? system.removeDirectory(directory) }
            throw StorageError(ImageFailure.newImageTemporary(directory: directory, error))
        }
    }

    /// Moves a finished file to its final name, never replacing what is there.
    func publish(_ temporary: String, as path: String, exists: StorageError) throws(StorageError) {
        do { try system.rename(temporary, to: path, replacing: false) } catch {
            if error == .fileExists { throw exists }
            throw StorageError(ImageFailure.newImageNotMoved(path: path, error))
        }
    }
}
