/// The plugin methods of PVE's storage API, one static function each, named after
/// the Perl method. Each takes the method's typed arguments (generated from
/// perl/methods.txt) and returns the Perl return value (a list is returned as an
/// array; the glue flattens it). The storage logic is in ``DirectoryStorage``.
public enum PluginMethods {}

// MARK: - General methods

extension PluginMethods {
    /// A local directory has nothing to connect to.
    public static func checkConnection(_ arguments: CheckConnectionArguments, _ call: Call) throws(StorageError) -> Value { 1 }

    public static func activateStorage(_ arguments: ActivateStorageArguments, _ call: Call) throws(StorageError) -> Value {
        try call.storage(arguments.storeid, arguments.scfg).activate()
        return .undef
    }

    public static func deactivateStorage(_ arguments: DeactivateStorageArguments, _ call: Call) throws(StorageError) -> Value { .undef }

    /// (total, available, used, active) in bytes; (undef) for an unavailable storage, as dir.
    public static func status(_ arguments: StatusArguments, _ call: Call) throws(StorageError) -> Value {
        guard let usage = try call.storage(arguments.storeid, arguments.scfg).usage() else { return [.undef] }
        return [.int(usage.total), .int(usage.available), .int(usage.used), 1]
    }

    public static func parseVolname(_ arguments: ParseVolnameArguments, _ call: Call) throws(StorageError) -> Value {
        let list = try VolumeName.parse(arguments.volname, for: call.host).perlList
        guard call.characterArguments.contains("volname") else { return .array(list) }
        return .array(list.map { element in element.string.map { call.string($0, like: "volname") } ?? element })
    }

    public static func getSubdir(_ arguments: GetSubdirArguments, _ call: Call) throws(StorageError) -> Value {
        .string(try call.storage("", arguments.scfg).subdirectory(named: arguments.vtype))
    }

    /// (path, vmid, vtype); the glue returns only the path in scalar context.
    public static func filesystemPath(_ arguments: FilesystemPathArguments, _ call: Call) throws(StorageError) -> Value {
        try pathList(call, arguments.scfg, arguments.volname, arguments.snapname)
    }

    /// `path` is `filesystem_path` for a directory storage.
    public static func path(_ arguments: PathArguments, _ call: Call) throws(StorageError) -> Value {
        try pathList(call, arguments.scfg, arguments.volname, arguments.snapname)
    }

    private static func pathList(_ call: Call, _ scfg: StorageConfig, _ volname: String, _ snapshot: SnapshotSelector)
        throws(StorageError) -> Value
    {
        let (path, volume) = try call.storage("", scfg).filesystemPath(volname, snapshot: snapshot)
        return [call.string(path, like: "volname"), .optional(volume.vmid), .string(volume.vtype.rawValue)]
    }

    /// The formats this storage holds; the default is the `format` option (as written), else raw.
    public static func getFormats(_ arguments: GetFormatsArguments, _ call: Call) throws(StorageError) -> Value {
        let valid = Dictionary(uniqueKeysWithValues: ImageFormat.allCases.map { ($0.rawValue, Value.int(1)) })
        let scfg = arguments.scfg
        let format = scfg.defaultFormat?.rawValue ?? scfg.unrecognized.defaultFormat ?? ImageFormat.standard.rawValue
        return ["default": .string(format), "valid": .hash(valid)]
    }

    /// 1 for raw disks where the storage makes reflinks (``DirectoryStorage/canReplicate(_:)``), else 0.
    public static func storageCanReplicate(_ arguments: StorageCanReplicateArguments, _ call: Call) throws(StorageError) -> Value {
        let format = arguments.format.flatMap(ImageFormat.init(rawValue:))
        return call.storage(arguments.storeid, arguments.scfg).canReplicate(format) ? 1 : 0
    }
}

// MARK: - Configuration and hooks

extension PluginMethods {
    /// The directory-specific part of `check_config`, after SectionConfig's generic
    /// checks: a new storage's path must use a safe character set and is canonicalised.
    /// Returns the path to store, or undef when nothing changes.
    public static func checkConfig(_ arguments: CheckConfigArguments, _ call: Call) throws(StorageError) -> Value {
        guard arguments.create else { return .undef }
        let path = arguments.config["path"]
        guard let text = path.string else { throw StorageError("illegal path for directory storage: \(path.printable)") }
        return .string(try DirectoryStorage.validatedPath(text))
    }

    /// Creating a storage needs no preparation: activation creates its directories.
    public static func onAddHook(_ arguments: OnAddHookArguments, _ call: Call) throws(StorageError) -> Value { .undef }
    public static func onUpdateHook(_ arguments: OnUpdateHookArguments, _ call: Call) throws(StorageError) -> Value { .undef }
    public static func onUpdateHookFull(_ arguments: OnUpdateHookFullArguments, _ call: Call) throws(StorageError) -> Value { .undef }
    /// Removing a storage from the configuration never touches its data.
    public static func onDeleteHook(_ arguments: OnDeleteHookArguments, _ call: Call) throws(StorageError) -> Value { .undef }
}
