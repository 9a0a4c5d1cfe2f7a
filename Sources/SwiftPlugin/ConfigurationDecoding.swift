import CPVEStorageSDK
import DirectoryBackend
import PVEStorage
import PVEStoragePerl

extension StorageConfig: PluginConfiguration {
    /// The keys of `$scfg` the storage reads.
    enum Option {
        case type, path, content, contentDirectories, format, preallocation, snapshotAsVolumeChain
        case createBasePath, createSubdirectories, makeDirectories, isMountpoint

        init?(_ key: PerlKey) {
            if key == "path" { self = .path } else if key == "content" { self = .content }
            else if key == "type" { self = .type } else if key == "content-dirs" { self = .contentDirectories }
            else if key == "format" { self = .format } else if key == "preallocation" { self = .preallocation }
            else if key == "snapshot-as-volume-chain" { self = .snapshotAsVolumeChain }
            else if key == "create-base-path" { self = .createBasePath }
            else if key == "create-subdirs" { self = .createSubdirectories }
            else if key == "mkdir" { self = .makeDirectories } else if key == "is_mountpoint" { self = .isMountpoint }
            else { return nil }
        }

        init?(_ key: String) {
            var key = key
            guard let matched = key.withUTF8({ Option(PerlKey(bytes: UnsafeRawBufferPointer($0))) }) else {
                return nil
            }
            self = matched
        }
    }

    /// From PVE's `$scfg` hash; anything else is refused.
    public init(perl value: Value) throws(StorageError) {
        guard let members = value.hash else { throw StorageError(ArgumentFailure.configurationNotAHash) }
        self.init()
        for (key, member) in members {
            if let option = Option(key) { set(option, member) }
        }
    }

    /// Reads only the keys the storage reads, without building the others' values:
    /// every call with a `$scfg` reads one.
    public static func decode(from value: PerlValue) throws(StorageError) -> StorageConfig {
        guard value.isHash else { return try StorageConfig(perl: try value.value()) }
        var config = StorageConfig()
        var members = value.members
        while let (key, member) = members.next() {
            guard let option = Option(key) else { continue }
            if option == .content, member.isHash {
                let (types, unknown) = contentTypes(of: member)
                config.content = types
                config.unrecognized.content = unknown
            } else if option == .contentDirectories, member.isHash {
                config.location.contentDirectories = try StorageLocation.contentDirectories(member)
            } else {
                config.set(option, try member.value())
            }
        }
        return config
    }

    /// The content types the member names of a hash name, sorted, and the least name
    /// that names none. No string is built for a known name.
    private static func contentTypes(of hash: PerlValue) -> (types: [ContentType], unknown: String?) {
        var named: UInt32 = 0 // bit i: ContentType.sorted[i]
        var unknown: String?
        var members = hash.members
        while let (key, _) = members.next() {
            if let type = ContentType.named(key.bytes), let index = ContentType.sorted.firstIndex(of: type) {
                named |= 1 << index
            } else {
                let name = key.string
                if unknown.map({ perlPrecedes(name, $0) }) ?? true { unknown = name }
            }
        }
        var types: [ContentType] = []
        types.reserveCapacity(named.nonzeroBitCount)
        for (index, type) in ContentType.sorted.enumerated() where named & (1 << index) != 0 { types.append(type) }
        return (types, unknown)
    }

    /// Perl's `lt` on strings.
    private static func perlPrecedes(_ left: String, _ right: String) -> Bool {
        left.utf8.lexicographicallyPrecedes(right.utf8)
    }

    /// One option as Perl's tests in `dir` read it.
    mutating func set(_ option: Option, _ value: Value) {
        /// A boolean option: nil when unset, else its Perl truth.
        var flag: Bool? { value.isDefined ? value.isTrue : nil }
        switch option {
        case .type: type = value.string ?? "swift"
        case .path: location.path = StorageLocation.path(value)
        case .content: setContent(value.isDefined ? (value.hash.map { Array($0.keys) } ?? []) : nil)
        case .contentDirectories: location.contentDirectories = StorageLocation.contentDirectories(value)
        case .format:
            defaultFormat = value.string.flatMap(ImageFormat.init(rawValue:))
            unrecognized.defaultFormat = defaultFormat == nil ? value.string : nil
        case .preallocation: preallocation = value.string.map { Preallocation($0) }
        case .snapshotAsVolumeChain: snapshotAsVolumeChain = value.isTrue
        case .createBasePath: createBasePath = flag
        case .createSubdirectories: createSubdirectories = flag
        case .makeDirectories: makeDirectories = flag
        case .isMountpoint: isMountpoint = value.string
        }
    }

    /// The `content` option from its names (nil when absent).
    mutating func setContent(_ names: [String]?) {
        guard let names else {
            content = nil
            unrecognized.content = nil
            return
        }
        content = Set(names.compactMap(ContentType.init(rawValue:))).sorted()
        unrecognized.content = names.filter { ContentType(rawValue: $0) == nil }.min(by: Self.perlPrecedes)
    }
}

extension StorageLocation: PluginConfiguration {
    public init(perl value: Value) throws(StorageError) {
        self = try StorageConfig(perl: value).location
    }

    /// `path` and `content-dirs` of PVE's `$scfg`, looked up: `get_subdir` reads nothing else.
    public static func decode(from value: PerlValue) throws(StorageError) -> StorageLocation {
        guard value.isHash else { return try StorageConfig.decode(from: value).location }
        var location = StorageLocation()
        let path = value.member("path")
        if path.isDefined { location.path = Self.path(try path.value()) }
        let directories = value.member("content-dirs")
        switch directories.kind {
        case SPVE_KIND_UNDEF: break
        case SPVE_KIND_HASH: location.contentDirectories = try Self.contentDirectories(directories)
        default: location.contentDirectories = Self.contentDirectories(try directories.value())
        }
        return location
    }

    /// `content-dirs` as a hash, read in place: only the members that name a content
    /// type are read, and an empty hash (which `dir`'s own `get_subdir` autovivifies
    /// into every `$scfg` it reads) costs no allocation.
    static func contentDirectories(_ hash: PerlValue) throws(StorageError) -> [ContentType: String] {
        var directories: [ContentType: String] = [:]
        var members = hash.members
        while let (key, member) = members.next() {
            if let type = ContentType.named(key.bytes), let directory = try member.value().string { directories[type] = directory }
        }
        return directories
    }

    /// `path` as dir tests it: unset when false in Perl's sense.
    static func path(_ value: Value) -> String? {
        value.isTrue ? value.string : nil
    }

    /// `content-dirs`: only a known type's directory is ever looked up.
    static func contentDirectories(_ value: Value) -> [ContentType: String] {
        var directories: [ContentType: String] = [:]
        for (name, directory) in value.hash ?? [:] {
            if let type = ContentType(rawValue: name), let directory = directory.string { directories[type] = directory }
        }
        return directories
    }
}

extension Retention {
    /// From `prune_backups`' keep hash (`{'keep-last' => 3, ...}`); anything else keeps all.
    public init(perl keep: PVEStoragePerl.Value) {
        self.init((keep.hash ?? [:]).mapValues { Scalar(perl: $0) })
    }
}
