/// The disk-image and volume methods (plugin-api.md §5, §6): argument handling only;
/// the storage logic is in ``DirectoryStorage`` (Images/).
extension PluginMethods {
    public static func findFreeDiskname(_ call: Call) throws(StorageError) -> Value {
        let name = try call.storage().findFreeDiskname(
            vmid: call.string("vmid"), format: call.string("fmt"), addFormatSuffix: call["add_fmt_suffix"].isTrue)
        return .string(name)
    }

    public static func getIdentity(_ call: Call) throws(StorageError) -> Value {
        .string(try call.storage().identity())
    }

    /// An array of item hashes (volid, format, size, vmid, used, parent, ctime).
    public static func listImages(_ call: Call) throws(StorageError) -> Value {
        let vmid = call["vmid"].isDefined ? try call.string("vmid") : nil
        var volumes: [String]?
        if call["vollist"].isDefined {
            guard let list = call["vollist"].array else { throw StorageError("vollist is not an array") }
            volumes = list.compactMap(\.string)
        }
        return .array(try call.storage().listImages(vmid: vmid, volumes: volumes).map(\.perlHash))
    }

    public static func createBase(_ call: Call) throws(StorageError) -> Value {
        .string(try call.storage().createBase(call.string("volname")))
    }

    public static func cloneImage(_ call: Call) throws(StorageError) -> Value {
        .string(try call.storage().cloneImage(call.string("volname"), vmid: call.string("vmid"), snapshot: call["snap"]))
    }

    public static func allocImage(_ call: Call) throws(StorageError) -> Value {
        // Perl's truth, as dir tests it: no name, "" or "0" picks a free name.
        let name = call["name"].isTrue ? try call.string("name") : nil
        return .string(try call.storage().allocateImage(
            vmid: call.string("vmid"), format: call.string("fmt"), name: name, sizeKiB: call["size"]))
    }

    public static func freeImage(_ call: Call) throws(StorageError) -> Value {
        let format = call["format"].isDefined ? try call.string("format") : nil
        try call.storage().freeVolume(call.string("volname"), isBase: call["isBase"].isTrue, format: format)
        return .undef
    }

    /// (size, format, used, parent, ctime); the glue returns the size in scalar context.
    public static func volumeSizeInfo(_ call: Call) throws(StorageError) -> Value {
        guard let metadata = try call.storage().volumeSizeInfo(call.string("volname")) else { return [.undef] }
        return .array(metadata.perlList)
    }

    public static func volumeResize(_ call: Call) throws(StorageError) -> Value {
        let deferred = try call.storage().resizeVolume(
            call.string("volname"), size: call["size"], running: call["running"].isTrue, snapshot: call["snapname"],
            className: call.className)
        return deferred ? 1 : .undef
    }

    /// 1 when the feature is available, 0 for a clone that must not be qcow2 (and for
    /// rename below API 10, which this plugin never reports), undef otherwise.
    public static func volumeHasFeature(_ call: Call) throws(StorageError) -> Value {
        let feature = call["feature"].string ?? ""
        if feature == "clone", let formats = call["opts"]["valid_target_formats"].array,
           !formats.contains(where: { $0.string == ImageFormat.qcow2.rawValue }) {
            return 0
        }
        let volume = try VolumeName.parse(call.string("volname"))
        let key: VolumeFeatures.State = call["snapname"].isTrue ? .snapshot : volume.isBase ? .base : .current
        return VolumeFeatures.has(feature, state: key, format: volume.format) ? 1 : .undef
    }

    public static func mapVolume(_ call: Call) throws(StorageError) -> Value {
        let (path, _) = try call.storage().filesystemPath(call.string("volname"), snapshot: call["snapname"])
        return call.string(path, like: "volname")
    }

    public static func unmapVolume(_ call: Call) throws(StorageError) -> Value { 1 }

    public static func activateVolume(_ call: Call) throws(StorageError) -> Value {
        try call.storage().activateVolume(call.string("volname"), snapshot: call["snapname"])
        return .undef
    }

    public static func deactivateVolume(_ call: Call) throws(StorageError) -> Value { .undef }

    public static func renameVolume(_ call: Call) throws(StorageError) -> Value {
        let target = call["target_volname"].isTrue ? try call.string("target_volname") : nil
        return .string(try call.storage().renameVolume(
            call.string("source_volname"), targetVMID: call.string("target_vmid"), targetName: target))
    }

    /// A hash QEMU's -blockdev accepts: {driver => 'file' | 'host_device', filename => path}.
    public static func qemuBlockdevOptions(_ call: Call) throws(StorageError) -> Value {
        .hash(try call.storage().blockdevOptions(call.string("volname"), snapshot: call["options"]["snapshot-name"]))
    }
}

/// The feature matrix of `volume_has_feature` (plugin-api.md §6.15).
public enum VolumeFeatures {
    public enum State: Sendable { case current, snapshot, base }

    static let matrix: [String: [State: Set<String>]] = [
        "snapshot": [.current: ["qcow2"], .snapshot: ["qcow2"]],
        "clone": [.base: ["qcow2", "raw", "vmdk"]],
        "template": [.current: ["qcow2", "raw", "vmdk", "subvol"]],
        "copy": [.base: ["qcow2", "raw", "vmdk"], .current: ["qcow2", "raw", "vmdk"], .snapshot: ["qcow2"]],
        "sparseinit": [.base: ["qcow2", "raw", "vmdk"], .current: ["qcow2", "raw", "vmdk"]],
        "rename": [.current: ["qcow2", "raw", "vmdk"]],
    ]

    public static func has(_ feature: String, state: State, format: String) -> Bool {
        matrix[feature]?[state]?.contains(format) ?? false
    }
}
