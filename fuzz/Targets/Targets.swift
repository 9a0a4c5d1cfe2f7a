import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import PVEStorageTesting
import SwiftPlugin
import SwiftPluginSystem

/// Volume names: every plugin method gets one from PVE, often from an API caller.
enum VolumeNameTarget {
    static let base = "/srv/fuzz"

    static func run(_ input: [UInt8]) {
        let volname = String(decoding: input, as: UTF8.self)
        for host: HostRelease in [.pve8, .pve9] {
            _ = try? VolumeName.parse(volname, for: host)
            _ = try? VolumeName.parseImageFile(volname, for: host)
        }
        let storage = DirectoryStorage(id: "fuzz", config: StorageConfig(path: base), system: MemorySystem(contents: []))
        for snapshot: SnapshotSelector in [.none, "snap"] {
            guard let (path, _) = try? storage.filesystemPath(volname, snapshot: snapshot) else { continue }
            // Whatever the name, its path is below the storage path.
            guard path.hasPrefix(base + "/") else { violated("'\(volname)' maps to '\(path)'") }
        }
        // The same bytes as a snapshot name: a chain snapshot's file is beside its volume.
        var chain = StorageConfig(path: base)
        chain.snapshotAsVolumeChain = true
        let chainStorage = DirectoryStorage(id: "fuzz", config: chain, system: MemorySystem(contents: []))
        if let (path, _) = try? chainStorage.filesystemPath("100/vm-100-disk-0.qcow2", snapshot: .named(volname)) {
            let directory = base + "/images/100/"
            guard path.hasPrefix(directory), !path.utf8.dropFirst(directory.utf8.count).contains(UInt8(ascii: "/")),
                  !path.contains("..") else { violated("snapshot '\(volname)' maps to '\(path)'") }
        }
    }
}

/// qcow2 and vmdk headers: files in the storage (or uploaded for import) are untrusted.
enum ImageHeaderTarget {
    static func run(_ input: [UInt8], format: ImageFormat) {
        if format == .qcow2 { checkQCOW2(input) }
        let inspector = ImageInspector(system: MemorySystem(contents: input))
        // The production path: stat, then the header reader for the expected format.
        guard let metadata = try? inspector.inspect(MemorySystem.path, format: .image(format)) else { return }
        if let size = metadata.virtualSize, size < 0 { violated("negative virtual size \(size)") }
        _ = metadata.perlList
    }

    /// The header as the export reads it, header extensions included: a backing format
    /// only with a backing file, and never longer than QEMU accepts (15 bytes).
    static func checkQCOW2(_ input: [UInt8]) {
        let file = ImageFile(path: MemorySystem.path, length: Int64(input.count), system: MemorySystem(contents: input))
        guard let header = try? QCOW2.readHeader(file), let format = header.backingFormat else { return }
        if header.backingFile == nil { violated("backing format '\(format)' without a backing file") }
        if format.isEmpty || format.utf8.count > 15 * 3 { violated("backing format of \(format.utf8.count) bytes") }
    }
}

/// The snapshot table of a qcow2 file: counts, offsets and lengths are untrusted.
enum SnapshotTableTarget {
    static func run(_ input: [UInt8]) {
        let file = ImageFile(path: MemorySystem.path, length: Int64(input.count), system: MemorySystem(contents: input))
        guard let snapshots = try? QCOW2.readSnapshots(file) else { return }
        if snapshots.count > 65536 { violated("\(snapshots.count) snapshots") }
        // Every entry takes at least 40 bytes of the file.
        if snapshots.count * 40 > input.count { violated("\(snapshots.count) entries in \(input.count) bytes") }
        for snapshot in snapshots where snapshot.virtualSize < 0 { violated("negative size \(snapshot.virtualSize)") }
    }
}

