import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

private func bigEndian(_ value: UInt64, width: Int) -> [UInt8] {
    (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

/// A version 3 qcow2 file with 512-byte clusters whose snapshot table, at `tableOffset`,
/// holds `entries` (each already encoded) and claims `count` of them.
private func qcow2WithTable(_ entries: [[UInt8]], count: UInt64? = nil, tableOffset: UInt64 = 1024, size: UInt64 = 1 << 20) -> [UInt8] {
    var bytes = QCOW2.magic + bigEndian(3, width: 4) + bigEndian(0, width: 8) + bigEndian(0, width: 4)
        + bigEndian(9, width: 4) + bigEndian(size, width: 8)
    bytes += [UInt8](repeating: 0, count: 60 - bytes.count)
    bytes += bigEndian(count ?? UInt64(entries.count), width: 4) + bigEndian(tableOffset, width: 8)
    bytes += [UInt8](repeating: 0, count: 72 - bytes.count)
    bytes += bigEndian(0, width: 8) + [UInt8](repeating: 0, count: 20) + bigEndian(104, width: 4)
    bytes += [UInt8](repeating: 0, count: Int(min(tableOffset, 4096)) - bytes.count)
    for entry in entries { bytes += entry }
    return bytes
}

/// One snapshot table entry: `extra` bytes of extra data (the disk size at offset 8 when long enough).
private func entry(id: String, name: String, date: UInt32, extraLength: Int = 16, diskSize: UInt64? = nil,
                   declaredExtra: UInt64? = nil) -> [UInt8] {
    var bytes = bigEndian(0, width: 8) + bigEndian(0, width: 4) + bigEndian(UInt64(id.utf8.count), width: 2)
        + bigEndian(UInt64(name.utf8.count), width: 2) + bigEndian(UInt64(date), width: 4) + bigEndian(0, width: 4)
        + bigEndian(0, width: 8) + bigEndian(0, width: 4) + bigEndian(declaredExtra ?? UInt64(extraLength), width: 4)
    var extra = [UInt8](repeating: 0, count: extraLength)
    if let diskSize, extraLength >= 16 { extra.replaceSubrange(8..<16, with: bigEndian(diskSize, width: 8)) }
    bytes += extra + Array(id.utf8) + Array(name.utf8)
    bytes += [UInt8](repeating: 0, count: (8 - bytes.count % 8) % 8)
    return bytes
}

private func snapshots(_ bytes: [UInt8], in directory: MemoryDirectory) throws(ImageFormatError) -> [QCOW2.Snapshot] {
    directory.write("image", bytes)
    return try QCOW2.readSnapshots(ImageFile(path: directory.path + "/image", length: Int64(bytes.count), system: directory.system))
}

/// Why the table of `bytes` cannot be read (nil when it can).
private func failure(_ bytes: [UInt8], in directory: MemoryDirectory) -> String? {
    do { _ = try snapshots(bytes, in: directory); return nil } catch { return error.description }
}

@Suite("qcow2 snapshot table")
struct QCOW2SnapshotTableTests {
    @Test("entries: name, ID, date, the disk size or the image's")
    func entries() throws {
        let directory = MemoryDirectory()
        let table = [entry(id: "1", name: "first", date: 1_700_000_000, diskSize: 4096),
                     entry(id: "2", name: "a-much-longer-snapshot-name", date: 1_700_000_100, extraLength: 0)]
        #expect(try snapshots(qcow2WithTable(table), in: directory) == [
            QCOW2.Snapshot(id: "1", name: "first", dateSeconds: 1_700_000_000, virtualSize: 4096),
            QCOW2.Snapshot(id: "2", name: "a-much-longer-snapshot-name", dateSeconds: 1_700_000_100, virtualSize: 1 << 20),
        ])
        #expect(try snapshots(qcow2WithTable([]), in: directory) == [])
    }

    @Test("what qemu-img writes, as qemu-img lists it")
    func qemuImg() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/image.qcow2"
        let live = LiveSystem()
        func run(_ arguments: [String]) throws {
            #expect(try live.run(Command(QemuImg.executable, arguments, timeout: 60)).succeeded, "qemu-img \(arguments)")
        }
        try run(["create", "-f", "qcow2", path, "1M"])
        for name in ["one", "two", "three"] { try run(["snapshot", "-c", name, path]) }
        try run(["resize", path, "2M"])
        try run(["snapshot", "-c", "after-resize", path])
        try run(["snapshot", "-d", "two", path])
        let info = try live.status(path, followSymlinks: true)
        let found = try QCOW2.readSnapshots(ImageFile(path: path, length: info.size, system: live))
        #expect(found.map(\.name) == ["one", "three", "after-resize"])
        #expect(found.map(\.id) == ["1", "3", "4"])
        #expect(found.map(\.virtualSize) == [1 << 20, 1 << 20, 2 << 20])
        let listed = try live.run(Command(QemuImg.executable, ["info", "--output=json", path], timeout: 60))
        let json = try JSONSerialization.jsonObject(with: Data(listed.output)) as? [String: Any]
        let dates = (json?["snapshots"] as? [[String: Any]])?.compactMap { ($0["date-sec"] as? NSNumber)?.int64Value }
        #expect(found.map { Int64($0.dateSeconds) } == dates)
    }

    @Test("hostile tables are errors, never reads outside the file")
    func hostile() throws {
        let directory = MemoryDirectory()
        let one = [entry(id: "1", name: "x1", date: 1)]
        #expect(failure(qcow2WithTable(one, count: 70000), in: directory) == "Too many snapshots")
        #expect(failure(qcow2WithTable(one, count: 2), in: directory) == "Failed to read snapshot table")
        #expect(failure(qcow2WithTable(one, tableOffset: 1000), in: directory) == "Invalid snapshot table offset")
        #expect(failure(qcow2WithTable(one, tableOffset: 1 << 62), in: directory) == "Failed to read snapshot table")
        #expect(failure(qcow2WithTable(one, tableOffset: UInt64.max & ~511), in: directory) == "Invalid snapshot table offset")
        #expect(failure(qcow2WithTable([entry(id: "1", name: "x", date: 1, declaredExtra: 5000)]), in: directory)
            == "Too much extra metadata in snapshot table entry")
        #expect(failure(qcow2WithTable([entry(id: "1", name: "x", date: 1, diskSize: UInt64.max)]), in: directory)
            == "Invalid snapshot disk size")
        // The table is cut short inside the name of the last entry.
        let cut = qcow2WithTable(one)
        #expect(failure(Array(cut.dropLast(8)), in: directory) == "Failed to read snapshot table")
        // Not qcow2 at all: the header reader's answer.
        #expect(failure([UInt8](repeating: 0, count: 512), in: directory) == "Image is not in qcow2 format")
    }
}

