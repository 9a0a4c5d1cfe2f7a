import PVEStorage

/// A directory-backed storage: PVE's `dir` semantics on one configured path.
///
/// Every file-system access goes through ``system``; the type itself holds no state
/// beyond the configuration, so each plugin call builds a fresh one.
public struct DirectoryStorage: Sendable {
    public var id: String
    public var config: StorageConfig
    public var system: any SystemCalls
    /// Where warnings go (the call's, when the storage serves a plugin call).
    public var diagnostics = Diagnostics()
    /// The release whose `dir` the storage follows where releases differ.
    public var host = HostRelease.pve9

    /// How long a probe of the storage path may take before the storage counts as unreachable.
    public static let probeTimeout = 2

    public init(id: String, config: StorageConfig, system: any SystemCalls) {
        self.id = id
        self.config = config
        self.system = system
    }

    // MARK: - Paths

    /// The configured path; PVE's message when there is none (``StorageLocation/basePath()``).
    public func basePath() throws(StorageError) -> String {
        try config.location.basePath()
    }

    /// `get_subdir`: the directory of a content type, honouring `content-dirs`.
    public func subdirectory(for type: ContentType) throws(StorageError) -> String {
        try config.location.subdirectory(for: type)
    }

    /// `filesystem_path`: where a volume (or its snapshot) lives.
    ///
    /// Any snapshot selector but `.none` asks for a snapshot, which only qcow2 (and
    /// qed) volumes have, and raw images where the storage makes reflink snapshots.
    /// Snapshot names that become part of a file name must be valid ones.
    public func filesystemPath(_ volname: String, snapshot: SnapshotSelector = .none) throws(StorageError)
        -> (path: String, volume: VolumeName)
    {
        let volume = try VolumeName.parse(volname, for: host)
        var name = volume.name
        if snapshot.isRequested, volume.format != .image(.qcow2) {
            guard volume.format == .image(.raw), volume.vtype == .images, supportsReflinks() else {
                throw StorageError(SnapshotFailure.cannotSnapshotFormat)
            }
            if let snap = snapshot.name { name = Self.reflinkSnapshotPath(name, try SnapshotNames.validated(snap)) }
        } else if config.snapshotAsVolumeChain, let snap = snapshot.name {
            name = "snap-\(try SnapshotNames.validated(snap))-\(name)"
        }
        var directory = try subdirectory(for: volume.vtype)
        if volume.vtype == .images, let vmid = volume.vmid { directory += "/\(vmid)" }
        return ("\(directory)/\(name)", volume)
    }

    // MARK: - Activation and status

    /// The mount point the storage must sit on (`is_mountpoint`), or nil when none is required.
    public var requiredMountPoint: String? {
        guard let setting = config.isMountpoint else { return nil }
        switch setting.lowercased() {
        case "1", "on", "yes", "true": return config.path
        case "0", "off", "no", "false": return nil
        default: return setting
        }
    }

    /// Whether `mountPoint` (symlinks resolved) is a mount point in /proc/mounts.
    public func isMounted(_ mountPoint: String) -> Bool {
        guard let resolved = try? system.realPath(mountPoint),
              let table = try? system.readFile("/proc/mounts") else { return false }
        return MountTable.mountPoints(String(decoding: table, as: UTF8.self)).contains(resolved)
    }

    /// `activate_storage`: checks the mount point, creates the path and content
    /// directories as configured, and refuses content types sharing one directory.
    public func activate() throws(StorageError) {
        if let mountPoint = requiredMountPoint, !isMounted(mountPoint) {
            throw StorageError(ActivationFailure.notMounted(storage: id, mountPoint: mountPoint))
        }
        let path = try basePath()
        if config.createBasePath ?? config.makeDirectories ?? true {
            do { try system.makeDirectories(path) } catch {
                throw StorageError(ActivationFailure.baseDirectoryNotCreated(path: path, error))
            }
        }
        guard directoryIsReachable(path) else {
            throw StorageError(ActivationFailure.unreachable(storage: id, path: path))
        }
        defer { reclaimStaleTemporaries() }
        guard let content = config.content else { return }

        if config.createSubdirectories ?? true, config.makeDirectories ?? true {
            for type in ContentType.allCases.sorted()
            where content.contains(type) || (type == .backup && content.contains(.rootdir)) {
                try createContentDirectory(for: type)
            }
        }

        var seen: Set<String> = []
        for type in content {
            // dir looks the names up in order: one that is no content type fails where it sorts.
            if let unknown = config.unrecognized.content, PerlString.precedes(unknown, type.rawValue) { throw StorageLocation.unknownContentType(unknown) }
            let directory = try subdirectory(for: type)
            guard let resolved = try? system.realPath(directory) else { continue }
            guard seen.insert(resolved).inserted else {
                throw StorageError(ActivationFailure.sharedDirectory(storage: id, directory: resolved))
            }
        }
        if let unknown = config.unrecognized.content { throw StorageLocation.unknownContentType(unknown) }
    }

