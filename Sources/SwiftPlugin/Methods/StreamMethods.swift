import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// The migration stream methods: argument handling only; the
/// storage logic is in Streams/.
extension DirectoryPlugin {
    public func volumeExportFormats(_ arguments: VolumeExportFormatsArguments) throws(StorageError) -> [String] {
        let formats = try storage("", arguments.scfg).exportFormats(
            arguments.volname, snapshot: arguments.snapshot, baseSnapshot: arguments.baseSnapshot,
            withSnapshots: arguments.withSnapshots)
        return formats.map(\.rawValue)
    }

    public func volumeImportFormats(_ arguments: VolumeImportFormatsArguments) throws(StorageError) -> [String] {
        let formats = try storage("", arguments.scfg).importFormats(
            arguments.volname, baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots)
        return formats.map(\.rawValue)
    }

    /// Returns nothing: () in list context, undef in scalar context, as dir's `return;`.
    public func volumeExport(_ arguments: VolumeExportArguments) throws(StorageError) -> [Value] {
        try storage(arguments.storeid, arguments.scfg).exportVolume(
            arguments.volname, format: FormatName(arguments.format), to: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots, className: call.className)
        return []
    }

    /// The new volume's volid (`<storeid>:<volname>`).
    public func volumeImport(_ arguments: VolumeImportArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).importVolume(
            arguments.volname, format: FormatName(arguments.format), from: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots,
            allowRename: arguments.allowRename, className: call.className, print: call.print))
    }
}
