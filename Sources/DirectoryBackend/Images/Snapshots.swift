import PVEStorage

import Synchronization

/// What a volume's snapshot is, by its format and the storage.
public enum SnapshotKind: Equatable, Sendable {
    /// qcow2 internal snapshots, made with `qemu-img snapshot` (`dir`'s default).
    case internalQCOW2
    /// `snapshot-as-volume-chain`: each snapshot is the former volume file
    /// `snap-<name>-<volume>`, below a new qcow2 overlay under the volume's name.
    case volumeChain
    /// A raw image on a file system that shares extents: `<volume>@<name>`, a reflink copy.
    case reflink
}

/// How QEMU takes a snapshot of the volume of a running VM (`volume_qemu_snapshot_method`).
public enum QEMUSnapshotMethod: String, Sendable {
    case qemu, storage, mixed
}

/// One snapshot of a volume, as `volume_snapshot_info` reports it.
public struct SnapshotDetails: Equatable, Sendable {
    public var name: String
    /// When it was taken (internal and reflink snapshots).
    public var timestamp: Int64?
    /// Reflink snapshots: what tells this snapshot from another of the same name, equal on a replica.
    public var id: String?
    /// The disk's size in the snapshot.
    public var virtualSize: Int64?
    /// Volume chains and reflink snapshots: the file that holds it.
    public var file: String?
    /// Volume chains: 0 for `current`, one more for each older layer.
    public var order: Int?
    /// Volume chains: `<vmid>/<file name>` and the volid, and the neighbouring layers.
    public var volname: String?
    public var volid: String?
    public var parent: String?
    public var child: String?

    public init(name: String) { self.name = name }
}

/// Snapshot names as PVE's own callers pass them: the API's names (a letter, then
/// letters, digits, `-` and `_`), and also those PVE gives itself without the API's
/// check (`__replicate_<job>_<time>__`, `__migration__`, `vzdump`). The names become
/// parts of file names (`snap-<name>-<volume>`, `<volume>@<name>`), so only what could
/// break that layout is refused: an empty or overlong name, `/`, `..`, and control
/// characters (which also break PVE's line-based guest configuration and logs).
public enum SnapshotNames {
    /// In bytes: with the volume's own name it stays within a file name's 255 bytes.
    public static let maximumLength = 128
    /// The name of a volume's current state in a volume chain.
    public static let current = "current"

    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") { return false }
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    /// `name` when valid; the error names it (shortened, control characters escaped).
    public static func validated(_ name: String) throws(StorageError) -> String {
        guard isValid(name) else {
            let shown = name.count > 60 ? String(name.prefix(60)) + "..." : name
            throw StorageError("invalid snapshot name '\(DirectoryStorage.escapingControls(shown))' - it must be 1 to "
                + "\(maximumLength) bytes long, without '/', '..' or control characters")
        }
        return name
    }

    /// The name of a new snapshot: valid, and not the reserved `current`.
    static func forNewSnapshot(_ selector: SnapshotSelector) throws(StorageError) -> String {
        guard case .named(let name) = selector else {
            if selector == .current { throw StorageError("snapshot name 'current' is reserved for the current state of a volume") }
            throw StorageError("missing snapname")
        }
        return try validated(name)
    }

    /// A snapshot asked for by name (rollback, delete, rename): `missing snapname` when none.
    static func requested(_ selector: SnapshotSelector) throws(StorageError) -> String {
        guard let name = selector.name else {
            if selector == .current { return current }
            throw StorageError("missing snapname")
        }
        return name
    }
}

/// Whether a directory's file system can share extents (`FICLONE`), probed once per
/// directory and process with two throw-away files; only a definite answer is kept.
enum ReflinkSupport {
    /// Answers by directory, for the life of the process.
    static let known = Mutex<[String: Bool]>([:])

    static func isSupported(in directory: String, system: any SystemCalls) -> Bool {
        if let answer = known.withLock({ $0[directory] }) { return answer }
        guard let answer = probe(directory, system) else { return false }
        known.withLock { $0[directory] = answer }
        return answer
    }