@Suite("snapshot names and files")
struct SnapshotNameTests {
    @Test("the names PVE's callers pass; nothing that could leave the volume's directory")
    func names() {
        let valid = ["ab", "a", "1a", "-a", "_a", "a b", "a.b", "ä1", "A_b-c", "before-upgrade", "current", "vzdump",
                     "__migration__", "__replicate_100-0_1700000000__", "__replicate_999999999-99_4102444800__",
                     String(repeating: "x", count: 128)]
        for name in valid { #expect(SnapshotNames.isValid(name), "\(name)") }
        let invalid = ["", "a/b", "/", "..", "../x", "x/..", "a..b", "a\nb", "a\tb", "a\0b", "a\u{7F}b",
                       String(repeating: "x", count: 129), String(repeating: "ä", count: 65)]
        for name in invalid { #expect(!SnapshotNames.isValid(name), "\(name)") }
    }

    @Test("the names of chain files, as dir's pattern reads them")
    func chainNames() {
        #expect(DirectoryStorage.chainSnapshotName("snap-s1-vm-100-disk-0.qcow2", volume: "vm-100-disk-0.qcow2") == "s1")
        #expect(DirectoryStorage.chainSnapshotName("snap-a-b-vm-100-disk-0.qcow2", volume: "vm-100-disk-0.qcow2") == "a-b")
        #expect(DirectoryStorage.chainSnapshotName("snap--vm-100-disk-0.qcow2", volume: "vm-100-disk-0.qcow2") == nil)
        #expect(DirectoryStorage.chainSnapshotName("snap-s1-vm-100-disk-1.qcow2", volume: "vm-100-disk-0.qcow2") == nil)
        #expect(DirectoryStorage.chainSnapshotName("base-100-disk-0.qcow2", volume: "vm-100-disk-0.qcow2") == nil)
    }

    @Test("reflinks are probed once per directory; a probe that could not run is not kept")
    func reflinkProbe() throws {
        let directory = MemoryDirectory()
        let system = directory.system
        let images = directory.path + "/images"
        system.cloneError = .notSupported
        let storage = DirectoryStorage(id: "s", config: StorageConfig(path: directory.path), system: system)
        #expect(!storage.supportsReflinks(), "no images directory yet: unknown")
        directory.create("images", directory: true)
        #expect(!storage.supportsReflinks(), "EOPNOTSUPP: no reflinks")
        system.cloneError = nil
        let copying = DirectoryStorage(id: "s", config: StorageConfig(path: directory.path), system: system)
        #expect(!copying.supportsReflinks(), "the answer is kept for the directory")
        #expect(system.names(in: images) == [], "the probe's files are gone")

        let other = MemoryDirectory(system)
        other.create("images", directory: true)
        system.cloneError = .noSpace
        #expect(!DirectoryStorage(id: "t", config: StorageConfig(path: other.path), system: system).supportsReflinks(), "a full disk: not now")
        system.cloneError = .notSupported
        #expect(!DirectoryStorage(id: "t", config: StorageConfig(path: other.path), system: system).supportsReflinks(),
                "probed again, and answered")
    }
}

/// The snapshot methods on real files, with qemu-img: internal qcow2 and volume chains.
@Suite("snapshot methods")
struct SnapshotMethodTests {
    let directory = TemporaryDirectory()

