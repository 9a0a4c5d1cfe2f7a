import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// Which system call of an operation fails, and how; records the calls it sees.
final class FaultPlan: @unchecked Sendable {
    let failing: Int?
    let error: Errno
    private(set) var calls: [String] = []
    private(set) var failed: String?

    init(failing: Int? = nil, error: Errno = .ioError) {
        self.failing = failing
        self.error = error
    }

    func next(_ kind: String, _ path: String) throws(Errno) {
        calls.append("\(kind) \(path)")
        if calls.count == failing {
            failed = calls.last
            throw error
        }
    }
}

/// A system (the live one unless given) with one chosen call failing: the fault-injection
/// seam of the tests. With `copyingClones`, a file system without reflinks (the test
/// directory's) gets them as copies, so that the storage's reflink snapshots run there too.
struct FaultySystem: ForwardingSystem {
    var base: any SystemCalls = LiveSystem()
    let plan: FaultPlan
    var copyingClones = false

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        try plan.next("status", path)
        return try base.status(path, followSymlinks: followSymlinks)
    }
    func makeDirectory(_ path: String, mode: UInt32) throws(Errno) {
        try plan.next("mkdir", path)
        try base.makeDirectory(path, mode: mode)
    }
    func realPath(_ path: String) throws(Errno) -> String {
        try plan.next("realpath", path)
        return try base.realPath(path)
    }
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage {
        try plan.next("statvfs", path)
        return try base.fileSystemUsage(path)
    }
    func readFile(_ path: String) throws(Errno) -> [UInt8] {
        try plan.next("read", path)
        return try base.readFile(path)
    }
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? { body() }
    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] {
        try plan.next("readdir", path)
        return try base.listDirectory(path)
    }
    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        try plan.next("pread", path)
        return try base.readBytes(path, offset: offset, count: count)
    }
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        try plan.next("write", path)
        try base.writeFile(path, contents: contents, mode: mode, exclusive: exclusive, applyingUmask: applyingUmask)
    }
    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        try plan.next("rename", target)
        try base.rename(source, to: target, replacing: replacing)
    }
    func removeFile(_ path: String) throws(Errno) {
        try plan.next("unlink", path)
        try base.removeFile(path)
    }
    func removeDirectory(_ path: String) throws(Errno) {
        try plan.next("rmdir", path)
        try base.removeDirectory(path)
    }
    func removeTree(_ path: String) throws(Errno) {
        try plan.next("rmtree", path)
        try base.removeTree(path)
    }
    func setMode(_ path: String, _ mode: UInt32) throws(Errno) {
        try plan.next("chmod", path)
        try base.setMode(path, mode)
    }
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) {
        try plan.next("chattr", path)
        try base.setImmutable(path, immutable)
    }
    func run(_ command: Command) throws(Errno) -> CommandResult {
        try plan.next("run", command.arguments.joined(separator: " "))
        return try base.run(command)
    }
    func cloneFile(_ source: String, into target: String) throws(Errno) {
        try plan.next("clone", target)
        do { try base.cloneFile(source, into: target) } catch {
            guard copyingClones, error == .notSupported || error == .invalidArgument || error == .notTypewriter else { throw error }
            try base.writeFile(target, contents: try base.readFile(source), mode: 0o600, exclusive: false)
        }
    }
    func link(_ source: String, to target: String) throws(Errno) {
        try plan.next("link", target)
        try base.link(source, to: target)
    }

    // Streams.
    func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 {
        try plan.next("open", path)
        return try base.openFile(path, writing: writing)
    }
    func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try plan.next("readfd", "\(descriptor)")
        return try base.readDescriptor(descriptor, into: buffer, at: offset)
    }
    func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try plan.next("writefd", "\(descriptor)")
        return try base.writeDescriptor(descriptor, from: buffer, at: offset)
    }
    func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int {
        try plan.next("sendfile", "\(source)")
        return try base.sendFile(from: source, at: offset, to: target, count: count)
    }
    func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) {
        try plan.next("ftruncate", "\(descriptor)")
        try base.truncate(descriptor, to: size)
    }
    func synchronize(_ descriptor: Int32) throws(Errno) {
        try plan.next("fsync", "\(descriptor)")
        try base.synchronize(descriptor)
    }

    // Replication.
    func extents(of descriptor: Int32, from offset: Int64, count: Int64) throws(Errno) -> [FileExtent] {
        try plan.next("fiemap", "\(descriptor)")
        return try base.extents(of: descriptor, from: offset, count: count)
    }
    func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? {
        try plan.next("getxattr", path)
        return try base.extendedAttribute(name, of: path)
    }
    func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno) {
        try plan.next("setxattr", path)
        try base.setExtendedAttribute(name, of: path, to: value)
    }
    func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno) {
        try plan.next("punch", "\(descriptor)")
        try base.punchHole(descriptor, at: offset, count: count)
    }
}