    /// True or false when the file system answered; nil when the probe itself failed
    /// (no directory yet, a full disk): asked again next time.
    private static func probe(_ directory: String, _ system: any SystemCalls) -> Bool? {
        guard let source = try? system.createTemporaryFile(in: directory, contents: [UInt8](repeating: 0x5A, count: 4096), mode: 0o600)
        else { return nil }
        defer { try? system.removeFile(source) }
        guard let target = try? system.createTemporaryFile(in: directory, mode: 0o600) else { return nil }
        defer { try? system.removeFile(target) }
        do {
            try system.cloneFile(source, into: target)
            return true
        } catch {
            let refusals: [Errno] = [.notSupported, .crossDevice, .invalidArgument, .notTypewriter, .notImplemented]
            return refusals.contains(error) ? false : nil
        }
    }
}

extension DirectoryStorage {
    // MARK: - Kinds and paths

    /// The kind of snapshot the volume takes, nil when it takes none (`dir`'s refusal).
    func snapshotKind(of volume: VolumeName) throws(StorageError) -> SnapshotKind? {
        switch volume.format {
        case .image(.qcow2):
            return config.snapshotAsVolumeChain ? .volumeChain : .internalQCOW2
        case .image(.raw) where volume.vtype == .images:
            return supportsReflinks() ? .reflink : nil
        default:
            return nil
        }
    }

    /// The kind of an existing snapshot `selector` of the volume at `path`: as the volume
    /// takes them, or a reflink snapshot whose file is there although the probe cannot
    /// say so now (a full disk, a file system that lost reflinks): rolling back or
    /// deleting it then fails with the real reason, or needs no reflink at all.
    func snapshotKind(of volume: VolumeName, path: String, existing selector: SnapshotSelector) throws(StorageError) -> SnapshotKind? {
        if let kind = try snapshotKind(of: volume) { return kind }
        guard volume.format == .image(.raw), volume.vtype == .images, let name = selector.name,
              SnapshotNames.isValid(name), system.exists(Self.reflinkSnapshotPath(path, name))
        else { return nil }
        return .reflink
    }

    /// Whether raw images of this storage can have reflink snapshots.
    /// Probed in the images directory, or in the storage's own while that does not exist
    /// yet (a new node's storage, the target of a first replication).
    public func supportsReflinks() -> Bool {
        guard let directory = try? subdirectory(for: .images) else { return false }
        if !system.isDirectory(directory), let base = try? basePath(), system.isDirectory(base) {
            return ReflinkSupport.isSupported(in: base, system: system)
        }
        return ReflinkSupport.isSupported(in: directory, system: system)
    }

    /// The file of a raw volume's reflink snapshot.
    static func reflinkSnapshotPath(_ path: String, _ name: String) -> String { path + "@" + name }

    /// Refuses a new raw volume (or a new name for one) at `path` while reflink snapshots
    /// of that name are there (left by a killed operation or outside PVE): the volume
    /// would inherit them, and a rollback would bring back another disk's data.
    func refuseLeftoverSnapshots(at path: String) throws(StorageError) {
        guard path.hasSuffix(".\(ImageFormat.raw)") else { return }
        let leftovers = try reflinkSnapshotFiles(of: path)
        guard leftovers.isEmpty else {
            throw StorageError("disk image '\(path)' has snapshot files left from an earlier volume of that name ("
                + leftovers.map { "'\(FilePath.name(of: $0.path))'" }.joined(separator: ", ") + "); remove them first")
        }
    }

    /// The reflink snapshots of a raw volume at `path` (files `<name>@<snapshot>`), by name.
    /// A directory that cannot be read is an error: removing or moving a volume without
    /// its snapshots would leave them to the next volume of that name.
    func reflinkSnapshotFiles(of path: String) throws(StorageError) -> [(name: String, path: String)] {
        let prefix = FilePath.name(of: path) + "@"
        let directory = FilePath.parent(of: path)
        let entries: [DirectoryEntry]
        do { entries = try system.listDirectory(directory) } catch {
            if error == .noSuchFileOrDirectory { return [] }
            throw StorageError("unable to list the snapshots of '\(path)' - \(error)", errno: error)
        }
        return entries.compactMap(\.name).filter { $0.hasPrefix(prefix) }.compactMap { entry in
            let name = String(entry.dropFirst(prefix.count))
            return SnapshotNames.isValid(name) ? (name, directory + "/" + entry) : nil
        }.sorted { $0.name < $1.name }
    }

