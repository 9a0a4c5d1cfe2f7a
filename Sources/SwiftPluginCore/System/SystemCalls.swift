/// What a file is, as far as the storage cares.
public enum FileKind: Equatable, Sendable {
    case regular, directory, symlink, blockDevice, characterDevice, other
}

/// The parts of `struct stat` the storage uses.
public struct FileStatus: Equatable, Sendable {
    public var kind: FileKind
    public var size: Int64
    public var mode: UInt32
    public var changeTime: Int64
    public var allocatedBytes: Int64

    public init(kind: FileKind, size: Int64 = 0, mode: UInt32 = 0o644, changeTime: Int64 = 0, allocatedBytes: Int64 = 0) {
        self.kind = kind
        self.size = size
        self.mode = mode
        self.changeTime = changeTime
        self.allocatedBytes = allocatedBytes
    }
}

/// The numbers PVE reports for a storage, from `statvfs`, in bytes.
public struct FileSystemUsage: Equatable, Sendable {
    public var total: Int64
    /// Space available to unprivileged users.
    public var available: Int64
    /// total − free, where free includes the blocks reserved for root.
    public var used: Int64

    public init(total: Int64, available: Int64, used: Int64) {
        self.total = total
        self.available = available
        self.used = used
    }
}

/// Every operating-system call the storage makes goes through this seam.
///
/// ``LiveSystem`` is the real implementation; tests substitute one that
/// injects faults (a full disk, a hanging mount, a failing `mkdir`).
public protocol SystemCalls: Sendable {
    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus
    func makeDirectory(_ path: String, mode: UInt32) throws(Errno)
    func realPath(_ path: String) throws(Errno) -> String
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage
    func readFile(_ path: String) throws(Errno) -> [UInt8]
    /// Runs `body` in a forked child and returns what it returned, or nil when
    /// the child did not finish within `seconds` (a hung network mount) or failed.
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]?
}

extension SystemCalls {
    /// `mkdir -p`: creates `path` and its missing parents; an existing directory is fine.
    public func makeDirectories(_ path: String, mode: UInt32 = 0o777) throws(Errno) {
        if let existing = try? status(path, followSymlinks: true) {
            if existing.kind == .directory { return }
            throw Errno.fileExists
        }
        let parent = FilePath.parent(of: path)
        if parent != path, !parent.isEmpty { try makeDirectories(parent, mode: mode) }
        do {
            try makeDirectory(path, mode: mode)
        } catch {
            // Lost a race with another creator: fine if it is a directory now.
            if error == .fileExists, (try? status(path, followSymlinks: true))?.kind == .directory { return }
            throw error
        }
    }

    public func isDirectory(_ path: String) -> Bool {
        (try? status(path, followSymlinks: true))?.kind == .directory
    }

    public func exists(_ path: String) -> Bool {
        (try? status(path, followSymlinks: true)) != nil
    }
}