/// The arguments of a call: Perl values read in place by the generated argument readers,
/// before anything else runs; and results written into new Perl values.
enum RequestDecodingTarget {
    static func run(_ input: [UInt8]) {
        decodeArguments(input)
        guard let value = decodeRequest(input) else { return }
        // What decodes encodes, and decodes again to the same value.
        guard let again = decodeRequest(encode(value)) else { violated("the encoding of a decoded value does not decode") }
        guard same(value, again) else { violated("decode(encode(value)) differs from value") }
        // A Perl value reads back as the value it holds, and a result written into a
        // Perl value holds the result.
        let perl = InMemoryPerl()
        let (read, written) = perl.withTable { table in
            (try? PerlValue(perl.make(value), in: table).value(), perl.value(value.perlValue(PerlBuilder(table))))
        }
        guard let read, same(read, value) else { violated("a Perl value does not read back as its value") }
        guard same(written, value) else { violated("a result written into a Perl value differs from the result") }
        touch(value, depth: 0)
    }

    /// The scalar conversions every method applies to its arguments.
    static func touch(_ value: Value, depth: Int) {
        _ = value.isDefined
        _ = value.isTrue
        _ = value.string
        _ = value.int
        _ = value.printable
        guard depth < 8 else { return }
        for element in value.array ?? [] { touch(element, depth: depth + 1) }
        for (_, member) in value.hash ?? [:] { touch(member, depth: depth + 1) }
    }

    /// Equality with doubles compared bit for bit (NaN is not equal to itself).
    static func same(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.hash(let x), .hash(let y)):
            return x.count == y.count && x.allSatisfy { key, member in y[key].map { same(member, $0) } ?? false }
        default: return a == b
        }
    }
}

/// Backup archive names: file names found in the storage's dump directory (listings,
/// pruning); a standard name's timestamp feeds retention.
enum ArchiveNameTarget {
    static func run(_ input: [UInt8]) {
        let name = String(decoding: input, as: UTF8.self)
        let system = LiveSystem()
        _ = try? ArchiveInfo(name, in: system)
        guard let info = try? ArchiveInfo.parse(name, in: system) else { return }
        guard !info.filename.isEmpty, ArchiveInfo.guestTypes.contains(info.type) else {
            violated("'\(name)' parsed as type '\(info.type)', file '\(info.filename)'")
        }
        guard let standard = info.standard else { return }
        // Retention over backups around this one's time.
        var group = [0, 3_600, 86_400, 604_800, 2_678_400, 31_622_400].map { offset in
            PruneEntry(volid: "s:backup/\(info.filename)", type: info.type, ctime: standard.ctime &- Int64(offset),
                       vmid: .number(standard.vmid))
        }
        Retention(["keep-hourly": 1, "keep-daily": 1, "keep-weekly": 1, "keep-monthly": 1, "keep-yearly": 1]).mark(&group, in: system)
        guard group.allSatisfy({ $0.mark != nil }) else { violated("a backup left unmarked") }
    }
}

/// A storage's options (`$scfg`): from storage.cfg through PVE's parser, then the glue.
enum StorageOptionsTarget {
    static let backups = (0..<12).map { index in
        PruneEntry(volid: "s:backup/vzdump-qemu-100-\(index).vma", type: "qemu", ctime: 1_577_836_800 + Int64(index) * 400_000,
                   vmid: .number(100))
    }

    static func run(_ input: [UInt8]) {
        guard let value = decodeRequest(input), let config = storageConfig(value) else { return }
        _ = (config.path, config.content, config.contentDirectories, config.type)
        _ = (config.defaultFormat, config.preallocation, config.snapshotAsVolumeChain, config.isMountpoint, config.unrecognized)
        _ = (config.createBasePath, config.createSubdirectories, config.makeDirectories)
        if let path = config.path { _ = try? DirectoryStorage.validatedPath(path) }

        let storage = DirectoryStorage(id: "fuzz", config: config, system: MemorySystem(contents: []))
        // Bytes, not Characters: "/" and a combining mark after it are one Character.
        if let base = try? storage.basePath(), base.utf8.first != UInt8(ascii: "/") { violated("relative base path '\(base)'") }
        for type in ContentType.allCases { _ = try? storage.subdirectory(for: type) }
        _ = try? storage.filesystemPath("100/vm-100-disk-0.qcow2", snapshot: "snap")
        _ = try? storage.filesystemPath("backup/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        _ = storage.requiredMountPoint
        try? storage.activate()

        var group = backups
        Retention(perl: value["prune-backups"]).mark(&group, in: storage.system)
        guard group.allSatisfy({ $0.mark != nil }) else { violated("a backup left unmarked") }
    }
}
