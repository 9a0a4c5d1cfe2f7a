import PVEStorage
import PVEStoragePerl

#if canImport(Glibc)
import Glibc
#endif

/// A read-only ISO library: the images under `<path>/template/iso` of a directory,
/// as a PVE storage of type `hello`. It implements five methods (methods.txt), refuses
/// those that would write images there, and leaves the rest to PVE's base class.
public struct HelloPlugin: StoragePlugin {
    let call: Call

    public init(call: Call) {
        self.call = call
    }

    /// Nothing to connect to.
    public func checkConnection(_ arguments: CheckConnectionArguments) throws(StorageError) -> Value { 1 }

    /// Refuses a storage whose directory is missing, as PVE's `dir` does.
    public func activateStorage(_ arguments: ActivateStorageArguments) throws(StorageError) -> Value {
        let path = try arguments.scfg.path(of: arguments.storeid)
        guard isDirectory(path) else { throw StorageError(HelloFailure.missingDirectory(storeid: arguments.storeid, path: path)) }
        return .undef
    }

    /// (total, available, used, active) of the file system the directory is on.
    public func status(_ arguments: StatusArguments) throws(StorageError) -> [Value] {
        var stats = statvfs()
        let path = try arguments.scfg.path(of: arguments.storeid)
        guard statvfs(path, &stats) == 0 else { return [.undef] }
        let block = Int64(stats.f_frsize)
        let (total, available) = (Int64(stats.f_blocks) * block, Int64(stats.f_bavail) * block)
        return [.int(total), .int(available), .int(total - Int64(stats.f_bfree) * block), 1]
    }

    /// `iso/<name>.iso` is ('iso', '<name>.iso'); nothing else is a volume here.
    public func parseVolname(_ arguments: ParseVolnameArguments) throws(StorageError) -> [Value] {
        try [.string("iso"), .string(Self.isoName(arguments.volname))]
    }

    /// The image's path; (path, undef, 'iso') in list context. ISO images have no snapshots.
    public func path(_ arguments: PathArguments) throws(StorageError) -> [Value] {
        guard !arguments.snapname.isRequested else { throw StorageError(HelloFailure.noSnapshots) }
        let name = try Self.isoName(arguments.volname)
        return [.string("\(try arguments.scfg.path(of: arguments.storeid))/template/iso/\(name)"), .undef, "iso"]
    }

    /// The file name in `iso/<name>.iso`: one path component, no hidden file.
    static func isoName(_ volname: String) throws(StorageError) -> String {
        let parts = volname.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "iso", !parts[1].contains("/"), !parts[1].hasPrefix("."),
              parts[1].hasSuffix(".iso"), parts[1].count > 4
        else { throw StorageError(HelloFailure.badVolname(volname)) }
        return String(parts[1])
    }

    private func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

/// The storage configuration, as far as this plugin reads it: the `path` option.
public struct HelloConfig: PluginConfiguration {
    var path: String?

    public init(perl value: Value) throws(StorageError) {
        guard let members = value.hash else { throw StorageError(ArgumentFailure.configurationNotAHash) }
        path = members["path"]?.string
    }

    /// The configured path, absolute.
    func path(of storeid: String) throws(StorageError) -> String {
        guard let path, path.hasPrefix("/") else { throw StorageError(HelloFailure.noAbsolutePath(storeid: storeid)) }
        return path
    }
}

/// How the plugin fails: typed values, worded here once, when they reach Perl.
public enum HelloFailure: StorageFailure {
    case missingDirectory(storeid: String, path: String)
    case badVolname(String)
    case noSnapshots
    case noAbsolutePath(storeid: String)

    public var description: String {
        switch self {
        case .missingDirectory(let storeid, let path): "unable to activate storage '\(storeid)' - directory '\(path)' does not exist"
        case .badVolname(let volname): "unable to parse hello volume name '\(volname)'"
        case .noSnapshots: "hello storage has no snapshots"
        case .noAbsolutePath(let storeid): "storage '\(storeid)' has no absolute path"
        }
    }
}
