/// Disk-image methods not implemented yet (see PendingMethods.swift).
extension PluginMethods {
    public static func findFreeDiskname(_ call: Call) throws(StorageError) -> Value { throw notImplemented("find_free_diskname") }
    public static func getIdentity(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_identity") }
    public static func listImages(_ call: Call) throws(StorageError) -> Value { throw notImplemented("list_images") }
    public static func createBase(_ call: Call) throws(StorageError) -> Value { throw notImplemented("create_base") }
    public static func cloneImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("clone_image") }
    public static func allocImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("alloc_image") }
    public static func freeImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("free_image") }
    public static func volumeSizeInfo(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_size_info") }
    public static func volumeResize(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_resize") }
    public static func volumeHasFeature(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_has_feature") }
    public static func mapVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("map_volume") }
    public static func unmapVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("unmap_volume") }
    public static func activateVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("activate_volume") }
    public static func deactivateVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("deactivate_volume") }
    public static func renameVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("rename_volume") }
    public static func qemuBlockdevOptions(_ call: Call) throws(StorageError) -> Value { throw notImplemented("qemu_blockdev_options") }
}
