/// The migration stream methods: argument handling only; the
/// storage logic is in Streams/.
extension PluginMethods {
    public static func volumeExportFormats(_ arguments: VolumeExportFormatsArguments, _ call: Call) throws(StorageError) -> Value {
        let formats = try call.storage("", arguments.scfg).exportFormats(
            arguments.volname, snapshot: arguments.snapshot, baseSnapshot: arguments.baseSnapshot,
            withSnapshots: arguments.withSnapshots)
        return .array(formats.map { .string($0.rawValue) })
    }

    public static func volumeImportFormats(_ arguments: VolumeImportFormatsArguments, _ call: Call) throws(StorageError) -> Value {
        let formats = try call.storage("", arguments.scfg).importFormats(
            arguments.volname, baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots)
        return .array(formats.map { .string($0.rawValue) })
    }

    /// Returns nothing (undef), as dir's `return;`.
    public static func volumeExport(_ arguments: VolumeExportArguments, _ call: Call) throws(StorageError) -> Value {
        try call.storage(arguments.storeid, arguments.scfg).exportVolume(
            arguments.volname, format: FormatName(arguments.format), to: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots, className: call.className)
        return [] // dir returns nothing: () in list context, undef in scalar context
    }

    /// The new volume's volid (`<storeid>:<volname>`).
    public static func volumeImport(_ arguments: VolumeImportArguments, _ call: Call) throws(StorageError) -> Value {
        .string(try call.storage(arguments.storeid, arguments.scfg).importVolume(
            arguments.volname, format: FormatName(arguments.format), from: arguments.fh, snapshot: arguments.snapshot,
            baseSnapshot: arguments.baseSnapshot, withSnapshots: arguments.withSnapshots,
            allowRename: arguments.allowRename, className: call.className, print: call.print))
    }
}
