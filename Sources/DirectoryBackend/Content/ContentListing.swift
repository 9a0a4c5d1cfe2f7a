import PVEStorage

/// One listed volume of a content directory (iso, vztmpl, backup, snippets, import):
/// the item hash `list_volumes` returns for it (PVE::Storage::Plugin's `list_volumes`).
public struct ContentItem: Equatable, Sendable {
    public var volid: String
    public var format: String
    public var size: Int64
    public var ctime: Int64
    public var content: ContentType
    /// Backups: the guest type of a vzdump name, else `unknown`.
    public var subtype: String?
    /// Backups: the owning guest (the filter, or the `-<vmid>-` in the name).
    public var vmid: String?
    /// Backups: the first line of the notes (characters, or bytes when not UTF-8).
    public var notes: DecodedText?
    /// Backups: a `.protected` marker exists.
    public var isProtected: Bool = false

}

/// One volume of `list_volumes`: a guest image (with the content it counts as) or a
/// file of another content directory.
public enum ListedVolume: Equatable, Sendable {
    case image(ImageInfo, content: ContentType)
    case file(ContentItem)
}

/// The archives of a backup directory that have notes or a protection marker, by name:
/// read once from the directory listing instead of a lookup per archive.
struct Companions {
    var withNotes: Set<String> = []
    var withProtection: Set<String> = []

    static let notes = Array(".notes".utf8)
    static let protected = Array(".protected".utf8)

    /// Notes `name` if it is a companion's name (only companions are kept: a backup
    /// directory holds a log for every archive).
    mutating func note(_ name: [UInt8]) {
        if NameBytes.endsWith(name, Self.notes) {
            withNotes.insert(String(decoding: name.dropLast(Self.notes.count), as: UTF8.self))
        } else if NameBytes.endsWith(name, Self.protected) {
            withProtection.insert(String(decoding: name.dropLast(Self.protected.count), as: UTF8.self))
        }
    }
}

/// A file found in a content directory, with its `stat` (symlinks resolved).
struct ContentFile {
    var name: String
    var path: String
    var status: FileStatus
}

extension DirectoryStorage {
    /// `list_volumes`: the volumes of the requested content types, in that order.
    /// Images come from the image listing and count as `rootdir` when `guestTypes`
    /// (the cluster's VM list, vmid → `qemu`/`lxc`) says their owner is a container.
    public func listVolumes(vmid: String?, contentTypes: [ContentType], guestTypes: [String: String]) throws(StorageError) -> [ListedVolume] {
        var items: [ListedVolume] = []
        for content in contentTypes {
            if content == .images || content == .rootdir {
                for image in try listImages(vmid: vmid, volumes: nil) {
                    let owner: ContentType = guestTypes[image.vmid] == "lxc" ? .rootdir : .images
                    guard owner == content else { continue }
                    items.append(.image(image, content: owner))
                }
                continue
            }
            guard config.path != nil else { continue }
            // As dir: the directory is looked up first (the path must be usable).
            _ = try subdirectory(for: content)
            switch content {
            case .iso, .vztmpl:
                if vmid != nil { continue }
            case .backup, .snippets, .import:
                break
            case .images, .rootdir:
                continue
            }
            items += try listContent(content, vmid: vmid).map(ListedVolume.file)
        }
        return items
    }

