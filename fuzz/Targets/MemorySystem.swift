import SwiftPluginCore

/// One file held in memory, and nothing else: the image reader's system calls are
/// answered from `contents`; every other call fails with EIO.
///
/// When `SystemCalls` gains a requirement, add it here as a refusal.
struct MemorySystem: SystemCalls {
    static let path = "/fuzz/image"
    var contents: [UInt8]

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
    func setMode(_ path: String, _ mode: UInt32) throws(Errno) { throw .ioError }
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) { throw .ioError }
    func run(_ command: Command) throws(Errno) -> CommandResult { throw .ioError }
    func cloneFile(_ source: String, into target: String) throws(Errno) { throw .ioError }
    func link(_ source: String, to target: String) throws(Errno) { throw .ioError }
}