    // MARK: - Volume chains

    /// One layer of a volume chain, newest first: `current` (the volume file), then its
    /// snapshots, as long as each backing file is a `snap-<name>-<volume>` file.
    struct ChainLayer {
        var name: String
        var file: String
        var virtualSize: Int64
    }

    /// The layers of the chain below `path`; the backing references are read from the
    /// qcow2 headers natively (dir runs `qemu-img info --backing-chain`). A snapshot layer
    /// that cannot be read breaks the chain: qemu-img's error for that file, as dir gets it
    /// (removing or moving the volume without all its layers would leave them behind).
    func volumeChain(_ path: String) throws(StorageError) -> [ChainLayer] {
        let directory = FilePath.parent(of: path)
        let volumeName = FilePath.name(of: path)
        var layers: [ChainLayer] = []
        var file = path
        var name = SnapshotNames.current
        while layers.count <= Self.maximumDisksPerGuest {
            guard let header = try qcow2Header(file) else {
                // Not a qcow2 file: a layer of its own, with nothing below it (qemu-img
                // would probe it as raw).
                let size = (try? system.status(file, followSymlinks: true).size) ?? 0
                layers.append(ChainLayer(name: name, file: file, virtualSize: ImageInspector.rawSize(size)))
                break
            }
            layers.append(ChainLayer(name: name, file: file, virtualSize: header.virtualSize))
            guard let backing = header.backingFile else { break }
            let backingName = FilePath.name(of: backing)
            guard let snapshot = Self.chainSnapshotName(backingName, volume: volumeName) else { break }
            let next = backing.hasPrefix("/") ? backing : directory + "/" + backing
            guard !layers.contains(where: { $0.file == next }) else { break }
            file = next
            name = snapshot
        }
        return layers
    }

    /// The header of a qcow2 file, nil when the file is not a qcow2 image; a failure in
    /// qemu-img's words.
    private func qcow2Header(_ file: String) throws(StorageError) -> ImageHeader? {
        let info: FileStatus
        do { info = try system.status(file, followSymlinks: true) } catch {
            throw StorageError("qemu-img: Could not open '\(file)': Could not open '\(file)': \(error)", errno: error)
        }
        do { return try QCOW2.readHeader(ImageFile(path: file, length: info.size, system: system)) } catch {
            if error.isWrongFormat { return nil }
            throw ImageInspectionError(kind: .invalidHeader, path: file, reason: error.reason).storageError
        }
    }

    /// `<name>` of a file `snap-<name>-<volume>` (the longest such name, as dir's pattern).
    static func chainSnapshotName(_ file: String, volume: String) -> String? {
        let suffix = "-" + volume
        guard file.hasPrefix("snap-"), file.hasSuffix(suffix), file.utf8.count > 5 + suffix.utf8.count else { return nil }
        return String(file.dropFirst(5).dropLast(suffix.count))
    }

    /// `snap-<name>-<volume>` files that are the volume file itself under a second name:
    /// what a chain snapshot killed after its link and before its overlay leaves.
    func leftoverChainLinks(of path: String, own: FileStatus) -> [String] {
        let directory = FilePath.parent(of: path)
        let volumeName = FilePath.name(of: path)
        guard let entries = try? system.listDirectory(directory) else { return [] }
        return entries.compactMap(\.name).filter { Self.chainSnapshotName($0, volume: volumeName) != nil }.compactMap { name in
            let file = directory + "/" + name
            guard let info = try? system.status(file, followSymlinks: false), info.isSameFile(as: own) else { return nil }
            return file
        }
    }

    /// The external snapshot files below a volume in a chain, newest first.
    func chainSnapshotFiles(of path: String) throws(StorageError) -> [String] {
        try volumeChain(path).dropFirst().map(\.file)
    }

