/// The plugin methods of PVE's storage API, one static function each, named after
/// the Perl method. Each takes the call's named arguments and returns the Perl
/// return value (a list is returned as an array; the glue flattens it).
public enum PluginMethods {}

// MARK: - General methods

extension PluginMethods {
    /// A local directory has nothing to connect to.
    public static func checkConnection(_ call: Call) throws(StorageError) -> Value { 1 }

    public static func activateStorage(_ call: Call) throws(StorageError) -> Value {
        try call.storage().activate()
        return .undef
    }

    public static func deactivateStorage(_ call: Call) throws(StorageError) -> Value { .undef }

    /// (total, available, used, active) in bytes; (undef) for an unavailable storage, as dir.
    public static func status(_ call: Call) throws(StorageError) -> Value {
        guard let usage = try call.storage().usage() else { return [.undef] }
        return [.int(usage.total), .int(usage.available), .int(usage.used), 1]
    }

    public static func parseVolname(_ call: Call) throws(StorageError) -> Value {
        let list = try VolumeName.parse(call.string("volname")).perlList
        return .array(list.map { element in element.string.map { call.string($0, like: "volname") } ?? element })
    }

    public static func getSubdir(_ call: Call) throws(StorageError) -> Value {
        .string(try call.storage().subdirectory(for: call["vtype"].string ?? ""))
    }

    /// (path, vmid, vtype); the glue returns only the path in scalar context.
    public static func filesystemPath(_ call: Call) throws(StorageError) -> Value {
        let (path, volume) = try call.storage().filesystemPath(call.string("volname"), snapshot: call["snapname"])
        return [call.string(path, like: "volname"), .optional(volume.vmid), .string(volume.vtype.rawValue)]
    }

    /// `path` is `filesystem_path` for a directory storage.
    public static func path(_ call: Call) throws(StorageError) -> Value {
        try filesystemPath(call)
    }

    /// The formats this storage holds; the default is the `format` option, else raw.
    public static func getFormats(_ call: Call) throws(StorageError) -> Value {
        let config = try StorageConfig(call["scfg"])
        let valid = Dictionary(uniqueKeysWithValues: ImageFormat.allCases.map { ($0.rawValue, Value.int(1)) })
        return ["default": .string(config.defaultFormat ?? ImageFormat.standard.rawValue), "valid": .hash(valid)]
    }

    /// Replication needs ZFS; a directory storage cannot replicate.
    public static func storageCanReplicate(_ call: Call) throws(StorageError) -> Value { 0 }
}

// MARK: - Configuration and hooks

extension PluginMethods {
    /// The directory-specific part of `check_config`, after SectionConfig's generic
    /// checks: a new storage's path must use a safe character set and is canonicalised.
    /// Returns the path to store, or undef when nothing changes.
    public static func checkConfig(_ call: Call) throws(StorageError) -> Value {
        guard call["create"].isTrue else { return .undef }
        let path = call["config"]["path"]
        guard let text = path.string else { throw StorageError("illegal path for directory storage: \(path.printable)") }
        return .string(try DirectoryStorage.validatedPath(text))
    }

    /// Creating a storage needs no preparation: activation creates its directories.
    public static func onAddHook(_ call: Call) throws(StorageError) -> Value { .undef }
    public static func onUpdateHook(_ call: Call) throws(StorageError) -> Value { .undef }
    public static func onUpdateHookFull(_ call: Call) throws(StorageError) -> Value { .undef }
    /// Removing a storage from the configuration never touches its data.
    public static func onDeleteHook(_ call: Call) throws(StorageError) -> Value { .undef }
}