    func storage(chain: Bool = false) -> DirectoryStorage {
        var config = StorageConfig(path: directory.path)
        config.snapshotAsVolumeChain = chain
        return DirectoryStorage(id: "s", config: config, system: LiveSystem())
    }

    func allocate(_ storage: DirectoryStorage, _ format: ImageFormat) throws -> String {
        try storage.allocateImage(vmid: "100", format: .known(format), name: nil, sizeKiB: 1024)
    }

    @Test("internal qcow2 snapshots: take, list, roll back, delete, rename refused")
    func internalSnapshots() throws {
        let store = storage()
        let volume = try allocate(store, .qcow2)
        try store.takeSnapshot(volume, "s1")
        try store.takeSnapshot(volume, "s2")
        let info = try store.snapshotInfo(volume)
        #expect(info.map(\.name) == ["s1", "s2"])
        #expect(info.allSatisfy { $0.virtualSize == 1 << 20 && $0.timestamp != nil && $0.order == nil })
        var blockers: [String] = []
        try store.checkRollback(volume, "s1", blockers: &blockers)
        #expect(blockers == [])
        try store.rollbackSnapshot(volume, "s1")
        #expect(try store.deleteSnapshot(volume, "s1", running: true), "running: QEMU deleted it")
        #expect(try store.snapshotInfo(volume).count == 2)
        #expect(try !store.deleteSnapshot(volume, "s1", running: false))
        #expect(try store.snapshotInfo(volume).map(\.name) == ["s2"])
        #expect(failure { try store.renameSnapshot(volume, from: "s2", to: "s3") } == "target snapshot 's3' already exists")
        #expect(try store.qemuSnapshotMethod(volume) == .qemu)
        #expect(failure { try store.takeSnapshot(volume, "current") } == "snapshot name 'current' is reserved for the current state of a volume")
        #expect(failure { try store.takeSnapshot(volume, .none) } == "missing snapname")
        #expect(failure { try store.takeSnapshot(volume, "../x") }?.hasPrefix("invalid snapshot name '../x' - ") == true)
    }