    private func createContentDirectory(for type: ContentType) throws(StorageError) {
        let directory = try subdirectory(for: type)
        do { try system.makeDirectories(directory) } catch {
            throw StorageError(ActivationFailure.contentDirectoryNotCreated(directory: directory, content: type, error))
        }
    }

    /// Removes the temporaries that killed operations left behind (see ``Temporaries``):
    /// in the storage directory (the identity's), each `images/<vmid>` and the backup
    /// directory (notes). Best effort: activation never fails for it.
    func reclaimStaleTemporaries() {
        guard let path = try? basePath() else { return }
        system.reclaimStaleTemporaries(in: path)
        if let images = try? subdirectory(for: .images), let owners = try? system.listDirectory(images) {
            // The reflink probe's files live in the images directory itself.
            system.reclaimStaleTemporaries(in: images)
            for owner in owners.compactMap(\.name) where PerlString.isDigits(owner.utf8) {
                system.reclaimStaleTemporaries(in: images + "/" + owner)
            }
        }
        if let dump = try? subdirectory(for: .backup) { system.reclaimStaleTemporaries(in: dump) }
    }

    /// `-d $path`, bounded in time: a hung network mount must not hang the PVE daemon.
    func directoryIsReachable(_ path: String) -> Bool {
        let system = self.system
        let answer = system.probe(timeout: Self.probeTimeout) { system.isDirectory(path) ? [1] : [0] }
        return answer == [1]
    }

    /// `status`: (total, available, used) in bytes, or nil when the storage is unavailable.
    public func usage() throws(StorageError) -> FileSystemUsage? {
        if let mountPoint = requiredMountPoint, !isMounted(mountPoint) { return nil }
        let path = try basePath()
        let system = self.system
        let numbers = system.probe(timeout: Self.probeTimeout) {
            guard let usage = try? system.fileSystemUsage(path) else { return nil }
            return [usage.total, usage.available, usage.used]
        }
        guard let numbers, numbers.count == 3, numbers[0] > 0 else { return nil }
        return FileSystemUsage(total: numbers[0], available: numbers[1], used: numbers[2])
    }

    // MARK: - Configuration

    /// The `dir` rule for a new storage's path: a restricted character set, then canonicalised.
    public static func validatedPath(_ path: String) throws(StorageError) -> String {
        let allowed = path.utf8.allSatisfy { byte in
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
            case UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "@"): return true
            default: return false
            }
        }
        guard path.hasPrefix("/"), path.utf8.count >= 2, allowed else {
            throw StorageError(StorageLocationFailure.illegalPath(path))
        }
        return FilePath.canonical(path)
    }
}

/// The mount table format of /proc/mounts.
public enum MountTable {
    /// The mount-point column of every entry, with the kernel's octal escapes decoded.
    public static func mountPoints(_ table: String) -> Set<String> {
        var points: Set<String> = []
        for line in table.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.isEmpty, trimmed.first != "#" else { continue }
            let fields = trimmed.split(omittingEmptySubsequences: false, whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2 else { continue }
            points.insert(decode(String(fields[1])))
        }
        return points
    }

    /// Decodes `\040` (space), `\011` (tab), `\012` (newline) and `\134` / `\\` (backslash).
    static func decode(_ field: String) -> String {
        var result = ""
        var rest = Substring(field)
        while let escape = rest.firstIndex(of: "\\") {
            result += rest[..<escape]
            let after = rest[rest.index(after: escape)...]
            if let (text, length) = [("040", " "), ("011", "\t"), ("012", "\n"), ("134", "\\"), ("\\", "\\")]
                .lazy.first(where: { after.hasPrefix($0.0) }).map({ ($0.1, $0.0.count) }) {
                result += text
                rest = after.dropFirst(length)
            } else {
                result += "\\"
                rest = after
            }
        }
        return result + rest
    }
}

extension DirectoryStorage {
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
                _ = try config.location.subdirectory(named: name)
            }
        }
        return volumes
    }
}