    /// The volumes of one content directory; backups are filtered by `vmid`.
    public func listContent(_ content: ContentType, vmid: String? = nil) throws(StorageError) -> [ContentItem] {
        let listing = try contentFiles(content) { bytes in
            switch content {
            case .iso: return NameBytes.hasExtension(bytes, [".iso", ".img"], caseInsensitive: true)
            case .vztmpl: return ContentNames.templateFormat(bytes, for: host) != nil
            case .backup: return ArchiveNames.backupExtension(of: bytes) != nil
            case .import: return ImportNames.listedFormat(bytes) != nil
            case .snippets: return true
            case .images, .rootdir: return false
            }
        }
        // The backups' notes and protection markers are looked up in one batch
        // (concurrently on a network file system), for the archives that will be listed.
        var sidecarProbes: [String: (notes: FileProbe?, protection: FileProbe?)] = [:]
        if content == .backup {
            var requests: [FileProbeRequest] = []
            var owners: [(name: String, notes: Bool)] = []
            for file in listing.files {
                let bytes = Array(file.name.utf8)
                guard ArchiveNames.backupExtension(of: bytes) != nil, vmid.map({ ContentNames.containsGuestID(bytes, $0) }) ?? true
                else { continue }
                let sidecars = BackupSidecars(system: system, archivePath: file.path)
                if listing.companions.withNotes.contains(file.name) {
                    requests.append(sidecars.notesProbe)
                    owners.append((file.name, true))
                }
                if listing.companions.withProtection.contains(file.name) {
                    requests.append(sidecars.protectionProbe)
                    owners.append((file.name, false))
                }
            }
            for (index, probe) in system.probeFiles(requests).enumerated() {
                let owner = owners[index]
                if owner.notes { sidecarProbes[owner.name, default: (nil, nil)].notes = probe } else {
                    sidecarProbes[owner.name, default: (nil, nil)].protection = probe
                }
            }
        }
        var items: [ContentItem] = []
        items.reserveCapacity(listing.files.count)
        for file in listing.files {
            let bytes = Array(file.name.utf8)
            var item: ContentItem
            var nameTime: Int64?
            switch content {
            case .iso:
                item = ContentItem(volid: "\(id):iso/\(file.name)", format: "iso", size: 0, ctime: 0, content: content)
            case .vztmpl:
                guard let format = ContentNames.templateFormat(bytes, for: host) else { continue }
                item = ContentItem(volid: "\(id):vztmpl/\(file.name)", format: format, size: 0, ctime: 0, content: content)
            case .backup:
                guard let backup = try backupItem(file, vmid: vmid, companions: listing.companions,
                                                  probes: sidecarProbes[file.name]) else { continue }
                (item, nameTime) = backup
            case .snippets:
                item = ContentItem(volid: "\(id):snippets/\(file.name)", format: "snippet", size: 0, ctime: 0, content: content)
            case .import:
                guard let format = ImportNames.listedFormat(bytes) else { continue }
                item = ContentItem(volid: "\(id):import/\(file.name)", format: format.description, size: 0, ctime: 0, content: content)
            case .images, .rootdir:
                return []
            }
            item.size = file.status.size
            item.ctime = nameTime ?? file.status.changeTime
            items.append(item)
        }
        return items
    }

    /// A backup's item, and the time in its name when it is a standard vzdump name.
    /// `companions` (from the directory's names) spares a system call for absent ones.
    /// `probes`, when given, are the batch's look-ups of its notes and protection marker.
    private func backupItem(_ file: ContentFile, vmid: String?, companions: Companions,
                            probes: (notes: FileProbe?, protection: FileProbe?)? = nil) throws(StorageError) -> (ContentItem, Int64?)? {
        let bytes = Array(file.name.utf8)
        guard let matched = ArchiveNames.backupExtension(of: bytes) else { return nil }
        // Only the name is matched against the VMID, not the directory (false positives).
        if let vmid, !ContentNames.containsGuestID(bytes, vmid) { return nil }
        var item = ContentItem(volid: id + ":backup/" + file.name, format: matched.name, size: 0, ctime: 0, content: .backup)
        let archive = try? ArchiveInfo.parse(fileName: bytes, in: system)
        item.subtype = archive?.type ?? "unknown"
        item.vmid = vmid ?? ContentNames.backupOwner(bytes, extensionLength: matched.suffix.count)
        let sidecars = BackupSidecars(system: system, archivePath: file.path)
        if companions.withNotes.contains(file.name) { item.notes = try sidecars.firstLineOfNotes(probe: probes?.notes) }
        if companions.withProtection.contains(file.name) {
            item.isProtected = probes?.protection.map(sidecars.isProtected(probe:)) ?? sidecars.isProtected
        }
        return (item, archive?.standard?.ctime)
    }

