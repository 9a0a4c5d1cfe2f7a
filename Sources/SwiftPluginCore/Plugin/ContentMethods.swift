/// Content listing, backup attributes, pruning and import metadata: the methods
/// PVE calls for iso, vztmpl, backup, snippets and import content.
extension PluginMethods {
    /// `list_volumes`, called by the Perl wrapper with PVE's cluster VM list
    /// (`vmlist`: `{ids => {vmid => {type => ...}}}`) so images of containers count as rootdir.
    public static func listVolumes(_ call: Call) throws(StorageError) -> Value {
        let vmid = call["vmid"].isDefined ? try call.string("vmid") : nil
        let types = (call["content_types"].array ?? []).compactMap(\.string)
        var guestTypes: [String: String] = [:]
        for (id, info) in call["vmlist"]["ids"].hash ?? [:] {
            if let type = info["type"].string { guestTypes[id] = type }
        }
        return .array(try call.storage().listVolumes(vmid: vmid, contentTypes: types, guestTypes: guestTypes))
    }

    /// PVE's storage-layer helper `archive_info` (exposed for tests and tools).
    public static func archiveInfo(_ call: Call) throws(StorageError) -> Value {
        try ArchiveInfo(call.string("archive")).perlValue
    }

    /// The companion files of the backup the call's `volname` names; nil for any other volume.
    private static func backupSidecars(_ call: Call) throws(StorageError) -> BackupSidecars? {
        let volname = try call.string("volname")
        guard try VolumeName.parse(volname).vtype == .backup else { return nil }
        let storage = try call.storage()
        return BackupSidecars(system: storage.system, archivePath: try storage.filesystemPath(volname).path)
    }

    /// `notes` and `protected` of backups; undef for everything else (dir's answers).
    public static func getVolumeAttribute(_ call: Call) throws(StorageError) -> Value {
        let sidecars = try backupSidecars(call)
        switch call["attribute"].string {
        case "notes": return try sidecars?.notes() ?? .undef
        case "protected": return sidecars.map { $0.isProtected ? 1 : 0 } ?? .undef
        default: return .undef
        }
    }

    public static func updateVolumeAttribute(_ call: Call) throws(StorageError) -> Value {
        let attribute = call["attribute"].string ?? ""
        if attribute == "notes" { return try updateNotes(call, to: call["value"]) }
        guard let sidecars = try backupSidecars(call) else {
            throw StorageError("only backups support attribute '\(attribute)'")
        }
        guard attribute == "protected" else {
            throw StorageError("attribute '\(attribute)' is not supported for storage type '\(try StorageConfig(call["scfg"]).type)'")
        }
        try sidecars.setProtected(call["value"].isTrue)
        return .undef
    }

    /// Deprecated alias of `get_volume_attribute(..., 'notes')`, still provided by dir.
    public static func getVolumeNotes(_ call: Call) throws(StorageError) -> Value {
        try backupSidecars(call)?.notes() ?? .undef
    }

    /// Deprecated alias of `update_volume_attribute(..., 'notes', ...)`, still provided by dir.
    public static func updateVolumeNotes(_ call: Call) throws(StorageError) -> Value {
        try updateNotes(call, to: call["notes"])
    }

    private static func updateNotes(_ call: Call, to notes: Value) throws(StorageError) -> Value {
        guard let sidecars = try backupSidecars(call) else { throw StorageError("only backups can have notes") }
        try sidecars.setNotes(notes)
        return .undef
    }

    /// `prune_backups`, for the Perl wrapper: `{list => [...]}` plus `error` when a
    /// removal failed (the wrapper dies with it after the log function has run).
    public static func pruneBackups(_ call: Call) throws(StorageError) -> Value {
        let vmid = call["vmid"].isDefined ? try call.string("vmid") : nil
        let type = call["type"].isDefined ? try call.string("type") : nil
        let result = try call.storage().pruneBackups(
            keep: call["keep"], vmid: vmid, type: type, dryRun: call["dryrun"].isTrue,
            log: { call.log($0, $1) }, warn: { call.warn($0) })
        var reply: [String: Value] = ["list": .array(result.entries.map(\.perlValue))]
        if result.failed { reply["error"] = "error pruning backups - check log" }
        return .hash(reply)
    }

    /// `get_import_metadata` in two steps for the Perl wrapper. Without `ovf`: checks the
    /// volume (an OVA or OVF import source that is a regular file inside the storage)
    /// and returns `{path, ova}` for PVE's OVF parser. With `ovf` (the parser's result):
    /// returns the metadata as dir does.
    public static func getImportMetadata(_ call: Call) throws(StorageError) -> Value {
        let storage = try call.storage()
        let volname = try call.string("volname")
        let source = try storage.importSource(volname)
        guard call["ovf"].isDefined else {
            return ["path": .string(source.path), "ova": source.isOVA ? 1 : 0]
        }
        return ImportMetadata(storeid: call["storeid"].string ?? "", volname: volname, isOVA: source.isOVA,
                              ovf: call["ovf"]).perlValue
    }
}
