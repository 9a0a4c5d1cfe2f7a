import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// The disk-image and volume methods: argument handling only;
/// the storage logic is in ``DirectoryStorage`` (Images/).
extension DirectoryPlugin {
    public func findFreeDiskname(_ arguments: FindFreeDisknameArguments) throws(StorageError) -> Value {
        let name = try storage(arguments.storeid, arguments.scfg).findFreeDiskname(
            vmid: arguments.vmid, format: FormatName(arguments.fmt), addFormatSuffix: arguments.addFmtSuffix)
        return .string(name)
    }

    public func getIdentity(_ arguments: GetIdentityArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).identity())
    }

    /// An array of item hashes (volid, format, size, vmid, used, parent, ctime).
    public func listImages(_ arguments: ListImagesArguments) throws(StorageError) -> [ImageInfo] {
        try storage(arguments.storeid, arguments.scfg).listImages(vmid: arguments.vmid, volumes: arguments.vollist)
    }

    public func createBase(_ arguments: CreateBaseArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).createBase(arguments.volname))
    }

    public func cloneImage(_ arguments: CloneImageArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).cloneImage(
            arguments.volname, vmid: arguments.vmid, snapshot: arguments.snap))
    }

    /// A name of '', '0' or none picks a free name, as dir tests it.
    public func allocImage(_ arguments: AllocImageArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).allocateImage(
            vmid: arguments.vmid, format: FormatName(arguments.fmt), name: arguments.name, sizeKiB: arguments.size))
    }

    public func freeImage(_ arguments: FreeImageArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).freeVolume(
            arguments.volname, isBase: arguments.isBase, format: arguments.format.flatMap(ImageFormat.init(rawValue:)))
        return .undef
    }

    /// (size, format, used, parent, ctime); the glue returns the size in scalar context.
    public func volumeSizeInfo(_ arguments: VolumeSizeInfoArguments) throws(StorageError) -> [Value] {
        guard let metadata = try storage(arguments.storeid, arguments.scfg).volumeSizeInfo(arguments.volname) else {
            return [.undef]
        }
        return metadata.perlList
    }

    public func volumeResize(_ arguments: VolumeResizeArguments) throws(StorageError) -> Value {
        let deferred = try storage(arguments.storeid, arguments.scfg).resizeVolume(
            arguments.volname, size: arguments.size, running: arguments.running, snapshot: arguments.snapname,
            className: call.className)
        return deferred ? 1 : .undef
    }

    /// 1 when the feature is available, 0 for a clone that must not be qcow2 (and for
    /// rename below API 10, which this plugin never reports), undef otherwise.
    public func volumeHasFeature(_ arguments: VolumeHasFeatureArguments) throws(StorageError) -> Value {
        let feature = VolumeFeatures.Feature(rawValue: arguments.feature)
        if feature == .clone, let formats = arguments.opts["valid_target_formats"].array,
           !formats.contains(where: { $0.string == ImageFormat.qcow2.rawValue }) {
            return 0
        }
        let volume = try VolumeName.parse(arguments.volname, for: host)
        let state: VolumeFeatures.State = arguments.snapname.isTrue ? .snapshot : volume.isBase ? .base : .current
        guard let feature else { return .undef }
        if VolumeFeatures.has(feature, state: state, format: volume.format) { return 1 }
        // Raw disks gain snapshots (and copies of them) only where the storage makes reflinks.
        guard VolumeFeatures.hasWithReflinks(feature, state: state, volume: volume) else { return .undef }
        return storage(arguments.storeid, arguments.scfg).supportsReflinks() ? 1 : .undef
    }

    public func mapVolume(_ arguments: MapVolumeArguments) throws(StorageError) -> Value {
        let (path, _) = try storage(arguments.storeid, arguments.scfg).filesystemPath(
            arguments.volname, snapshot: arguments.snapname)
        return call.string(path, like: "volname")
    }

    public func unmapVolume(_ arguments: UnmapVolumeArguments) throws(StorageError) -> Value { 1 }

    public func activateVolume(_ arguments: ActivateVolumeArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).activateVolume(arguments.volname, snapshot: arguments.snapname)
        return .undef
    }

    public func deactivateVolume(_ arguments: DeactivateVolumeArguments) throws(StorageError) -> Value { .undef }

    public func renameVolume(_ arguments: RenameVolumeArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).renameVolume(
            arguments.sourceVolname, targetVMID: arguments.targetVmid, targetName: arguments.targetVolname))
    }

    /// A hash QEMU's -blockdev accepts: {driver => 'file' | 'host_device', filename => path}.
    public func qemuBlockdevOptions(_ arguments: QemuBlockdevOptionsArguments) throws(StorageError) -> Value {
        let snapshot = try PerlArgument.snapshot(arguments.options["snapshot-name"], "snapshot-name", call)
        return try storage(arguments.storeid, arguments.scfg).blockdevOptions(arguments.volname, snapshot: snapshot).perlValue
    }
}

/// The feature matrix of `volume_has_feature` (PVE::Storage::Plugin's).
public enum VolumeFeatures {
    public enum Feature: String, Sendable {
        case snapshot, clone, template, copy, sparseinit, rename, replicate
    }

    public enum State: Sendable { case current, snapshot, base }

    static let matrix: [Feature: [State: Set<ImageFormat>]] = [
        .snapshot: [.current: [.qcow2], .snapshot: [.qcow2]],
        .clone: [.base: [.qcow2, .raw, .vmdk]],
        .template: [.current: [.qcow2, .raw, .vmdk, .subvol]],
        .copy: [.base: [.qcow2, .raw, .vmdk], .current: [.qcow2, .raw, .vmdk], .snapshot: [.qcow2]],
        .sparseinit: [.base: [.qcow2, .raw, .vmdk], .current: [.qcow2, .raw, .vmdk]],
        .rename: [.current: [.qcow2, .raw, .vmdk]],
    ]

    /// Only files of an image format have features (import sources and OVA members none).
    public static func has(_ feature: Feature, state: State, format: VolumeFormat) -> Bool {
        guard let format = format.imageFormat else { return false }
        return matrix[feature]?[state]?.contains(format) ?? false
    }

    /// What a raw disk image adds to the matrix on a storage with reflink snapshots.
    static let reflinkMatrix: [Feature: Set<State>] = [
        .snapshot: [.current, .snapshot], .copy: [.snapshot], .replicate: [.current, .base],
    ]

    public static func hasWithReflinks(_ feature: Feature, state: State, volume: VolumeName) -> Bool {
        volume.format == .image(.raw) && volume.vtype == .images && reflinkMatrix[feature]?.contains(state) == true
    }
}