/// Every file under `root`: kind, size, permissions, link target, a digest of the
/// contents. Directories are left out: they are structure, not data (an empty VMID
/// directory left by a failed cleanup holds nothing, as `dir` leaves them too).
func tree(_ root: String, modes: Bool = true) -> [String: String] {
    var entries: [String: String] = [:]
    let manager = FileManager.default
    guard let walker = manager.enumerator(atPath: root) else { return entries }
    while let relative = walker.nextObject() as? String {
        let path = root + "/" + relative
        guard let attributes = try? manager.attributesOfItem(atPath: path) else { continue }
        let type = attributes[.type] as? FileAttributeType
        let mode = modes ? (attributes[.posixPermissions] as? Int).map { String($0, radix: 8) } ?? "?" : ""
        switch type {
        case .typeSymbolicLink?:
            entries[relative] = "link \((try? manager.destinationOfSymbolicLink(atPath: path)) ?? "?")"
        case .typeDirectory?:
            continue
        default:
            let contents = manager.contents(atPath: path) ?? Data()
            // FNV-1a over every byte (Data's own hash reads only a prefix).
            let digest = InMemorySystem.digest(Array(contents))
            entries[relative] = "file \(mode) \(contents.count) \(String(digest, radix: 16))"
        }
    }
    return entries
}

@Suite("fault injection: a failed system call leaves the storage as it was")
struct FaultInjectionTests {
    /// The tree without the temporary file whose removal was the failed call: a failed
    /// unlink leaves its file (a later activation reclaims it, see ``Temporaries``).
    static func withoutUnremovable(_ entries: [String: String], _ plan: FaultPlan) -> [String: String] {
        guard let failed = plan.failed, failed.hasPrefix("unlink "),
              FilePath.name(of: String(failed.dropFirst(7))).hasPrefix(Temporaries.prefix) else { return entries }
        let name = FilePath.name(of: String(failed.dropFirst(7)))
        return entries.filter { !$0.key.hasSuffix("/" + name) && $0.key != name }
    }

    /// One operation on a storage prepared by `setup`. A run that succeeds despite the
    /// failed call must leave what an undisturbed run leaves (file names only where the
    /// result is random by design).
    struct Operation: Sendable, CustomTestStringConvertible {
        var name: String
        var setup: @Sendable (DirectoryStorage) throws -> Void
        var run: @Sendable (DirectoryStorage) throws -> Void
        var deterministic = true
        /// The storage's options (`snapshot-as-volume-chain`).
        var chain = false
        /// For operations that cannot be undone halfway (committing a snapshot into its
        /// parent): what must hold after a failure instead of "as it was" (the guest's
        /// data unchanged). Nil: the files must be exactly as before.
        var invariant: (@Sendable (DirectoryStorage) throws -> Bool)? = nil
        var testDescription: String { name }
    }

    static let backup = "backup/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst"

    static func allocate(_ storage: DirectoryStorage, _ name: String, _ format: ImageFormat = .raw) throws {
        _ = try storage.allocateImage(vmid: "100", format: .known(format), name: name, sizeKiB: 1024)
    }

    static func backupFile(_ storage: DirectoryStorage) throws {
        let directory = try storage.subdirectory(for: .backup)
        try storage.system.makeDirectories(directory)
        try storage.system.writeFile(directory + "/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst", contents: [1, 2, 3],
                                     mode: 0o644, exclusive: true)
    }

    static func sidecars(_ storage: DirectoryStorage) throws -> BackupSidecars {
        BackupSidecars(system: storage.system, archivePath: try storage.filesystemPath(backup).path)
    }

