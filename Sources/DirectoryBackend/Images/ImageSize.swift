import PVEStorage

extension DirectoryStorage {
    /// `volume_size_info` in list form: (size, format, used, parent, ctime), or nil
    /// (with a warning) when the file is missing.
    public func volumeSizeInfo(_ volname: String) throws(StorageError) -> ImageMetadata? {
        let (path, volume) = try filesystemPath(volname)
        do { return try inspector.inspect(path, format: volume.format) } catch { throw StorageError(error) }
    }

    /// `volume_resize` to `size` bytes (raw and qcow2 only); nothing to do while the VM
    /// runs (QEMU resizes the image itself). Returns whether it deferred to QEMU.
    public func resizeVolume(_ volname: String, size: Scalar, running: Bool, snapshot: SnapshotSelector, className: String) throws(StorageError) -> Bool {
        guard volname.hasSuffix(".raw") || volname.hasSuffix(".qcow2") else { throw StorageError(ImageFailure.resizeUnsupportedFormat) }
        if running { return true }
        if !config.snapshotAsVolumeChain, snapshot.isTrue {
            throw StorageError(ImageFailure.snapshotResize(className: className))
        }
        let (path, volume) = try filesystemPath(volname, snapshot: snapshot)
        // PVE 8's dir resizes without a preallocation mode.
        let preallocation = host == .pve8 ? nil : try QemuImg.preallocation(config.preallocation, format: volume.format)
        guard let bytes = size.text, PerlString.isDigits(bytes.utf8) else { throw StorageError(ImageFailure.invalidSize(shown: size.printable)) }
        try runQemuImg(QemuImg.resize(path: path, format: volume.format, size: bytes, preallocation: preallocation), errorPrefix: nil)
        return false
    }
}
