import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// Methods whose storage logic has not landed yet. Each is bound all the way
/// through the glue, so PVE never falls through to PVE::Storage::Plugin's Perl;
/// it refuses with a clear message instead.
extension DirectoryPlugin {
    static func notImplemented(_ method: String) -> StorageError {
        StorageError(DirectoryPluginFailure.notImplementedYet(method: method))
    }

    private static func refuse<Arguments: PluginArguments>(_ arguments: Arguments) -> StorageError {
        notImplemented(Arguments.method)
    }

    // Backup providers.
    public func newBackupProvider(_ arguments: NewBackupProviderArguments) throws(StorageError) -> Value { throw Self.refuse(arguments) }
}
