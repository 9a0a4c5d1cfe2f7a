import PVEStorage

/// `activate_volume` and QEMU's view of a volume's file.
extension DirectoryStorage {
    /// `activate_volume`: the volume (or snapshot) must exist.
    public func activateVolume(_ volname: String, snapshot: SnapshotSelector) throws(StorageError) {
        let (path, _) = try filesystemPath(volname, snapshot: snapshot)
        guard system.exists(path) else { throw StorageError(ImageFailure.volumeMissing(storage: id, volname: volname)) }
    }

    /// `qemu_blockdev_options`: QEMU's protocol node for the volume's file.
    public func blockdevOptions(_ volname: String, snapshot: SnapshotSelector) throws(StorageError) -> BlockdevOptions {
        let (path, volume) = try filesystemPath(volname, snapshot: snapshot)
        if snapshot.isTrue, volume.format == .image(.qcow2), !config.snapshotAsVolumeChain {
            throw StorageError(ImageFailure.snapshotNotAttachable(format: volume.format))
        }
        let info: FileStatus
        do { info = try system.status(path, followSymlinks: true) } catch {
            throw StorageError(ImageFailure.statForBlockdev(path: path, error))
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
