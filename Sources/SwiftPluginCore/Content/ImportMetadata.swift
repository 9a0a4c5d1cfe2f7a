/// An OVA or OVF file in the import directory, ready for PVE's OVF parser.
public struct ImportSource: Equatable, Sendable {
    public var path: String
    public var isOVA: Bool
}

extension DirectoryStorage {
    /// Checks that `volname` names an OVA/OVF import source (dir's messages) that does
    /// not lead outside the storage, and returns its path.
    public func importSource(_ volname: String) throws(StorageError) -> ImportSource {
        let (path, volume) = try filesystemPath(volname)
        guard volume.vtype == .import else { throw StorageError("invalid content type '\(volume.vtype.rawValue)'") }
        guard volume.format == "ova" || volume.format == "ovf" else { throw StorageError("invalid format") }
        if let own = try? system.status(path, followSymlinks: false), own.kind == .symlink {
            let base = try basePath()
            let root = (try? system.realPath(base)) ?? base
            guard let target = try? system.realPath(path), target.hasPrefix(root == "/" ? "/" : root + "/") else {
                throw StorageError("import source '\(volname)' is a symbolic link leading outside the storage")
            }
        }
        return ImportSource(path: path, isOVA: volume.format == "ova")
    }
}

/// The answer of `get_import_metadata`, built from what PVE's OVF parser found
/// (`{qm => {...}, disks => [{disk_address, virtual_size, relative_path}], net => {...}}`).
public struct ImportMetadata: Sendable {
    public var storeid: String
    public var volname: String
    public var isOVA: Bool
    public var ovf: Value

    public var perlValue: Value {
        var warnings: [Value] = []
        if isOVA { warnings.append(["type": "ova-needs-extracting"]) }
        var disks: [String: Value] = [:]
        for disk in ovf["disks"].array ?? [] {
            guard let id = disk["disk_address"].string else { continue }
            let member = disk["relative_path"].string ?? ""
            let volid = isOVA ? "\(storeid):\(volname)/\(member)" : "\(storeid):import/\(member)"
            var entry: [String: Value] = ["volid": .string(volid)]
            if disk["virtual_size"].isDefined { entry["size"] = disk["virtual_size"] }
            disks[id] = .hash(entry)
        }
        if ovf["qm"]["bios"].string == "ovmf" {
            disks["efidisk0"] = 1
            warnings.append(["type": "efi-state-lost", "key": "bios", "value": "ovmf"])
        }
        return [
            "type": "vm", "source": .string(volname), "create-args": ovf["qm"], "disks": .hash(disks),
            "warnings": .array(warnings), "net": ovf["net"],
        ]
    }
}