    /// Operations that need no real program and no kernel feature: on InMemorySystem, whose
    /// qemu-img makes raw files (``InMemorySystem/simulateRawQemuImg()``) and clones copy.
    static let memoryOperations: [Operation] = [
        Operation(name: "notes: set", setup: { try backupFile($0) },
                  run: { try sidecars($0).setNotes(Array("new notes".utf8)) }),
        Operation(name: "notes: replace", setup: { try backupFile($0); try sidecars($0).setNotes(Array("old".utf8)) },
                  run: { try sidecars($0).setNotes(Array("new notes".utf8)) }),
        Operation(name: "notes: remove", setup: { try backupFile($0); try sidecars($0).setNotes(Array("old".utf8)) },
                  run: { try sidecars($0).setNotes(nil) }),
        Operation(name: "protection: set", setup: { try backupFile($0) }, run: { try sidecars($0).setProtected(true) }),
        Operation(name: "protection: clear", setup: { try backupFile($0); try sidecars($0).setProtected(true) },
                  run: { try sidecars($0).setProtected(false) }),
        Operation(name: "storage identity", setup: { _ in }, run: { _ = try $0.identity() }, deterministic: false),
        Operation(name: "volume_import raw+size", setup: { _ in },
                  run: { try importStream($0, raw, .raw, rawStream) }),
        Operation(name: "volume_import raw+size into iso", setup: { try isoDirectory($0) },
                  run: { try importStream($0, "iso/new.iso", .raw, rawStream) }),
        Operation(name: "alloc_image raw", setup: { _ in }, run: { try allocate($0, "vm-100-disk-0.raw") }),
        Operation(name: "free_image", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { try $0.freeVolume("100/vm-100-disk-0.raw", isBase: false, format: .raw) }),
        Operation(name: "rename_volume", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { _ = try $0.renameVolume("100/vm-100-disk-0.raw", targetVMID: "200", targetName: nil) }),
        Operation(name: "volume_resize", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { _ = try $0.resizeVolume("100/vm-100-disk-0.raw", size: 2_097_152, running: false, snapshot: .none,
                                                 className: "x") }),
        Operation(name: "volume_snapshot raw reflink", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { try $0.takeSnapshot(raw, "s1") }),
        Operation(name: "volume_snapshot_rollback raw reflink", setup: { try rawWithSnapshots($0) },
                  run: { try $0.rollbackSnapshot(raw, "s1") }),
        Operation(name: "volume_snapshot_delete raw reflink", setup: { try rawWithSnapshots($0) },
                  run: { _ = try $0.deleteSnapshot(raw, "s1", running: false) }),
        Operation(name: "free_image raw with snapshots", setup: { try rawWithSnapshots($0) },
                  run: { try $0.freeVolume(raw, isBase: false, format: .raw) },
                  // Snapshots go first: a failure may leave the volume with fewer of them, never them without it.
                  invariant: { storage in
                      let path = try storage.filesystemPath(raw).path
                      let exists = storage.system.exists(path)
                      return try exists || storage.reflinkSnapshotFiles(of: path).isEmpty
                  }),
        Operation(name: "rename_volume raw with snapshots", setup: { try rawWithSnapshots($0) },
                  run: { _ = try $0.renameVolume(raw, targetVMID: "200", targetName: nil) }),
        Operation(name: "volume_import raw+size, existing name, allow_rename", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { try importStream($0, raw, .raw, rawStream, allowRename: true) }),
        Operation(name: "volume_import replication full", setup: { _ in },
                  run: { try importStream($0, raw, .raw, replicationFull, withSnapshots: true, snapshot: "s1") }),
        Operation(name: "volume_import replication incremental", setup: { try replicationBase($0) },
                  run: { try importStream($0, raw, .raw, replicationIncremental, withSnapshots: true, snapshot: "s2",
                                          baseSnapshot: "s1") }),
    ]

    /// Replication (raw+size with snapshots): a full stream of snapshot s1, 40 KiB with a
    /// hole; and one from s1 to s2 that writes data (with a zero block: a hole punched),
    /// zeros a range and grows the disk by 4 KiB.
    static let replicationFull: [UInt8] = ReplicationStreams.build(
        ReplicationHeader(volumeSize: 40960, snapshot: "s1", identity: SnapshotIdentity(id: "id-s1", timestamp: 1_700_000_000),
                          baseID: nil)) { writer throws(StorageError) in
        try writer.writeData([UInt8](repeating: 0x5a, count: 8192), at: 0)
        try writer.writeData([UInt8](repeating: 0x01, count: 16384), at: 24576)
    }

