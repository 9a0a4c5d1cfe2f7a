import CPVEStorageSDK
import DirectoryBackend
import PVEStorage
import PVEStoragePerl


// MARK: - General methods

extension DirectoryPlugin {
    /// A local directory has nothing to connect to.
    public func checkConnection(_ arguments: CheckConnectionArguments) throws(StorageError) -> Value { 1 }

    public func activateStorage(_ arguments: ActivateStorageArguments) throws(StorageError) -> Value {
        try storage(arguments.storeid, arguments.scfg).activate()
        return .undef
    }

    public func deactivateStorage(_ arguments: DeactivateStorageArguments) throws(StorageError) -> Value { .undef }

    /// (total, available, used, active) in bytes; (undef) for an unavailable storage, as dir.
    public func status(_ arguments: StatusArguments) throws(StorageError) -> [Value] {
        guard let usage = try storage(arguments.storeid, arguments.scfg).usage() else { return [.undef] }
        return [.int(usage.total), .int(usage.available), .int(usage.used), 1]
    }

    public func parseVolname(_ arguments: ParseVolnameArguments) throws(StorageError) -> [Value] {
        let list = try VolumeName.parse(arguments.volname, for: host).perlList
        guard call.characterArguments.contains("volname") else { return list }
        return list.map { element in element.string.map { call.string($0, like: "volname") } ?? element }
    }

    /// PVE builds most paths with it: the content type is matched as the bytes it is,
    /// and only `path` and `content-dirs` are read from `$scfg`.
    public func getSubdir(_ arguments: GetSubdirArguments) throws(StorageError) -> String {
        let vtype = arguments.vtype
        if vtype.kind == SPVE_KIND_BYTES, let type = ContentType.named(vtype.bytes) {
            return try arguments.scfg.subdirectory(for: type)
        }
        return try arguments.scfg.subdirectory(named: PerlArgument.selector(vtype, "vtype", call))
    }

    /// (path, vmid, vtype); the glue returns only the path in scalar context.
    public func filesystemPath(_ arguments: FilesystemPathArguments) throws(StorageError) -> [Value] {
        try pathList(arguments.scfg, arguments.volname, arguments.snapname)
    }

    /// `path` is `filesystem_path` for a directory storage.
    public func path(_ arguments: PathArguments) throws(StorageError) -> [Value] {
        try pathList(arguments.scfg, arguments.volname, arguments.snapname)
    }

    private func pathList(_ scfg: StorageConfig, _ volname: String, _ snapshot: SnapshotSelector)
        throws(StorageError) -> [Value]
    {
        let (path, volume) = try storage("", scfg).filesystemPath(volname, snapshot: snapshot)
        return [call.string(path, like: "volname"), .optional(volume.vmid), .string(volume.vtype.rawValue)]
    }

    /// The formats this storage holds; the default is the `format` option (as written), else raw.
    public func getFormats(_ arguments: GetFormatsArguments) throws(StorageError) -> Value {
        let valid = Dictionary(uniqueKeysWithValues: ImageFormat.allCases.map { ($0.rawValue, Value.int(1)) })
        let scfg = arguments.scfg
        let format = scfg.defaultFormat?.rawValue ?? scfg.unrecognized.defaultFormat ?? ImageFormat.standard.rawValue
        return ["default": .string(format), "valid": .hash(valid)]
    }

    /// 1 for raw disks where the storage makes reflinks (``DirectoryStorage/canReplicate(_:)``), else 0.
    public func storageCanReplicate(_ arguments: StorageCanReplicateArguments) throws(StorageError) -> Value {
        let format = arguments.format.flatMap(ImageFormat.init(rawValue:))
        return storage(arguments.storeid, arguments.scfg).canReplicate(format) ? 1 : 0
    }
}

// MARK: - Configuration and hooks

extension DirectoryPlugin {
    /// The directory-specific part of `check_config`, after SectionConfig's generic
    /// checks: a new storage's path must use a safe character set and is canonicalised.
    /// Returns the path to store, or undef when nothing changes.
    public func checkConfig(_ arguments: CheckConfigArguments) throws(StorageError) -> Value {
        guard arguments.create else { return .undef }
        let path = arguments.config["path"]
        guard let text = path.string else { throw StorageError(StorageLocationFailure.illegalPath(path.printable)) }
        return .string(try DirectoryStorage.validatedPath(text))
    }

    /// Creating a storage needs no preparation: activation creates its directories.
    public func onAddHook(_ arguments: OnAddHookArguments) throws(StorageError) -> Value { .undef }
    public func onUpdateHook(_ arguments: OnUpdateHookArguments) throws(StorageError) -> Value { .undef }
    public func onUpdateHookFull(_ arguments: OnUpdateHookFullArguments) throws(StorageError) -> Value { .undef }
    /// Removing a storage from the configuration never touches its data.
    public func onDeleteHook(_ arguments: OnDeleteHookArguments) throws(StorageError) -> Value { .undef }
}
