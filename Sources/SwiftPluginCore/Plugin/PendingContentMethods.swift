/// Content, backup and import methods not implemented yet (see PendingMethods.swift).
extension PluginMethods {
    public static func listVolumes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("list_volumes") }
    public static func getVolumeAttribute(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_volume_attribute") }
    public static func updateVolumeAttribute(_ call: Call) throws(StorageError) -> Value { throw notImplemented("update_volume_attribute") }
    public static func pruneBackups(_ call: Call) throws(StorageError) -> Value { throw notImplemented("prune_backups") }
    public static func getVolumeNotes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_volume_notes") }
    public static func updateVolumeNotes(_ call: Call) throws(StorageError) -> Value { throw notImplemented("update_volume_notes") }
    public static func getImportMetadata(_ call: Call) throws(StorageError) -> Value { throw notImplemented("get_import_metadata") }
}
