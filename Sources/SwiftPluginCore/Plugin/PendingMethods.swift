/// Methods whose storage logic has not landed yet. Each is bound all the way
/// through the glue, so PVE never falls through to PVE::Storage::Plugin's Perl;
/// it refuses with a clear message instead.
extension PluginMethods {
    static func notImplemented(_ method: String) -> StorageError {
        StorageError("\(method) is not implemented yet by the swift storage plugin")
    }

    // Snapshots, migration streams, backup providers.
    public static func volumeSnapshot(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot") }
    public static func volumeSnapshotInfo(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_info") }
    public static func volumeRollbackIsPossible(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_rollback_is_possible") }
    public static func volumeSnapshotRollback(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_rollback") }
    public static func volumeSnapshotDelete(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_delete") }
    public static func renameSnapshot(_ call: Call) throws(StorageError) -> Value { throw notImplemented("rename_snapshot") }
    public static func volumeQemuSnapshotMethod(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_qemu_snapshot_method") }
    public static func volumeSnapshotNeedsFsfreeze(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_snapshot_needs_fsfreeze") }
    public static func volumeExport(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_export") }
    public static func volumeExportFormats(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_export_formats") }
    public static func volumeImport(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_import") }
    public static func volumeImportFormats(_ call: Call) throws(StorageError) -> Value { throw notImplemented("volume_import_formats") }
    public static func newBackupProvider(_ call: Call) throws(StorageError) -> Value { throw notImplemented("new_backup_provider") }
}
