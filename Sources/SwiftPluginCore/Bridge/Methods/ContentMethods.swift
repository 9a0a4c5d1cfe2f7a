/// Content listing, backup attributes, pruning and import metadata: the methods
/// PVE calls for iso, vztmpl, backup, snippets and import content.
extension PluginMethods {
    /// `list_volumes`, called by the Perl wrapper with PVE's cluster VM list
    /// (`vmlist`: `{ids => {vmid => {type => ...}}}`) so images of containers count as rootdir.
    public static func listVolumes(_ arguments: ListVolumesArguments, _ call: Call) throws(StorageError) -> Value {
        var guestTypes: [String: String] = [:]
        for (id, info) in arguments.vmlist["ids"].hash ?? [:] {
            if let type = info["type"].string { guestTypes[id] = type }
        }
        let volumes = try call.storage(arguments.storeid, arguments.scfg).listVolumes(
            vmid: arguments.vmid, contentTypeNames: arguments.contentTypes, guestTypes: guestTypes)
        return .array(volumes.map(\.perlItem))
    }

    /// PVE's storage-layer helper `archive_info` (exposed for tests and tools).
    public static func archiveInfo(_ arguments: ArchiveInfoArguments, _ call: Call) throws(StorageError) -> Value {
        try ArchiveInfo(arguments.archive, in: call.system).perlValue
    }

    /// The companion files of the backup `volname` names; nil for any other volume.
    private static func backupSidecars(_ storage: DirectoryStorage, _ volname: String) throws(StorageError) -> BackupSidecars? {
        guard try VolumeName.parse(volname, for: storage.host).vtype == .backup else { return nil }
        return BackupSidecars(system: storage.system, archivePath: try storage.filesystemPath(volname).path)
    }

    /// `notes` and `protected` of backups; undef for everything else (dir's answers).
    public static func getVolumeAttribute(_ arguments: GetVolumeAttributeArguments, _ call: Call) throws(StorageError) -> Value {
        let sidecars = try backupSidecars(call.storage(arguments.storeid, arguments.scfg), arguments.volname)
        switch arguments.attribute {
        case "notes": return try sidecars?.notes().perlValue ?? .undef
        case "protected": return sidecars.map { $0.isProtected ? 1 : 0 } ?? .undef
        default: return .undef
        }
    }

    public static func updateVolumeAttribute(_ arguments: UpdateVolumeAttributeArguments, _ call: Call) throws(StorageError) -> Value {
        let storage = call.storage(arguments.storeid, arguments.scfg)
        let attribute = arguments.attribute
        if attribute == "notes" { return try updateNotes(storage, arguments.volname, to: arguments.value) }
        guard let sidecars = try backupSidecars(storage, arguments.volname) else {
            throw StorageError("only backups support attribute '\(attribute)'")
        }
        guard attribute == "protected" else {
            throw StorageError("attribute '\(attribute)' is not supported for storage type '\(arguments.scfg.type)'")
        }
        try sidecars.setProtected(arguments.value.isTrue)
        return .undef
    }

    /// Deprecated alias of `get_volume_attribute(..., 'notes')`, still provided by dir.
    public static func getVolumeNotes(_ arguments: GetVolumeNotesArguments, _ call: Call) throws(StorageError) -> Value {
        try backupSidecars(call.storage(arguments.storeid, arguments.scfg), arguments.volname)?.notes().perlValue ?? .undef
    }

    /// Deprecated alias of `update_volume_attribute(..., 'notes', ...)`, still provided by dir.
    public static func updateVolumeNotes(_ arguments: UpdateVolumeNotesArguments, _ call: Call) throws(StorageError) -> Value {
        try updateNotes(call.storage(arguments.storeid, arguments.scfg), arguments.volname, to: arguments.notes)
    }

    private static func updateNotes(_ storage: DirectoryStorage, _ volname: String, to notes: Value) throws(StorageError) -> Value {
        guard let sidecars = try backupSidecars(storage, volname) else { throw StorageError("only backups can have notes") }
        try sidecars.setNotes(DecodedText.utf8Bytes(of: notes))
        return .undef
    }

    /// `prune_backups`, for the Perl wrapper: `{list => [...]}` plus `error` when a
    /// removal failed (the wrapper dies with it after the log function has run).
    public static func pruneBackups(_ arguments: PruneBackupsArguments, _ call: Call) throws(StorageError) -> Value {
        let result = try call.storage(arguments.storeid, arguments.scfg).pruneBackups(
            keep: Retention(perl: arguments.keep), vmid: arguments.vmid, type: arguments.type, dryRun: arguments.dryrun,
            log: { call.log($0, $1) }, warn: { call.warn($0) })
        var reply: [String: Value] = ["list": .array(result.entries.map(\.perlValue))]
        if result.failed { reply["error"] = "error pruning backups - check log" }
        return .hash(reply)
    }

    /// `get_import_metadata` in two steps for the Perl wrapper. Without `ovf`: checks the
    /// volume (an OVA or OVF import source that is a regular file inside the storage)
    /// and returns `{path, ova}` for PVE's OVF parser. With `ovf` (the parser's result):
    /// returns the metadata as dir does.
    public static func getImportMetadata(_ arguments: GetImportMetadataArguments, _ call: Call) throws(StorageError) -> Value {
        let source = try call.storage(arguments.storeid, arguments.scfg).importSource(arguments.volname)
        guard arguments.ovf.isDefined else {
            return ["path": .string(source.path), "ova": source.isOVA ? 1 : 0]
        }
        return ImportMetadata(storeid: arguments.storeid, volname: arguments.volname, isOVA: source.isOVA,
                              ovf: arguments.ovf).perlValue
    }
}