    static let replicationIncremental: [UInt8] = ReplicationStreams.build(
        ReplicationHeader(volumeSize: (1 << 20) + 4096, snapshot: "s2",
                          identity: SnapshotIdentity(id: "id-s2", timestamp: 1_700_000_100), baseID: "id-s1")) { writer throws(StorageError) in
        try writer.writeData([UInt8](repeating: 0x33, count: 4096) + [UInt8](repeating: 0, count: 4096), at: 4096)
        try writer.writeZero(at: 65536, length: 65536)
        try writer.writeData([UInt8](repeating: 0x44, count: 4096), at: 1 << 20)
    }

    /// A raw disk with data and its snapshot s1, whose id is the incremental stream's base.
    static func replicationBase(_ storage: DirectoryStorage) throws {
        try allocate(storage, "vm-100-disk-0.raw")
        let path = try storage.filesystemPath(raw).path
        try storage.system.writeFile(path, contents: [UInt8](repeating: 7, count: 1 << 20), mode: 0o640, exclusive: false)
        try storage.takeSnapshot(raw, "s1")
        try storage.system.setExtendedAttribute(SnapshotIdentity.attribute, of: path + "@s1",
                                                to: SnapshotIdentity(id: "id-s1", timestamp: 1_700_000_000).encoded)
    }

    /// Operations that need the real qemu-img (qcow2) or tar, on disk.
    static let diskOperations: [Operation] = [
        Operation(name: "alloc_image qcow2, free name", setup: { try allocate($0, "vm-100-disk-0.raw") },
                  run: { _ = try $0.allocateImage(vmid: "100", format: .known(.qcow2), name: nil, sizeKiB: 1024) }),
        Operation(name: "create_base", setup: { try allocate($0, "vm-100-disk-0.qcow2", .qcow2) },
                  run: { _ = try $0.createBase("100/vm-100-disk-0.qcow2") }),
        Operation(name: "clone_image", setup: { try allocate($0, "base-100-disk-0.qcow2", .qcow2) },
                  run: { _ = try $0.cloneImage("100/base-100-disk-0.qcow2", vmid: "200", snapshot: .none) }),
    ] + snapshotOperations + importOperations

    static let qcow2 = "100/vm-100-disk-0.qcow2"
    static let raw = "100/vm-100-disk-0.raw"

    /// A qcow2 volume whose guest sees `byte` repeated over its first MiB.
    static func filledQCOW2(_ storage: DirectoryStorage, _ byte: UInt8) throws {
        let path = try storage.filesystemPath(qcow2).path
        if !storage.system.exists(path) { try allocate(storage, "vm-100-disk-0.qcow2", .qcow2) }
        let data = path + ".data"
        try LiveSystem().writeFile(data, contents: [UInt8](repeating: byte, count: 1 << 20), mode: 0o600, exclusive: true)
        defer { try? LiveSystem().removeFile(data) }
        let result = try LiveSystem().run(Command(QemuImg.executable, ["convert", "-n", "-f", "raw", "-O", "qcow2", data, path], timeout: 60))
        guard result.succeeded else { throw StorageError("qemu-img convert failed") }
    }

    /// The guest's view of the volume, by `qemu-img compare` against `byte` over its first MiB.
    static func guestHolds(_ storage: DirectoryStorage, _ byte: UInt8) throws -> Bool {
        let path = try storage.filesystemPath(qcow2).path
        let data = path + ".expected"
        try LiveSystem().writeFile(data, contents: [UInt8](repeating: byte, count: 1 << 20), mode: 0o600, exclusive: false)
        defer { try? LiveSystem().removeFile(data) }
        let result = try LiveSystem().run(Command(QemuImg.executable, ["compare", "-f", "raw", "-F", "qcow2", data, path], timeout: 60))
        return result.exitStatus == 0
    }

    static func chainSnapshots(_ storage: DirectoryStorage) throws {
        for (byte, name) in [(UInt8(1), "s1"), (2, "s2")] {
            try filledQCOW2(storage, byte)
            try storage.takeSnapshot(qcow2, .named(name))
        }
        try filledQCOW2(storage, 3)
    }

    static func rawWithSnapshots(_ storage: DirectoryStorage) throws {
        try allocate(storage, "vm-100-disk-0.raw")
        try storage.takeSnapshot(raw, "s1")
        let path = try storage.filesystemPath(raw).path
        try storage.system.writeFile(path, contents: [UInt8](repeating: 7, count: 1 << 20), mode: 0o640, exclusive: false)
    }

