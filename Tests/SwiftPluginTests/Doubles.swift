@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// A system that passes every call to `base`: test doubles conform and replace only
/// the calls they change.
protocol ForwardingSystem: SystemCalls {
    var base: any SystemCalls { get }
}

extension ForwardingSystem {
    var processID: Int32 { base.processID }
    func currentTime() -> Int64 { base.currentTime() }
    func monotonicTime() -> Int64 { base.monotonicTime() }
    func localTime(at epoch: Int64) -> LocalTime? { base.localTime(at: epoch) }

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        try base.status(path, followSymlinks: followSymlinks)
    }
    func makeDirectory(_ path: String, mode: UInt32) throws(Errno) { try base.makeDirectory(path, mode: mode) }
    func realPath(_ path: String) throws(Errno) -> String { try base.realPath(path) }
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage { try base.fileSystemUsage(path) }
    func readFile(_ path: String) throws(Errno) -> [UInt8] { try base.readFile(path) }
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? { base.probe(timeout: seconds, body) }
    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] { try base.listDirectory(path) }
    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        try base.readBytes(path, offset: offset, count: count)
    }
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        try base.writeFile(path, contents: contents, mode: mode, exclusive: exclusive, applyingUmask: applyingUmask)
    }
    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        try base.rename(source, to: target, replacing: replacing)
    }
    func removeFile(_ path: String) throws(Errno) { try base.removeFile(path) }
    func removeDirectory(_ path: String) throws(Errno) { try base.removeDirectory(path) }
    func removeTree(_ path: String) throws(Errno) { try base.removeTree(path) }
    func setMode(_ path: String, _ mode: UInt32) throws(Errno) { try base.setMode(path, mode) }
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) { try base.setImmutable(path, immutable) }
    func run(_ command: Command) throws(Errno) -> CommandResult { try base.run(command) }
    func cloneFile(_ source: String, into target: String) throws(Errno) { try base.cloneFile(source, into: target) }
    func link(_ source: String, to target: String) throws(Errno) { try base.link(source, to: target) }

    func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 { try base.openFile(path, writing: writing) }
    func closeFile(_ descriptor: Int32) { base.closeFile(descriptor) }
    func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try base.readDescriptor(descriptor, into: buffer, at: offset)
    }
    func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try base.writeDescriptor(descriptor, from: buffer, at: offset)
    }
    func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64? {
        try base.seek(descriptor, from: offset, hole: hole)
    }
    func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int {
        try base.sendFile(from: source, at: offset, to: target, count: count)
    }
    func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) { try base.truncate(descriptor, to: size) }
    func synchronize(_ descriptor: Int32) throws(Errno) { try base.synchronize(descriptor) }
    func status(of descriptor: Int32) throws(Errno) -> FileStatus { try base.status(of: descriptor) }
    func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool {
        try base.setNonBlocking(descriptor, nonBlocking)
    }
    func holdStreamSignals() -> any StreamSignals { base.holdStreamSignals() }
    func waitReady(_ descriptor: Int32, writing: Bool, signals: any StreamSignals) throws(Errno) -> Int32? {
        try base.waitReady(descriptor, writing: writing, signals: signals)
    }

    func extents(of descriptor: Int32, from offset: Int64, count: Int64) throws(Errno) -> [FileExtent] {
        try base.extents(of: descriptor, from: offset, count: count)
    }
    func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? {
        try base.extendedAttribute(name, of: path)
    }
    func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno) {
        try base.setExtendedAttribute(name, of: path, to: value)
    }
    func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno) {
        try base.punchHole(descriptor, at: offset, count: count)
    }
}

/// Metadata the shared `list_volumes` and prune vectors substitute for what `stat`
/// reports (their `mocks`: every file one size and ctime, images one allocated size;
/// ctimes by file name for the prune vectors).
struct MetadataOverrides: Equatable, Sendable {
    var fileSize: Int64?
    var changeTime: Int64?
    var allocatedSize: Int64?
    var changeTimes: [String: Int64] = [:]

    init(fileSize: Int64? = nil, changeTime: Int64? = nil, allocatedSize: Int64? = nil, changeTimes: [String: Int64] = [:]) {
        self.fileSize = fileSize
        self.changeTime = changeTime
        self.allocatedSize = allocatedSize
        self.changeTimes = changeTimes
    }

    /// From a vector's `mocks` (`stat_size`, `stat_ctime`, `image_actual_size`,
    /// `stat_ctime_by_name`); nil when it sets nothing.
    init?(perl value: Value) {
        guard let members = value.hash, !members.isEmpty else { return nil }
        self.init(fileSize: members["stat_size"]?.int, changeTime: members["stat_ctime"]?.int,
                  allocatedSize: members["image_actual_size"]?.int,
                  changeTimes: (members["stat_ctime_by_name"]?.hash ?? [:]).compactMapValues(\.int))
    }
}

/// The live system with `stat` answers replaced by the overrides.
struct OverridingSystem: ForwardingSystem {
    var base: any SystemCalls = LiveSystem()
    var overrides: MetadataOverrides

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        var info = try base.status(path, followSymlinks: followSymlinks)
        if info.kind != .directory {
            info.size = overrides.fileSize ?? info.size
            info.allocatedBytes = overrides.allocatedSize ?? info.allocatedBytes
        }
        info.changeTime = overrides.changeTimes[FilePath.name(of: path)] ?? overrides.changeTime ?? info.changeTime
        return info
    }
}

/// The live system with the time zone fixed to UTC by arithmetic, for tests on real files
/// whose expectations assume a UTC node (the process's TZ is never changed: tests run in parallel).
struct LiveUTCSystem: ForwardingSystem {
    var base: any SystemCalls = LiveSystem()
    func localTime(at epoch: Int64) -> LocalTime? { UTC.localTime(at: epoch) }
}

extension DirectoryStorage {
    /// A storage on a system of its own in memory (for what needs no files).
    init(id: String, config: StorageConfig) {
        self.init(id: id, config: config, system: InMemorySystem())
    }
}

extension DirectoryPlugin {
    /// The plugin for one call on `system`, by default a system of its own in memory
    /// (for what needs no files).
    init(system: any SystemCalls = InMemorySystem()) {
        self.init(call: Call(package: "PVE::Storage::Custom::SwiftPlugin"), system: system)
    }
}

extension ArchiveInfo {
    /// Archive info on a UTC node (the vectors' and upstream tests' assumption).
    init(_ archive: String) throws(StorageError) {
        try self.init(archive, in: InMemorySystem())
    }
}
