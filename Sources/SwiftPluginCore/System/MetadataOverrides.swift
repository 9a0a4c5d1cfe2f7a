/// Metadata tests substitute for what the file system and image inspection report,
/// as the shared `list_volumes` vectors require (every `stat` reports one size and
/// ctime; inspection reports one virtual and one allocated size). Perl tests set them
/// through `%PVE::Storage::Custom::SwiftPlugin::TEST_METADATA`; production never does.
public struct MetadataOverrides: Equatable, Sendable {
    public var fileSize: Int64?
    public var changeTime: Int64?
    public var imageVirtualSize: Int64?
    public var imageAllocatedSize: Int64?
    /// ctime per file name (`stat_ctime_by_name`), before `changeTime`.
    public var changeTimes: [String: Int64] = [:]

    public init(fileSize: Int64? = nil, changeTime: Int64? = nil, imageVirtualSize: Int64? = nil, imageAllocatedSize: Int64? = nil) {
        self.fileSize = fileSize
        self.changeTime = changeTime
        self.imageVirtualSize = imageVirtualSize
        self.imageAllocatedSize = imageAllocatedSize
    }
}

/// The system with `stat` answers replaced by the overrides (size and ctime of files).
public struct OverridingSystem: SystemCalls {
    public var base: any SystemCalls
    public var overrides: MetadataOverrides

    public init(base: any SystemCalls, overrides: MetadataOverrides) {
        self.base = base
        self.overrides = overrides
    }

    public func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        var info = try base.status(path, followSymlinks: followSymlinks)
        if info.kind != .directory {
            info.size = overrides.fileSize ?? info.size
        }
        info.changeTime = overrides.changeTimes[FilePath.name(of: path)] ?? overrides.changeTime ?? info.changeTime
        return info
    }

    public func makeDirectory(_ path: String, mode: UInt32) throws(Errno) { try base.makeDirectory(path, mode: mode) }
    public func realPath(_ path: String) throws(Errno) -> String { try base.realPath(path) }
    public func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage { try base.fileSystemUsage(path) }
    public func readFile(_ path: String) throws(Errno) -> [UInt8] { try base.readFile(path) }
    public func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? { base.probe(timeout: seconds, body) }
    public func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] { try base.listDirectory(path) }
    public func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        try base.readBytes(path, offset: offset, count: count)
    }
    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        try base.writeFile(path, contents: contents, mode: mode, exclusive: exclusive, applyingUmask: applyingUmask)
    }
    public func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        try base.rename(source, to: target, replacing: replacing)
    }
    public func removeFile(_ path: String) throws(Errno) { try base.removeFile(path) }
    public func removeDirectory(_ path: String) throws(Errno) { try base.removeDirectory(path) }
    public func removeTree(_ path: String) throws(Errno) { try base.removeTree(path) }
    public func setMode(_ path: String, _ mode: UInt32) throws(Errno) { try base.setMode(path, mode) }
    public func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) { try base.setImmutable(path, immutable) }
    public func run(_ command: Command) throws(Errno) -> CommandResult { try base.run(command) }
    public func cloneFile(_ source: String, into target: String) throws(Errno) { try base.cloneFile(source, into: target) }
    public func link(_ source: String, to target: String) throws(Errno) { try base.link(source, to: target) }

    // Streams: forwarded.
    public func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 {
        return try base.openFile(path, writing: writing)
    }
    public func closeFile(_ descriptor: Int32) { base.closeFile(descriptor) }
    public func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        return try base.readDescriptor(descriptor, into: buffer, at: offset)
    }
    public func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        return try base.writeDescriptor(descriptor, from: buffer, at: offset)
    }
    public func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64? {
        try base.seek(descriptor, from: offset, hole: hole)
    }
    public func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int {
        return try base.sendFile(from: source, at: offset, to: target, count: count)
    }
    public func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) {
        try base.truncate(descriptor, to: size)
    }
    public func synchronize(_ descriptor: Int32) throws(Errno) {
        try base.synchronize(descriptor)
    }
    public func status(of descriptor: Int32) throws(Errno) -> FileStatus { try base.status(of: descriptor) }
    public func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool { try base.setNonBlocking(descriptor, nonBlocking) }
    public func holdStreamSignals() -> StreamSignals { base.holdStreamSignals() }
    public func waitReady(_ descriptor: Int32, writing: Bool, signals: StreamSignals) throws(Errno) -> Int32? {
        try base.waitReady(descriptor, writing: writing, signals: signals)
    }
}