    @Test("volume chains: layers, blockers, rollback, deletion of the middle and the oldest, rename")
    func chain() throws {
        let store = storage(chain: true)
        let volume = try allocate(store, .qcow2)
        for name in ["s1", "s2", "s3"] { try store.takeSnapshot(volume, .named(name)) }
        let info = try store.snapshotInfo(volume)
        #expect(info.map(\.name) == ["current", "s3", "s2", "s1"])
        #expect(info.map(\.order) == [0, 1, 2, 3])
        #expect(info.map(\.parent) == ["s3", "s2", "s1", nil])
        #expect(info.map(\.child) == [nil, "current", "s3", "s2"])
        #expect(info[1].volname == "100/snap-s3-vm-100-disk-0.qcow2" && info[1].volid == "s:100/snap-s3-vm-100-disk-0.qcow2")
        #expect(info[1].file == directory.path + "/images/100/snap-s3-vm-100-disk-0.qcow2")

        var blockers: [String] = []
        #expect(failure { try store.checkRollback(volume, "s1", blockers: &blockers) }
            == "can't rollback, 's1' is not most recent snapshot on '100/vm-100-disk-0.qcow2'")
        #expect(blockers == ["s2", "s3"])
        #expect(failure { try store.checkRollback(volume, "nope", blockers: &blockers) }
            == "can't rollback, snapshot 'nope' does not exist on '100/vm-100-disk-0.qcow2'")
        try store.checkRollback(volume, "s3", blockers: &blockers)
        try store.rollbackSnapshot(volume, "s3")

        #expect(try !store.deleteSnapshot(volume, "s2", running: false))
        #expect(try store.snapshotInfo(volume).map(\.name) == ["current", "s3", "s1"])
        #expect(try !store.deleteSnapshot(volume, "s1", running: false))
        #expect(try store.snapshotInfo(volume).map(\.name) == ["current", "s3"])
        #expect(store.diagnostics.output.contains("100/vm-100-disk-0.qcow2: deleting snapshot 's1' by commiting snapshot 's3'"))

        try store.renameSnapshot(volume, from: "s3", to: "t3")
        #expect(FileManager.default.fileExists(atPath: directory.path + "/images/100/snap-t3-vm-100-disk-0.qcow2"))
        #expect(failure { try store.renameSnapshot(volume, from: "t3", to: "current") } == "target snapshot 'current' already exists")
        #expect(try store.qemuSnapshotMethod(volume) == .mixed)
        #expect(try store.qemuSnapshotMethod("100/vm-100-disk-1.raw") == .storage)
    }

    @Test("rollback_is_possible through the bridge: the blockers are pushed before the refusal")
    func blockersPushed() throws {
        let store = storage(chain: true)
        let volume = try allocate(store, .qcow2)
        for name in ["s1", "s2"] { try store.takeSnapshot(volume, .named(name)) }
        let plugin = DirectoryPlugin(system: LiveSystem())
        let arguments: [String: Value] = ["scfg": ["path": .string(directory.path), "snapshot-as-volume-chain": 1],
                                          "storeid": "s", "volname": .string(volume), "snap": "s1"]
        #expect(failure { try plugin.invoke(DirectoryPlugin.volumeRollbackIsPossible, arguments) }
            == "can't rollback, 's1' is not most recent snapshot on '100/vm-100-disk-0.qcow2'")
        #expect(plugin.call.pushed == ["s2"])
        var possible = arguments
        possible["snap"] = "s2"
        #expect(try DirectoryPlugin(system: LiveSystem()).invoke(DirectoryPlugin.volumeRollbackIsPossible, possible) == 1)
        #expect(try DirectoryPlugin().invoke(DirectoryPlugin.volumeSnapshotNeedsFsfreeze, [:]) == 1)
    }
}

/// Raw reflink snapshots (files `<volume>@<name>`), in memory.
@Suite("raw reflink snapshots")
struct ReflinkSnapshotTests {
    func allocate(_ storage: DirectoryStorage, _ format: ImageFormat) throws -> String {
        try storage.allocateImage(vmid: "100", format: .known(format), name: nil, sizeKiB: 1024)
    }