    /// The volume a snapshot method works on. A name that is no volume is refused as dir
    /// refuses it, by its extension before any parsing (`refusal`, the method's message),
    /// unless it names a qcow2 file, whose parse error is the answer.
    private func snapshotVolume(_ volname: String, refusal: String) throws(StorageError) -> VolumeName {
        do { return try VolumeName.parse(volname, for: host) } catch {
            guard volname.hasSuffix(".qcow2") || volname.hasSuffix(".qed") else { throw StorageError(refusal) }
            throw error
        }
    }

    // MARK: - volume_snapshot

    /// `volume_snapshot`: takes snapshot `selector` of the volume.
    public func takeSnapshot(_ volname: String, _ selector: SnapshotSelector) throws(StorageError) {
        let volume = try snapshotVolume(volname, refusal: "can't snapshot this image format")
        guard let kind = try snapshotKind(of: volume) else { throw StorageError("can't snapshot this image format") }
        let name = try SnapshotNames.forNewSnapshot(selector)
        let (path, _) = try filesystemPath(volname)
        switch kind {
        case .internalQCOW2:
            try runQemuImg(QemuImg.snapshot(.create, name, path: path), errorPrefix: nil)
        case .volumeChain:
            try takeChainSnapshot(volname, name, path: path)
        case .reflink:
            try takeReflinkSnapshot(volname, name, path: path)
        }
    }

    /// The former volume file becomes `snap-<name>-<volume>` and a new overlay backed by it
    /// takes the volume's name. Unlike dir (rename, then create), the volume's name never
    /// goes missing: the snapshot name is a second link to the file, and the overlay,
    /// written under a temporary name, replaces the volume's name in one rename.
    private func takeChainSnapshot(_ volname: String, _ name: String, path: String) throws(StorageError) {
        let (snapshotPath, _) = try filesystemPath(volname, snapshot: .named(name))
        diagnostics.print("rename \(path) to \(snapshotPath)")
        let volumeStatus: FileStatus
        do { volumeStatus = try system.status(path, followSymlinks: false) } catch {
            throw StorageError("rename '\(path)' to '\(snapshotPath)' failed - \(error)", errno: error)
        }
        if let existing = try? system.status(snapshotPath, followSymlinks: false) {
            // A link left by a snapshot that was killed before its overlay was in place.
            guard existing.isSameFile(as: volumeStatus) else { throw StorageError("target snapshot '\(name)' already exists") }
            try? system.removeFile(snapshotPath)
        }
        var linked = true
        do { try system.link(path, to: snapshotPath) } catch {
            if error == .fileExists { throw StorageError("target snapshot '\(name)' already exists") }
            guard [.operationNotPermitted, .notSupported, .notImplemented, .tooManyLinks].contains(error) else {
                throw StorageError("rename '\(path)' to '\(snapshotPath)' failed - \(error)", errno: error)
            }
            // No hard links here: dir's order, renaming the file back on failure.
            do { try system.rename(path, to: snapshotPath, replacing: false) } catch {
                if error == .fileExists { throw StorageError("target snapshot '\(name)' already exists") }
                throw StorageError("rename '\(path)' to '\(snapshotPath)' failed - \(error)", errno: error)
            }
            linked = false
        }
        do throws(StorageError) {
            try replaceWithOverlay(path, backedBy: FilePath.name(of: snapshotPath))
        } catch {
            diagnostics.warn(error.message)
            if linked {
                try? system.removeFile(snapshotPath)
            } else if (try? system.rename(snapshotPath, to: path, replacing: false)) == nil {
                diagnostics.warn("rename '\(snapshotPath)' to '\(path)' failed")
            }
            throw StorageError("can't allocate new volume \(volname) with \(name) backing image")
        }
    }

    /// Puts a new qcow2 overlay backed by `backing` (a file name in the same directory)
    /// in place of `path`, atomically: written under a temporary name, then renamed.
    private func replaceWithOverlay(_ path: String, backedBy backing: String) throws(StorageError) {
        let preallocation = try QemuImg.preallocation(config.preallocation, format: .image(.qcow2))
        try createImage(at: path, removingEmptyDirectory: false,
                        { QemuImg.createBacked(path: $0, backing: backing, backingFormat: .image(.qcow2), layout: .extendedL2,
                                               preallocation: preallocation) },
                        publish: { temporary throws(StorageError) in
                            do throws(Errno) { try system.rename(temporary, to: path, replacing: true) } catch {
                                throw StorageError("cannot move the new overlay to '\(path)' - \(error)", errno: error)
                            }
                        })
    }

