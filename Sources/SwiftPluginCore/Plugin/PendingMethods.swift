/// Methods whose storage logic has not landed yet. Each is bound all the way
/// through the glue, so PVE never falls through to PVE::Storage::Plugin's Perl;
/// it refuses with a clear message instead.
extension PluginMethods {
    static func notImplemented(_ method: String) -> StorageError {
        StorageError("\(method) is not implemented yet by the swift storage plugin")
    }

    public static func findFreeDiskname(_ call: Call) throws(StorageError) -> Value { throw notImplemented("find_free_diskname") }
    public static func getIdentity(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_identity") }
    public static func listImages(_ call: Call) throws(StorageError) -> Value { throw notImplemented("list_images") }
    public static func createBase(_ call: Call) throws(StorageError) -> Value { throw notImplemented("create_base") }
    public static func cloneImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("clone_image") }
    public static func allocImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("alloc_image") }
    public static func freeImage(_ call: Call) throws(StorageError) -> Value { throw notImplemented("free_image") }
    public static func listVolumes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("list_volumes") }
    public static func getVolumeAttribute(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_volume_attribute") }
    public static func updateVolumeAttribute(_ call: Call) throws(StorageError) -> Value { throw notImplemented("update_volume_attribute") }
    public static func volumeSizeInfo(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_size_info") }
    public static func volumeResize(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_resize") }
    public static func volumeSnapshot(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot") }
    public static func volumeSnapshotInfo(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_info") }
    public static func volumeRollbackIsPossible(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_rollback_is_possible") }
    public static func volumeSnapshotRollback(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_rollback") }
    public static func volumeSnapshotDelete(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_delete") }
    public static func renameSnapshot(_ call: Call) throws(StorageError) -> Value { throw notImplemented("rename_snapshot") }
    public static func volumeQemuSnapshotMethod(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_qemu_snapshot_method") }
    public static func volumeSnapshotNeedsFsfreeze(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_needs_fsfreeze") }
    public static func volumeHasFeature(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_has_feature") }
    public static func mapVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("map_volume") }
    public static func unmapVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("unmap_volume") }
    public static func activateVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("activate_volume") }
    public static func deactivateVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("deactivate_volume") }
    public static func renameVolume(_ call: Call) throws(StorageError) -> Value { throw notImplemented("rename_volume") }
    public static func pruneBackups(_ call: Call) throws(StorageError) -> Value { throw notImplemented("prune_backups") }
    public static func qemuBlockdevOptions(_ call: Call) throws(StorageError) -> Value { throw notImplemented("qemu_blockdev_options") }
    public static func getVolumeNotes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_volume_notes") }
    public static func updateVolumeNotes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("update_volume_notes") }
    public static func volumeExport(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_export") }
    public static func volumeExportFormats(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_export_formats") }
    public static func volumeImport(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_import") }
    public static func volumeImportFormats(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_import_formats") }
    public static func getImportMetadata(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_import_metadata") }
    public static func newBackupProvider(_ call: Call) throws(StorageError) -> Value { throw notImplemented("new_backup_provider") }
}