    /// The entries of a content directory that can be volumes: visible (no leading dot,
    /// as dir's glob), valid UTF-8, free of newlines, accepted by `isCandidate` (the
    /// type's name rule, checked before any `stat`), not directories, and symlinks only
    /// when they resolve inside the storage. In the order of Perl's glob, with the
    /// companion files (notes, protection markers) among all entries of the directory.
    func contentFiles(_ content: ContentType, isCandidate: ([UInt8]) -> Bool = { _ in true }) throws(StorageError)
        -> (files: [ContentFile], companions: Companions)
    {
        let directory = try subdirectory(for: content)
        // A missing or unreadable directory lists nothing, as dir's glob does.
        guard let entries = try? system.listDirectory(directory) else { return ([], Companions()) }
        var boundaries: [String]?
        var companions = Companions()
        var named: [(entry: DirectoryEntry, name: String, path: String)] = []
        for entry in entries {
            guard let name = entry.name else { continue }
            companions.note(entry.rawName)
            guard entry.rawName.first != UInt8(ascii: "."), !entry.rawName.contains(NameBytes.newline),
                  !entry.rawName.contains(0), isCandidate(entry.rawName) else { continue }
            named.append((entry, name, directory + "/" + name))
        }
        // One batch of lstat (concurrent on a network file system), then each in order.
        let probes = system.probeFiles(named.map { FileProbeRequest(path: $0.path, followSymlinks: false) })
        var candidates: [(key: [UInt8], file: ContentFile)] = []
        for (index, (entry, name, path)) in named.enumerated() {
            guard case .success(var status) = probes[index].status else { continue }
            if status.kind == .symlink {
                if boundaries == nil { boundaries = try symlinkBoundaries(directory) }
                guard let target = try? system.realPath(path), boundaries?.contains(where: { target.hasPrefix($0) }) == true,
                      let resolved = try? system.status(path, followSymlinks: true) else { continue }
                status = resolved
            }
            guard status.kind != .directory else { continue }
            candidates.append((GlobOrder.key(entry.rawName), ContentFile(name: name, path: path, status: status)))
        }
        candidates.sort { GlobOrder.precedes($0.key, $1.key) }
        return (candidates.map(\.file), companions)
    }

    /// Where a symlink in a content directory may lead: the storage, or the content directory itself.
    private func symlinkBoundaries(_ directory: String) throws(StorageError) -> [String] {
        var boundaries: [String] = []
        for root in [try basePath(), directory] {
            if let resolved = try? system.realPath(root) { boundaries.append(resolved == "/" ? "/" : resolved + "/") }
        }
        return boundaries
    }
}

/// The name rules of the content listings (as PVE::Storage::Plugin's `list_volumes` matches them), on UTF-8 bytes.
enum ContentNames {
    /// A container template's listed format: `tar`, or `t` + the compression as written
    /// (`tgz`, `txz`, `tzst`, `tbz2`); a `.tar` written in other case keeps its spelling (`tTAR`).
    static func templateFormat(_ bytes: [UInt8], for host: HostRelease) -> String? {
        for compression in ["gz", "xz", "zst", "bz2"] {
            if let matched = NameBytes.matchedSuffix(bytes, [".tar.\(compression)"], caseInsensitive: true) {
                return "t" + matched.suffix(compression.count)
            }
        }
        guard host != .pve8, let matched = NameBytes.matchedSuffix(bytes, [".tar"], caseInsensitive: true) else { return nil }
        let text = String(matched.dropFirst())
        return text == "tar" ? text : "t" + text
    }

    /// The VMID filter of the backup listing: `-<vmid>-` with a non-space byte on each side.
    static func containsGuestID(_ bytes: [UInt8], _ vmid: String) -> Bool {
        let needle = Array("-\(vmid)-".utf8)
        guard bytes.count >= needle.count + 2 else { return false }
        var start = 1
        while start + needle.count < bytes.count {
            if bytes[start..<(start + needle.count)].elementsEqual(needle),
               !PerlString.isWhitespace(bytes[start - 1]), !PerlString.isWhitespace(bytes[start + needle.count]) {
                return true
            }
            start += 1
        }
        return false
    }

    /// The owner of a backup without a VMID filter: the first `-<VMID>-` (3-9 digits,
    /// no leading zero) with at least one byte between it and the extension.
    static func backupOwner(_ bytes: [UInt8], extensionLength: Int) -> String? {
        let extensionStart = bytes.count - extensionLength
        var index = 0
        while index < extensionStart {
            defer { index += 1 }
            guard bytes[index] == UInt8(ascii: "-") else { continue }
            var end = index + 1
            while end < bytes.count, (0x30...0x39).contains(bytes[end]) { end += 1 }
            let digits = bytes[(index + 1)..<end]
            guard (3...9).contains(digits.count), digits.first != UInt8(ascii: "0"),
                  end < bytes.count, bytes[end] == UInt8(ascii: "-"), end + 1 < extensionStart else { continue }
            return String(decoding: digits, as: UTF8.self)
        }
        return nil
    }
}