    /// A reflink copy under `<volume>@<name>`, published by a rename once complete.
    private func takeReflinkSnapshot(_ volname: String, _ name: String, path: String) throws(StorageError) {
        let snapshotPath = Self.reflinkSnapshotPath(path, name)
        let exists = StorageError("snapshot '\(name)' already exists on '\(volname)'")
        guard system.isGone(snapshotPath) else { throw exists }
        let identity = SnapshotIdentity.new(at: system.currentTime())
        try reflinkCopy(of: path, to: snapshotPath, replacing: false, exists: exists) { temporary in
            // Without user attributes the snapshot still works; it is then identified by its inode.
            try? system.setExtendedAttribute(SnapshotIdentity.attribute, of: temporary, to: identity.encoded)
        }
    }

    /// The identity of a reflink snapshot file (``SnapshotIdentity``): its attribute, or
    /// the fallback when it has none (or the file system keeps none, or it is not an
    /// identity). An attribute that cannot be read now is an error: another id would be
    /// sent, and kept by the replica for good.
    func reflinkSnapshotIdentity(_ snapshotPath: String, status: FileStatus) throws(StorageError) -> SnapshotIdentity {
        let value: [UInt8]?
        do { value = try system.extendedAttribute(SnapshotIdentity.attribute, of: snapshotPath) } catch {
            guard error == .notSupported else {
                throw StorageError("cannot read the id of snapshot file '\(snapshotPath)' - \(error)", errno: error)
            }
            value = nil
        }
        return value.flatMap(SnapshotIdentity.init(encoded:)) ?? .fallback(for: status)
    }

    /// Clones `source` into a temporary in the target's directory, with the source's
    /// permissions, and renames it to `target`: the target is the old file or the complete copy.
    func reflinkCopy(of source: String, to target: String, replacing: Bool, exists: StorageError,
                     beforePublishing prepare: (String) throws(StorageError) -> Void = { _ in }) throws(StorageError) {
        let directory = FilePath.parent(of: target)
        let info: FileStatus
        do { info = try system.status(source, followSymlinks: false) } catch {
            throw StorageError("stat '\(source)' failed - \(error)", errno: error)
        }
        guard info.kind == .regular else { throw StorageError("'\(source)' is not a regular file") }
        let temporary: String
        do { temporary = try system.createTemporaryFile(in: directory, mode: 0o600) } catch {
            throw StorageError("cannot create a temporary file in '\(directory)' - \(error)", errno: error)
        }
        do throws(StorageError) {
            do { try system.cloneFile(source, into: temporary) } catch {
                throw StorageError("reflink copy of '\(source)' failed - \(error)", errno: error)
            }
            try? system.setMode(temporary, info.mode & 0o777)
            try prepare(temporary)
            do { try system.rename(temporary, to: target, replacing: replacing) } catch {
                if error == .fileExists { throw exists }
                throw StorageError("rename to '\(target)' failed - \(error)", errno: error)
            }
        } catch {
            try? system.removeFile(temporary)
            throw error
        }
    }

    // MARK: - volume_snapshot_info