    /// A storage in memory whose clones copy and whose qemu-img makes raw files.
    static func reflinkStorage() -> (DirectoryStorage, MemoryDirectory) {
        let memory = MemoryDirectory()
        memory.system.simulateRawQemuImg()
        memory.system.cloneError = nil
        return (DirectoryStorage(id: "s", config: StorageConfig(path: memory.path), system: memory.system), memory)
    }
    @Test("raw reflink snapshots: files <volume>@<name>, data kept, carried along by rename and free")
    func reflink() throws {
        let (store, directory) = Self.reflinkStorage()
        let system = directory.system
        let volume = try allocate(store, .raw)
        let path = directory.path + "/images/" + volume
        #expect(store.supportsReflinks())
        try system.writeFile(path, contents: [UInt8](repeating: 1, count: 4096), mode: 0o640, exclusive: false)
        try store.takeSnapshot(volume, "s1")
        try system.writeFile(path, contents: [UInt8](repeating: 2, count: 4096), mode: 0o640, exclusive: false)
        #expect(failure { try store.takeSnapshot(volume, "s1") } == "snapshot 's1' already exists on '100/vm-100-disk-0.raw'")
        let info = try store.snapshotInfo(volume)
        #expect(info.map(\.name) == ["s1"] && info[0].file == path + "@s1" && info[0].virtualSize == 4096)
        #expect(try store.filesystemPath(volume, snapshot: "s1").path == path + "@s1")
        var blockers: [String] = []
        try store.checkRollback(volume, "s1", blockers: &blockers)
        #expect(failure { try store.checkRollback(volume, "s9", blockers: &blockers) }
            == "can't rollback, snapshot 's9' does not exist on '100/vm-100-disk-0.raw'")
        try store.rollbackSnapshot(volume, "s1")
        #expect(try system.readFile(path) == [UInt8](repeating: 1, count: 4096))
        #expect(try system.status(path, followSymlinks: false).mode == 0o640, "the volume's permissions")
        #expect(try store.qemuSnapshotMethod(volume) == .storage)
        #expect(failure { try store.renameSnapshot(volume, from: .current, to: "x2") } == "the current state of a raw volume cannot be renamed")
        try store.renameSnapshot(volume, from: "s1", to: "s2")

        let renamed = try store.renameVolume(volume, targetVMID: "200", targetName: nil)
        #expect(renamed == "s:200/vm-200-disk-0.raw")
        #expect(try store.snapshotInfo("200/vm-200-disk-0.raw").map(\.name) == ["s2"])
        try store.freeVolume("200/vm-200-disk-0.raw", isBase: false, format: .raw)
        #expect(directory.names(in: "images/200") == [])
        #expect(failure { try store.deleteSnapshot("200/vm-200-disk-0.raw", "s2", running: false) }
            == "snapshot 's2' does not exist on '200/vm-200-disk-0.raw'")
    }

    @Test("a raw rollback that cannot clone now (a full disk) says why and leaves the volume")
    func reflinkRollbackFailure() throws {
        let (store, directory) = Self.reflinkStorage()
        let system = directory.system
        let volume = try allocate(store, .raw)
        let path = directory.path + "/images/" + volume
        try store.takeSnapshot(volume, "s1")
        try system.writeFile(path, contents: [UInt8](repeating: 9, count: 512), mode: 0o640, exclusive: false)
        var full = ScriptedSystem(base: system)
        full.cloneError = .noSpace
        ReflinkSupport.forget(directory.path + "/images") // the probe itself now fails (a full disk): no answer
        let failing = DirectoryStorage(id: "s", config: StorageConfig(path: directory.path), system: full)
        #expect(failure { try failing.rollbackSnapshot(volume, "s1") }
            == "reflink copy of '\(path)@s1' failed - No space left on device")
        #expect(try system.readFile(path) == [UInt8](repeating: 9, count: 512), "the volume is as it was")
        #expect(directory.names(in: "images/100") == ["vm-100-disk-0.raw", "vm-100-disk-0.raw@s1"], "no temporary left")
        #expect(try !failing.deleteSnapshot(volume, "s1", running: false), "deleting needs no clone")
    }
}
