import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// Content listing, backup attributes, pruning and import metadata: the methods
/// PVE calls for iso, vztmpl, backup, snippets and import content.
extension DirectoryPlugin {
    /// `list_volumes`, called by the Perl wrapper with PVE's cluster VM list
    /// (`vmlist`: `{ids => {vmid => {type => ...}}}`) so images of containers count as rootdir.
    /// The list is read in place: only each guest's type.
    public func listVolumes(_ arguments: ListVolumesArguments) throws(StorageError) -> [ListedVolume] {
        var guestTypes: [String: String] = [:]
        let ids = arguments.vmlist.member("ids")
        if ids.isHash {
            var guests = ids.members
            while let (id, info) = guests.next() {
                if let type = info.member("type").string { guestTypes[id.string] = type }
            }
        }
        return try storage(arguments.storeid, arguments.scfg).listVolumes(
            vmid: arguments.vmid, contentTypeNames: arguments.contentTypes, guestTypes: guestTypes)
    }

    /// The companion files of the backup `volname` names; nil for any other volume.
    private static func backupSidecars(_ storage: DirectoryStorage, _ volname: String) throws(StorageError) -> BackupSidecars? {
        guard try VolumeName.parse(volname, for: storage.host).vtype == .backup else { return nil }
        return BackupSidecars(system: storage.system, archivePath: try storage.filesystemPath(volname).path)
    }

    /// `notes` and `protected` of backups; nothing (undef) for everything else (dir's answers).
    public func getVolumeAttribute(_ arguments: GetVolumeAttributeArguments) throws(StorageError) -> [Value] {
        let sidecars = try Self.backupSidecars(storage(arguments.storeid, arguments.scfg), arguments.volname)
        switch arguments.attribute {
        case "notes": return try Self.notes(sidecars)
        case "protected": return sidecars.map { [$0.isProtected ? 1 : 0] } ?? []
        default: return []
        }
    }

    /// A backup's notes, as the list dir returns: nothing without notes.
    private static func notes(_ sidecars: BackupSidecars?) throws(StorageError) -> [Value] {
        guard let notes = try sidecars?.notes().perlValue, notes.isDefined else { return [] }
        return [notes]
    }

    public func updateVolumeAttribute(_ arguments: UpdateVolumeAttributeArguments) throws(StorageError) -> [Value] {
        let storage = storage(arguments.storeid, arguments.scfg)
        let attribute = arguments.attribute
        if attribute == "notes" { return try Self.updateNotes(storage, arguments.volname, to: arguments.value) }
        guard let sidecars = try Self.backupSidecars(storage, arguments.volname) else {
            throw StorageError(DirectoryPluginFailure.attributeOnlyForBackups(attribute))
        }
        guard attribute == "protected" else {
            throw StorageError(DirectoryPluginFailure.attributeNotSupported(attribute, storageType: arguments.scfg.type))
        }
        try sidecars.setProtected(arguments.value.isTrue)
        return []
    }

    /// Deprecated alias of `get_volume_attribute(..., 'notes')`, still provided by dir.
    public func getVolumeNotes(_ arguments: GetVolumeNotesArguments) throws(StorageError) -> [Value] {
        try Self.notes(Self.backupSidecars(storage(arguments.storeid, arguments.scfg), arguments.volname))
    }

    /// Deprecated alias of `update_volume_attribute(..., 'notes', ...)`, still provided by dir.
    public func updateVolumeNotes(_ arguments: UpdateVolumeNotesArguments) throws(StorageError) -> [Value] {
        try Self.updateNotes(storage(arguments.storeid, arguments.scfg), arguments.volname, to: arguments.notes)
    }

    private static func updateNotes(_ storage: DirectoryStorage, _ volname: String, to notes: Value) throws(StorageError) -> [Value] {
        guard let sidecars = try Self.backupSidecars(storage, volname) else { throw StorageError(DirectoryPluginFailure.notesOnlyForBackups) }
        try sidecars.setNotes(DecodedText.utf8Bytes(of: notes))
        return []
    }

    /// `prune_backups`, for the Perl wrapper: `{list => [...]}` plus `error` when a
    /// removal failed (the wrapper dies with it after the log function has run).
    public func pruneBackups(_ arguments: PruneBackupsArguments) throws(StorageError) -> Value {
        let result = try storage(arguments.storeid, arguments.scfg).pruneBackups(
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
    public func getImportMetadata(_ arguments: GetImportMetadataArguments) throws(StorageError) -> Value {
        let source = try storage(arguments.storeid, arguments.scfg).importSource(arguments.volname)
        guard arguments.ovf.isDefined else {
            return ["path": .string(source.path), "ova": source.isOVA ? 1 : 0]
        }
        return ImportMetadata(storeid: arguments.storeid, volname: arguments.volname, isOVA: source.isOVA,
                              ovf: arguments.ovf).perlValue
    }
}