    /// `volume_snapshot_info`: the volume's snapshots (for a chain, `current` too).
    public func snapshotInfo(_ volname: String) throws(StorageError) -> [SnapshotDetails] {
        let (path, volume) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume)
        if kind == .volumeChain { return try chainInfo(path, volume: volume) }
        if config.snapshotAsVolumeChain, kind == nil, volume.vtype == .images, volume.format != .image(.subvol) {
            // Like dir's chain of one layer: the current state only.
            let inspected: ImageMetadata?
            do { inspected = try inspector.inspect(path, format: volume.format) } catch { throw error.storageError }
            guard let metadata = inspected else { throw qemuImgCannotOpen(path) }
            var current = SnapshotDetails(name: SnapshotNames.current)
            current.order = 0
            current.file = path
            current.volname = volname
            current.volid = "\(id):\(volname)"
            current.virtualSize = metadata.virtualSize
            return [current]
        }
        if volume.format == .image(.raw), volume.vtype == .images {
            // Listed even where reflinks stopped working: they are there to be deleted.
            var snapshots: [SnapshotDetails] = []
            for snapshot in try reflinkSnapshotFiles(of: path) {
                guard let info = try? system.status(snapshot.path, followSymlinks: false) else { continue }
                let identity = try reflinkSnapshotIdentity(snapshot.path, status: info)
                var details = SnapshotDetails(name: snapshot.name)
                details.id = identity.id
                details.timestamp = identity.timestamp
                details.virtualSize = info.size
                details.file = snapshot.path
                snapshots.append(details)
            }
            return snapshots
        }
        guard system.exists(path) else { throw qemuImgCannotOpen(path) }
        guard volume.format == .image(.qcow2) else { return [] }
        let snapshots: [QCOW2.Snapshot]
        do {
            let info = try system.status(path, followSymlinks: true)
            snapshots = try QCOW2.readSnapshots(ImageFile(path: path, length: info.size, system: system))
        } catch let error as ImageFormatError {
            throw ImageInspectionError(kind: error.isWrongFormat ? .wrongFormat : .invalidHeader, path: path, reason: error.reason).storageError
        } catch {
            throw StorageError("failed to query file information with qemu-img")
        }
        return snapshots.map { snapshot in
            var details = SnapshotDetails(name: snapshot.name)
            details.timestamp = Int64(snapshot.dateSeconds)
            details.virtualSize = snapshot.virtualSize
            return details
        }
    }

    /// qemu-img's message for a volume file that is not there.
    private func qemuImgCannotOpen(_ path: String) -> StorageError {
        StorageError("qemu-img: Could not open '\(path)': Could not open '\(path)': \(Errno.noSuchFileOrDirectory)",
                     errno: .noSuchFileOrDirectory)
    }

    private func chainInfo(_ path: String, volume: VolumeName) throws(StorageError) -> [SnapshotDetails] {
        let layers = try volumeChain(path)
        let vmid = volume.vmid ?? ""
        return layers.enumerated().map { order, layer in
            var details = SnapshotDetails(name: layer.name)
            details.order = order
            details.file = layer.file
            details.volname = "\(vmid)/\(FilePath.name(of: layer.file))"
            details.volid = "\(id):\(vmid)/\(FilePath.name(of: layer.file))"
            details.virtualSize = layer.virtualSize
            details.parent = order + 1 < layers.count ? layers[order + 1].name : nil
            details.child = order > 0 ? layers[order - 1].name : nil
            return details
        }
    }

    // MARK: - Rollback

    /// `volume_rollback_is_possible`: in a chain only to the most recent snapshot (the
    /// newer ones are added to `blockers`, oldest first, before the refusal); a reflink
    /// snapshot must exist. Internal snapshots can always be rolled back to, as in dir.
    public func checkRollback(_ volname: String, _ selector: SnapshotSelector, blockers: inout [String]) throws(StorageError) {
        let volume: VolumeName
        do { volume = try VolumeName.parse(volname, for: host) } catch {
            // dir answers without looking at the name unless it keeps volume chains.
            if config.snapshotAsVolumeChain { throw error }
            return
        }
        let name = selector.name ?? (selector == .current ? SnapshotNames.current : "")
        let missing = StorageError("can't rollback, snapshot '\(name)' does not exist on '\(volname)'")
        let (path, _) = try filesystemPath(volname)
        switch try snapshotKind(of: volume, path: path, existing: selector) {
        case .volumeChain:
            let snapshots = try snapshotInfo(volname).filter { $0.name != SnapshotNames.current }
            guard let position = snapshots.firstIndex(where: { $0.name == name }) else { throw missing }
            // Newest first: everything before it is more recent.
            let newer = snapshots[..<position].reversed().map(\.name)
            blockers += newer
            if !newer.isEmpty { throw StorageError("can't rollback, '\(name)' is not most recent snapshot on '\(volname)'") }
        case .reflink:
            guard SnapshotNames.isValid(name), system.exists(Self.reflinkSnapshotPath(path, name)) else { throw missing }
        case nil where config.snapshotAsVolumeChain:
            // dir's chain of a volume without snapshots has no such snapshot.
            throw missing
        case .internalQCOW2, nil:
            return
        }
    }

    /// `volume_snapshot_rollback`.
    public func rollbackSnapshot(_ volname: String, _ selector: SnapshotSelector) throws(StorageError) {
        let volume = try snapshotVolume(volname, refusal: "can't rollback snapshot this image format")
        let (path, _) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume, path: path, existing: selector)
        guard let kind, kind == .reflink || volume.format == .image(.qcow2) else {
            throw StorageError("can't rollback snapshot this image format")
        }
        switch kind {
        case .internalQCOW2:
            try runQemuImg(QemuImg.snapshot(.apply, try SnapshotNames.requested(selector), path: path), errorPrefix: nil)
        case .volumeChain:
            // dir deletes the volume file, then creates the new one: here the new overlay
            // replaces it in one rename, so a failure leaves the volume as it was.
            let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
            let (snapshotPath, _) = try filesystemPath(volname, snapshot: .named(name))
            do throws(StorageError) {
                guard system.exists(snapshotPath) else {
                    throw StorageError("unable to create image: snapshot file '\(snapshotPath)' does not exist")
                }
                try replaceWithOverlay(path, backedBy: FilePath.name(of: snapshotPath))
            } catch {
                throw StorageError("can't allocate new volume \(volname): \(error.message)")
            }
        case .reflink:
            let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
            let snapshotPath = Self.reflinkSnapshotPath(path, name)
            guard system.exists(snapshotPath) else {
                throw StorageError("can't rollback, snapshot '\(name)' does not exist on '\(volname)'")
            }
            try reflinkCopy(of: snapshotPath, to: path, replacing: true, exists: StorageError("volume '\(path)' exists"))
        }
    }

    // MARK: - Delete

    /// `volume_snapshot_delete`. Returns true when there was nothing to do because QEMU
    /// removed the internal snapshot of the running VM itself (dir returns 1 then).
    public func deleteSnapshot(_ volname: String, _ selector: SnapshotSelector, running: Bool) throws(StorageError) -> Bool {
        let volume = try snapshotVolume(volname, refusal: "can't delete snapshot for this image format")
        let (path, _) = try filesystemPath(volname)
        let kind = try snapshotKind(of: volume, path: path, existing: selector)
        guard volume.format == .image(.qcow2) || kind == .reflink else {
            throw StorageError("can't delete snapshot for this image format")
        }
        if kind == .reflink {
            let name = try SnapshotNames.validated(try SnapshotNames.requested(selector))
            let snapshotPath = Self.reflinkSnapshotPath(path, name)
            do { try system.removeFile(snapshotPath) } catch {
                if error == .noSuchFileOrDirectory { throw StorageError("snapshot '\(name)' does not exist on '\(volname)'") }
                throw StorageError("can't delete snapshot \(name) of volume \(volname): unlink '\(snapshotPath)' failed - \(error)",
                                   errno: error)
            }
            return false
        }
        if kind == .internalQCOW2 {
            if running { return true }
            try runQemuImg(QemuImg.snapshot(.delete, try SnapshotNames.requested(selector), path: path), errorPrefix: nil)
            return false
        }
        try deleteChainSnapshot(volname, try SnapshotNames.validated(try SnapshotNames.requested(selector)), running: running)
        return false
    }

    private func deleteChainSnapshot(_ volname: String, _ name: String, running: Bool) throws(StorageError) {
        // `current` is the volume file itself: qemu-server deletes it this way after
        // committing the current state into the only snapshot of a running VM, and then
        // renames that snapshot to `current`.
        let selector: SnapshotSelector = name == SnapshotNames.current ? .current : .named(name)
        let (snapshotPath, volume) = try filesystemPath(volname, snapshot: selector)
        if running {
            // QEMU already merged it (block-commit or block-stream): only the file is left.
            do { try system.removeFile(snapshotPath) } catch {
                throw StorageError("can't delete snapshot \(name) of volume \(volname): unlink '\(snapshotPath)' failed - \(error)",
                                   errno: error)
            }
            return
        }
        let snapshots = try snapshotInfo(volname)
        guard let snapshot = snapshots.first(where: { $0.name == name }), let file = snapshot.file, system.exists(file) else {
            throw StorageError("volume \(snapshotPath) is missing")
        }
        guard let childName = snapshot.child, let child = snapshots.first(where: { $0.name == childName }), let childFile = child.file else {
            throw StorageError("volume \(snapshotPath) is missing")
        }
        if snapshot.parent == nil {
            // The oldest: merge its child into it, then it takes the child's place.
            diagnostics.print("\(volname): deleting snapshot '\(name)' by commiting snapshot '\(childName)'")
            diagnostics.print("running 'qemu-img commit \(childFile)'")
            do throws(StorageError) { try runQemuImg(QemuImg.commit(childFile), errorPrefix: nil) } catch {
                diagnostics.warn("The state of \(name) is now invalid. Don't try to clone or rollback it. You can only try to delete it again later")
                throw StorageError("error commiting \(childName) to \(name); \(error.message)")
            }
            diagnostics.print("rename \(file) to \(childFile)")
            do { try system.rename(file, to: childFile, replacing: true) } catch {
                throw StorageError("rename '\(file)' to '\(childFile)' failed - \(error)", errno: error)
            }
        } else {
            let parentName = snapshot.parent ?? ""
            diagnostics.print("\(volname): deleting snapshot '\(name)' by rebasing '\(childName)' on top of '\(parentName)'")
            let rebase = QemuImg.rebase(childFile, onto: "snap-\(parentName)-\(volume.name)")
            diagnostics.print("running '\(([rebase.executable] + rebase.arguments).joined(separator: " "))'")
            do throws(StorageError) { try runQemuImg(rebase, errorPrefix: nil) } catch {
                throw StorageError("error rebase \(childName) from \(parentName); \(error.message)")
            }
            do { try system.removeFile(file) } catch {
                throw StorageError("error delete old snapshot volume \(snapshot.volname ?? name): unlink '\(file)' failed - \(error)",
                                   errno: error)
            }
        }
    }

    // MARK: - Rename

    /// `rename_snapshot`: renames the files of a snapshot (in a chain, `current` is the
    /// volume file itself). Internal snapshots live in the volume file, so their target
    /// always exists, as in dir.
    public func renameSnapshot(_ volname: String, from source: SnapshotSelector, to target: SnapshotSelector) throws(StorageError) {
        let volume = try VolumeName.parse(volname, for: host)
        if try snapshotKind(of: volume) == .reflink, source == .current || target == .current {
            throw StorageError("the current state of a raw volume cannot be renamed")
        }
        if case .named(let name) = target { _ = try SnapshotNames.validated(name) }
        let (sourcePath, _) = try filesystemPath(volname, snapshot: source)
        let (targetPath, _) = try filesystemPath(volname, snapshot: target)
        diagnostics.print("rename \(sourcePath) to \(targetPath)")
        let targetName = target.name ?? (target == .current ? SnapshotNames.current : "")
        guard !system.exists(targetPath) else { throw StorageError("target snapshot '\(targetName)' already exists") }
        do { try system.rename(sourcePath, to: targetPath, replacing: false) } catch {
            if error == .fileExists { throw StorageError("target snapshot '\(targetName)' already exists") }
            throw StorageError("rename '\(sourcePath)' to '\(targetPath)' failed - \(error)", errno: error)
        }
    }

    /// `volume_qemu_snapshot_method`: QEMU snapshots qcow2 itself (`mixed` in a chain:
    /// the storage renames the files); everything else is the storage's.
    public func qemuSnapshotMethod(_ volname: String) throws(StorageError) -> QEMUSnapshotMethod {
        let volume = try VolumeName.parse(volname, for: host)
        guard volume.format == .image(.qcow2) else { return .storage }
        return config.snapshotAsVolumeChain ? .mixed : .qemu
    }
}
