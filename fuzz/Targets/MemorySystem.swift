import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import SwiftPlugin
import SwiftPluginSystem

/// One file held in memory, and nothing else: the image reader's system calls are
/// answered from `contents`; every other call fails with EIO.
///
/// When `SystemCalls` gains a requirement, add it here as a refusal (or, for the stream
/// calls the cluster reader uses, answered from `contents`).
struct MemorySystem: SystemCalls {
    static let path = "/fuzz/image"
    var contents: [UInt8]

    // The clocks and the time zone are the live system's: archive names and retention
    // are fuzzed through the C library's localtime_r, as the plugin runs them.
    var processID: Int32 { 1 }
    func currentTime() -> Int64 { LiveSystem().currentTime() }
    func monotonicTime() -> Int64 { 0 }
    func localTime(at epoch: Int64) -> LocalTime? { LiveSystem().localTime(at: epoch) }

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        guard path == Self.path else { throw .noSuchFileOrDirectory }
        return FileStatus(kind: .regular, size: Int64(contents.count), allocatedBytes: Int64(contents.count))
    }

    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        guard path == Self.path else { throw .noSuchFileOrDirectory }
        guard offset >= 0, count >= 0 else { throw .invalidArgument }
        guard offset < Int64(contents.count) else { return [] }
        let start = Int(offset)
        return Array(contents[start..<(start + min(count, contents.count - start))])
    }

    func readFile(_ path: String) throws(Errno) -> [UInt8] {
        guard path == Self.path else { throw .noSuchFileOrDirectory }
        return contents
    }

    func makeDirectory(_ path: String, mode: UInt32) throws(Errno) { throw .ioError }
    func realPath(_ path: String) throws(Errno) -> String { throw .ioError }
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage { throw .ioError }
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? { nil }
    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] { throw .ioError }
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        throw .ioError
    }
    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) { throw .ioError }
    func removeFile(_ path: String) throws(Errno) { throw .ioError }
    func removeDirectory(_ path: String) throws(Errno) { throw .ioError }
    func removeTree(_ path: String) throws(Errno) { throw .ioError }
    func setMode(_ path: String, _ mode: UInt32) throws(Errno) { throw .ioError }
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) { throw .ioError }
    func run(_ command: Command) throws(Errno) -> CommandResult { throw .ioError }
    func cloneFile(_ source: String, into target: String) throws(Errno) { throw .ioError }
    func link(_ source: String, to target: String) throws(Errno) { throw .ioError }

    // Streams: the one file opens as descriptor 3 and reads at offsets; nothing is written.
    static let descriptor: Int32 = 3
    func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 {
        guard path == Self.path else { throw .noSuchFileOrDirectory }
        guard !writing else { throw .ioError }
        return Self.descriptor
    }
    func closeFile(_ descriptor: Int32) {}
    func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        guard descriptor == Self.descriptor, let offset else { throw .ioError }
        let bytes = try readBytes(Self.path, offset: offset, count: buffer.count)
        buffer.copyBytes(from: bytes)
        return bytes.count
    }
    func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int { throw .ioError }
    func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64? {
        guard descriptor == Self.descriptor else { throw .ioError }
        guard offset < Int64(contents.count) else { return nil }
        return hole ? Int64(contents.count) : offset
    }
    func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int { throw .ioError }
    func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) { throw .ioError }
    func synchronize(_ descriptor: Int32) throws(Errno) { throw .ioError }
    func status(of descriptor: Int32) throws(Errno) -> FileStatus {
        guard descriptor == Self.descriptor else { throw .ioError }
        return try status(Self.path, followSymlinks: true)
    }
    func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool { false }
    func holdStreamSignals() -> any StreamSignals { NoStreamSignals() }
    func waitReady(_ descriptor: Int32, writing: Bool, signals: any StreamSignals) throws(Errno) -> Int32? { nil }
}