    /// Snapshots: internal qcow2, volume chains, and raw reflink snapshots (where clones
    /// are copies). A killed qemu-img is a failed `run` call here.
    static let snapshotOperations: [Operation] = [
        Operation(name: "volume_snapshot qcow2 internal", setup: { try allocate($0, "vm-100-disk-0.qcow2", .qcow2) },
                  run: { try $0.takeSnapshot(qcow2, "s1") }),
        Operation(name: "volume_snapshot chain", setup: { try filledQCOW2($0, 1) },
                  run: { try $0.takeSnapshot(qcow2, "s1") }, chain: true),
        Operation(name: "volume_snapshot_rollback chain", setup: { try chainSnapshots($0) },
                  run: { try $0.rollbackSnapshot(qcow2, "s2") }, chain: true),
        Operation(name: "volume_snapshot_delete chain, the middle one", setup: { try chainSnapshots($0); try $0.takeSnapshot(qcow2, "s3") },
                  run: { _ = try $0.deleteSnapshot(qcow2, "s2", running: false) }, chain: true,
                  invariant: { try guestHolds($0, 3) }),
        Operation(name: "volume_snapshot_delete chain, the oldest", setup: { try chainSnapshots($0) },
                  run: { _ = try $0.deleteSnapshot(qcow2, "s1", running: false) }, chain: true,
                  invariant: { try guestHolds($0, 3) }),
    ]

    // MARK: - Imports (volume_import): the stream comes from a pipe the test fills

