import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// The migration stream methods: argument handling only; the
/// storage logic is in Streams/.
extension DirectoryPlugin {
    public func volumeExportFormats(_ arguments: VolumeExportFormatsArguments) throws(StorageError) -> Value {
        let formats = try storage("", arguments.scfg).exportFormats(
            arguments.volname, snapshot: arguments.snapshot, baseSnapshot: arguments.baseSnapshot,
            withSnapshots: arguments.withSnapshots)
        return .array(formats.map { .string($0.rawValue) })
    }

    public func volumeImportFormats(_ arguments: VolumeImportFormatsArguments) throws(StorageError) -> Value {
        let formats = try storage("", arguments.scfg).importFormats(
            arguments.volname, baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots)
        return .array(formats.map { .string($0.rawValue) })
    }

    /// Returns nothing (undef), as dir's `return;`.
    public func volumeExport(_ arguments: VolumeExportArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).exportVolume(
            arguments.volname, format: FormatName(arguments.format), to: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots, className: call.className)
        return [] // dir returns nothing: () in list context, undef in scalar context
    }

    /// The new volume's volid (`<storeid>:<volname>`).
    public func volumeImport(_ arguments: VolumeImportArguments) throws(StorageError) -> Value {
        .string(try storage(arguments.storeid, arguments.scfg).importVolume(
            arguments.volname, format: FormatName(arguments.format), from: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots,
            allowRename: arguments.allowRename, className: call.className, print: call.print))
    }
}
