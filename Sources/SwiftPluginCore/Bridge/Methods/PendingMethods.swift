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

    // Migration streams, backup providers.
    public static func volumeExport(_ arguments: VolumeExportArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeExportFormats(_ arguments: VolumeExportFormatsArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeImport(_ arguments: VolumeImportArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func volumeImportFormats(_ arguments: VolumeImportFormatsArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
    public static func newBackupProvider(_ arguments: NewBackupProviderArguments, _ call: Call) throws(StorageError) -> Value { throw refuse(arguments) }
}