    /// The read end of a pipe holding `bytes` and then end-of-file (the stream PVE passes;
    /// small enough for the pipe's buffer, so nothing else has to write it).
    static func pipeStream(_ bytes: [UInt8]) throws -> Int32 {
        precondition(bytes.count <= 65536, "a stream must fit the pipe buffer")
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StorageError("pipe failed") }
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        guard written == bytes.count else { close(ends[0]); throw StorageError("writing the stream failed") }
        return ends[0]
    }

    static func importStream(_ storage: DirectoryStorage, _ volname: String, _ format: StreamFormat, _ stream: [UInt8],
                             withSnapshots: Bool = false, allowRename: Bool = false, snapshot: String? = nil,
                             baseSnapshot: String? = nil) throws {
        // In memory, the stream is the double's; on disk, a pipe.
        let memory = (storage.system as? FaultySystem)?.base as? InMemorySystem
        let descriptor = try memory?.stream(stream) ?? pipeStream(stream)
        defer { if let memory { memory.closeFile(descriptor) } else { close(descriptor) } }
        _ = try storage.importVolume(volname, format: .known(format), from: descriptor, snapshot: snapshot, baseSnapshot: baseSnapshot,
                                     withSnapshots: withSnapshots, allowRename: allowRename, className: "x", print: { _ in })
    }

    /// raw+size: 40 KiB with zero blocks (holes) between data.
    static let rawStream: [UInt8] = StreamHeader.encode(40960)
        + [UInt8](repeating: 0x5a, count: 8192) + [UInt8](repeating: 0, count: 16384) + [UInt8](repeating: 0x01, count: 16384)

    /// A file made by a program (qemu-img, tar) in a scratch directory, as bytes.
    static func madeBy(_ executable: String, _ arguments: (String) -> [[String]]) -> [UInt8] {
        let scratch = TemporaryDirectory()
        for step in arguments(scratch.path) {
            let result = try? LiveSystem().run(Command(step[0], Array(step.dropFirst()), timeout: 60))
            precondition(result?.succeeded == true, "\(step) failed")
        }
        return (try? LiveSystem().readFile(scratch.path + "/out")) ?? []
    }

    /// qcow2+size: a 1 MiB qcow2 image with 4 KiB clusters holding 8 KiB of data.
    static let qcow2Stream: [UInt8] = StreamHeader.encode(1 << 20) + madeBy(QemuImg.executable) { dir in
        [["/bin/sh", "-c", "head -c 8192 /dev/urandom > \(dir)/data && truncate -s 1M \(dir)/data"],
         [QemuImg.executable, "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096", dir + "/data", dir + "/out"]]
    }

    /// tar+size: a small container tree (header 0: a subvol has no quota).
    static let tarStream: [UInt8] = StreamHeader.encode(0) + madeBy("/bin/tar") { dir in
        [["/bin/sh", "-c", "mkdir -p \(dir)/ct/etc \(dir)/ct/var && echo ct > \(dir)/ct/etc/hostname && ln -s /etc/passwd \(dir)/ct/link"],
         ["/bin/tar", "-C", dir + "/ct", "-cf", dir + "/out", "."]]
    }

    static func isoDirectory(_ storage: DirectoryStorage) throws {
        try storage.system.makeDirectories(try storage.subdirectory(for: .iso))
    }

    /// Imports: every call failed in turn leaves no visible volume (and no hidden one):
    /// the storage as it was.
    static let importOperations: [Operation] = [
        Operation(name: "volume_import qcow2+size", setup: { _ in },
                  run: { try importStream($0, qcow2, .qcow2, qcow2Stream, withSnapshots: true) }),
        Operation(name: "volume_import tar+size", setup: { _ in },
                  run: { try importStream($0, "100/subvol-100-disk-0.subvol", .tar, tarStream) }),
    ]

    static func storage(_ scratch: Scratch, _ operation: Operation, _ system: (any SystemCalls)? = nil) -> DirectoryStorage {
        var config = StorageConfig(path: scratch.path)
        config.snapshotAsVolumeChain = operation.chain
        return DirectoryStorage(id: "s", config: config,
                                system: system ?? FaultySystem(base: scratch.system, plan: FaultPlan(), copyingClones: true))
    }

    /// A fresh directory for one run, on disk or in memory, and what its files are.
    struct Scratch {
        var path: String
        var system: any SystemCalls
        var files: (_ modes: Bool) -> [String: String]

        static func onDisk() -> Scratch {
            let directory = TemporaryDirectory()
            return Scratch(path: directory.path, system: LiveSystem(), files: { tree(directory.path, modes: $0) })
        }

        static func inMemory() -> Scratch {
            let directory = MemoryDirectory()
            directory.system.simulateRawQemuImg()
            directory.system.cloneError = nil
            return Scratch(path: directory.path, system: directory.system, files: { directory.system.tree(directory.path, modes: $0) })
        }
    }

    /// The errors injected into every call; renames also get EINVAL, what a file system
    /// without RENAME_NOREPLACE answers (the fallback below the seam is covered by the
    /// bindfs test of the Perl suite).
    static let errors: [Errno] = [.noSpace, .ioError, .interrupted]

    @Test("every call of the operation, failed in turn (in memory)", arguments: memoryOperations)
    func everyCallInMemory(_ operation: Operation) throws {
        try Self.everyCall(operation, Scratch.inMemory)
    }

    @Test("every call of the operation, failed in turn (on disk: qemu-img, tar)", arguments: diskOperations)
    func everyCallOnDisk(_ operation: Operation) throws {
        try Self.everyCall(operation, Scratch.onDisk)
    }

    static func everyCall(_ operation: Operation, _ fresh: () -> Scratch) throws {
        // A dry run counts the calls the operation makes.
        let counting = FaultPlan()
        let scratch = fresh()
        try operation.setup(Self.storage(scratch, operation))
        let before = scratch.files(true)
        try operation.run(Self.storage(scratch, operation, FaultySystem(base: scratch.system, plan: counting, copyingClones: true)))
        // Modes aside: a failed chmod of a template's image is tolerated, as in dir.
        let done = scratch.files(false)
        #expect(scratch.files(true) != before, "the operation changes the storage")
        #expect(!counting.calls.isEmpty)

        var cases: [(Int, Errno)] = []
        for index in counting.calls.indices {
            for error in Self.errors { cases.append((index + 1, error)) }
            if counting.calls[index].hasPrefix("rename ") { cases.append((index + 1, .invalidArgument)) }
        }
        for (failing, error) in cases {
            let scratch = fresh()
            try operation.setup(Self.storage(scratch, operation))
            let before = scratch.files(true)
            let plan = FaultPlan(failing: failing, error: error)
            let storage = Self.storage(scratch, operation, FaultySystem(base: scratch.system, plan: plan, copyingClones: true))
            do {
                try operation.run(storage)
                // Tolerated (a lookup that only had to find nothing, an optional flag):
                // then all of the work is done.
                let after = Self.withoutUnremovable(scratch.files(false), plan)
                #expect(operation.deterministic ? after == done : Set(after.keys) == Set(done.keys),
                        "\(plan.failed ?? "?") with \(error): success is complete")
            } catch {
                if let invariant = operation.invariant {
                    #expect(try invariant(Self.storage(scratch, operation)),
                            "\(plan.failed ?? "?") failing with \(error) broke the volume")
                } else {
                    #expect(Self.withoutUnremovable(scratch.files(true), plan) == before,
                            "\(plan.failed ?? "?") failing with \(error) left the storage changed")
                }
            }
            #expect(plan.failed != nil, "call \(failing) was made and failed")
        }
    }
}
