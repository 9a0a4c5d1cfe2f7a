/// One storage's decoded configuration (`$scfg`), as PVE passes it to plugin methods.
///
/// Only what the storage logic reads is modelled; the raw hash stays available
/// for everything PVE itself evaluates (nodes, shared, bwlimit, ...).
public struct StorageConfig: Sendable {
    public var raw: [String: Value]

    public init(_ value: Value) throws(StorageError) {
        guard let members = value.hash else { throw StorageError("storage configuration is not a hash") }
        raw = members
    }

    public init(path: String?, content: [String]? = nil, extra: [String: Value] = [:]) {
        var members = extra
        if let path { members["path"] = .string(path) }
        if let content { members["content"] = .hash(Dictionary(uniqueKeysWithValues: content.map { ($0, Value.int(1)) })) }
        raw = members
    }

    /// The storage path, or nil when it is unset or false in Perl's sense (as `dir` tests it).
    public var path: String? {
        guard let value = raw["path"], value.isTrue else { return nil }
        return value.string
    }

    /// The configured content types; nil when the `content` key is absent.
    public var content: [String]? {
        guard let value = raw["content"], value.isDefined else { return nil }
        return value.hash.map { Array($0.keys).sorted() } ?? []
    }

    public var contentDirectories: [String: String] {
        guard let members = raw["content-dirs"]?.hash else { return [:] }
        return members.compactMapValues { $0.string }
    }

    public var type: String { raw["type"]?.string ?? "swift" }
    public var defaultFormat: String? { raw["format"]?.string }
    public var preallocation: String? { raw["preallocation"]?.string }
    public var snapshotAsVolumeChain: Bool { raw["snapshot-as-volume-chain"]?.isTrue ?? false }

    /// A boolean option: nil when unset, else its Perl truth.
    public func flag(_ name: String) -> Bool? {
        guard let value = raw[name], value.isDefined else { return nil }
        return value.isTrue
    }

    public var isMountpoint: String? { raw["is_mountpoint"]?.string }
}
