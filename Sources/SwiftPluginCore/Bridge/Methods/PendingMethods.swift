/// Methods whose storage logic has not landed yet. Each is bound all the way
/// through the glue, so PVE never falls through to PVE::Storage::Plugin's Perl;
/// it refuses with a clear message instead.
extension PluginMethods {
    static func notImplemented(_ method: String) -> StorageError {
        StorageError("\(method) is not implemented yet by the swift storage plugin")
    }

    private static func refuse<Arguments: PluginArguments>(_ arguments: Arguments) -> StorageError {
        notImplemented(Arguments.method)
    }

    // Snapshots, backup providers.
    public static func volumeSnapshot(_ arguments: VolumeSnapshotArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeSnapshotInfo(_ arguments: VolumeSnapshotInfoArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeRollbackIsPossible(_ arguments: VolumeRollbackIsPossibleArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeSnapshotRollback(_ arguments: VolumeSnapshotRollbackArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeSnapshotDelete(_ arguments: VolumeSnapshotDeleteArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func renameSnapshot(_ arguments: RenameSnapshotArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeQemuSnapshotMethod(_ arguments: VolumeQemuSnapshotMethodArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeSnapshotNeedsFsfreeze(_ arguments: VolumeSnapshotNeedsFsfreezeArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func newBackupProvider(_ arguments: NewBackupProviderArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
}
