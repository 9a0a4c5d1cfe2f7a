/// The conversions from Perl values to the typed arguments of the plugin methods,
/// used by the generated decoders (Arguments.swift). Each follows what PVE's Perl
/// makes of the value, and refuses what no caller passes with a message naming the
/// argument.
public enum PerlArgument {
    /// A byte string as Perl reads it: undef is the empty string. Bytes that are not
    /// UTF-8 are refused: no volume or path of this storage has them.
    public static func string(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String {
        switch value {
        case .undef:
            return ""
        case .string(let text):
            return text
        case .text(let text):
            call.characterArguments.insert(name)
            return text
        case .bytes:
            throw StorageError("invalid \(name) '\(value.printable)' - not valid UTF-8")
        case .int, .double:
            return value.string ?? ""
        case .array, .hash:
            throw StorageError("invalid \(name) - not a string")
        }
    }

    /// The name of one of a fixed set of things (a feature, an attribute, a content type):
    /// a value that is no string names none of them, as `dir`'s hash lookups find nothing.
    public static func selector(_ value: Value, _ name: String, _ call: Call) -> String {
        value.string ?? ""
    }

    /// A string, or nil when undef.
    public static func optionalString(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String? {
        value.isDefined ? try string(value, name, call) : nil
    }

    /// A string, or nil when false in Perl's sense (undef, "" or "0"): names that
    /// `dir` tests with `if ($name)`.
    public static func nameIfTrue(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String? {
        value.isTrue ? try string(value, name, call) : nil
    }

    public static func bool(_ value: Value, _ name: String, _ call: Call) -> Bool {
        value.isTrue
    }

    /// An array of strings (elements that are not strings are left out); nil when undef.
    public static func optionalStrings(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> [String]? {
        guard value.isDefined else { return nil }
        guard let elements = value.array else { throw StorageError("\(name) is not an array") }
        return elements.compactMap(\.string)
    }

    /// An array of strings; empty when undef or not an array.
    public static func strings(_ value: Value, _ name: String, _ call: Call) -> [String] {
        (value.array ?? []).compactMap(\.string)
    }

    /// `$snapname`: undef is no snapshot; a reference still asks for one, as `defined` says.
    /// A name that is not UTF-8 is refused: no snapshot file has one.
    public static func snapshot(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> SnapshotSelector {
        switch value {
        case .undef: return .none
        case .bytes: throw StorageError("invalid \(name) '\(value.printable)' - not valid UTF-8")
        case .array, .hash: return .named(value.printable)
        default: return SnapshotSelector(value.string)
        }
    }

    public static func scalar(_ value: Value, _ name: String, _ call: Call) -> Scalar {
        Scalar(perl: value)
    }

    public static func value(_ value: Value, _ name: String, _ call: Call) -> Value {
        value
    }

    /// The configuration ``RequestReader/storageConfig()`` decoded, or the refusal of an absent one.
    public static func storageConfig(decoded: StorageConfig?, _ name: String, _ call: Call) throws(StorageError) -> StorageConfig {
        guard let decoded else { return try StorageConfig(perl: .undef) }
        return decoded
    }

    /// A file descriptor the glue took from a Perl file handle (-1 for anything else).
    public static func fileDescriptor(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> Int32 {
        guard let number = value.int, let descriptor = Int32(exactly: number), descriptor >= 0 else {
            throw StorageError("\(name) is not a file handle")
        }
        return descriptor
    }
}

extension Scalar {
    /// A Perl scalar's string, integer, numeric value and truth; references have no text.
    public init(perl value: Value) {
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let double): number = double
        case .string(let text), .text(let text): number = Scalar.leadingNumber(text)
        default: number = 0
        }
        self.init(text: value.string, integer: value.int, number: number, isTrue: value.isTrue, printable: value.printable)
    }
}

extension StorageConfig {
    /// The keys of `$scfg` the storage reads.
    enum Option {
        case type, path, content, contentDirectories, format, preallocation, snapshotAsVolumeChain
        case createBasePath, createSubdirectories, makeDirectories, isMountpoint

        init?(_ key: RequestReader.Key) {
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
            guard let matched = key.withUTF8({ Option(RequestReader.Key(bytes: UnsafeRawBufferPointer($0))) }) else {
                return nil
            }
            self = matched
        }
    }

    /// From PVE's `$scfg` hash; anything else is refused.
    public init(perl value: Value) throws(StorageError) {
        guard let members = value.hash else { throw StorageError("storage configuration is not a hash") }
        self.init()
        for (key, member) in members {
            if let option = Option(key) { set(option, member) }
        }
    }

    /// One option as Perl's tests in `dir` read it.
    mutating func set(_ option: Option, _ value: Value) {
        /// A boolean option: nil when unset, else its Perl truth.
        var flag: Bool? { value.isDefined ? value.isTrue : nil }
        switch option {
        case .type: type = value.string ?? "swift"
        case .path: path = value.isTrue ? value.string : nil
        case .content: setContent(value.isDefined ? (value.hash.map { Array($0.keys) } ?? []) : nil)
        case .contentDirectories:
            // Only a known type's directory is ever looked up.
            contentDirectories = [:]
            for (name, directory) in value.hash ?? [:] {
                if let type = ContentType(rawValue: name), let directory = directory.string { contentDirectories[type] = directory }
            }
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
        unrecognized.content = names.filter { ContentType(rawValue: $0) == nil }.min(by: Grammar.perlPrecedes)
    }

    /// A configuration with `path`, `content` and further options as PVE would pass them.
    public init(path: String?, content: [String]? = nil, extra: [String: Value]) {
        self.init(path: path)
        setContent(content)
        for (key, value) in extra {
            if let option = Option(key) { set(option, value) }
        }
    }
}

extension Retention {
    /// From `prune_backups`' keep hash (`{'keep-last' => 3, ...}`); anything else keeps all.
    public init(perl keep: SwiftPluginCore.Value) {
        self.init((keep.hash ?? [:]).mapValues { Scalar(perl: $0) })
    }
}

extension FormatName where Format: RawRepresentable, Format.RawValue == String {
    /// The format a method argument names, if any.
    public init(_ name: String) {
        self = Format(rawValue: name).map(FormatName.known) ?? .other(name)
    }
}

extension DirectoryStorage {
    /// `get_subdir` for a content type's name; an unknown one fails after the path is checked, as in dir.
    public func subdirectory(named vtype: String) throws(StorageError) -> String {
        guard let type = ContentType(rawValue: vtype) else {
            _ = try basePath()
            throw Self.unknownContentType(vtype)
        }
        return try subdirectory(for: type)
    }

    /// `list_volumes` for content type names: dir fails on an unknown one where it looks up
    /// its directory, after listing the types before it and never without a path.
    public func listVolumes(vmid: String?, contentTypeNames names: [String], guestTypes: [String: String])
        throws(StorageError) -> [ListedVolume]
    {
        var volumes: [ListedVolume] = []
        for name in names {
            if let type = ContentType(rawValue: name) {
                volumes += try listVolumes(vmid: vmid, contentTypes: [type], guestTypes: guestTypes)
            } else if config.path != nil {
                _ = try subdirectory(named: name)
            }
        }
        return volumes
    }
}
