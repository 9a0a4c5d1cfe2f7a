import PVEStorage

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
    public var modificationTime: Int64
    /// Device and inode: two names with the same pair are one file.
    public var device: UInt64
    public var inode: UInt64

    public init(kind: FileKind, size: Int64 = 0, mode: UInt32 = 0o644, changeTime: Int64 = 0, allocatedBytes: Int64 = 0,
                modificationTime: Int64 = 0, device: UInt64 = 0, inode: UInt64 = 0) {
        self.kind = kind
        self.size = size
        self.mode = mode
        self.changeTime = changeTime
        self.allocatedBytes = allocatedBytes
        self.modificationTime = modificationTime
        self.device = device
        self.inode = inode
    }

    /// Whether `other` is the same file (a hard link to it), as far as stat can tell.
    public func isSameFile(as other: FileStatus) -> Bool {
        inode != 0 && device == other.device && inode == other.inode
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

/// One entry of a directory listing. PVE's names are bytes; `name` is nil when
/// they are not valid UTF-8 (such an entry is never used as a volume).
public struct DirectoryEntry: Equatable, Sendable {
    public var name: String?
    public var rawName: [UInt8]

    public init(rawName: [UInt8]) {
        self.rawName = rawName
        name = String(validating: rawName, as: UTF8.self)
    }
}

/// One file of a batch of look-ups (``SystemCalls/probeFiles(_:)``): its status, and,
/// when `headBytes` is positive and it is a regular file, its first bytes.
public struct FileProbeRequest: Equatable, Sendable {
    public var path: String
    public var followSymlinks: Bool
    public var headBytes: Int

    public init(path: String, followSymlinks: Bool, headBytes: Int = 0) {
        self.path = path
        self.followSymlinks = followSymlinks
        self.headBytes = headBytes
    }
}

/// What ``SystemCalls/probeFiles(_:)`` found for one request: the status (or its
/// error), and the first bytes of a regular file (`readBytes` at 0 of `headBytes`, or
/// its error), nil when not asked for or not a regular file.
public struct FileProbe: Equatable, Sendable {
    public var status: Result<FileStatus, Errno>
    public var head: Result<[UInt8], Errno>?

    public init(status: Result<FileStatus, Errno>, head: Result<[UInt8], Errno>? = nil) {
        self.status = status
        self.head = head
    }
}

/// Every operating-system call the storage makes goes through this seam: files,
/// processes, the clocks, the time zone and the process's identity.
///
/// `LiveSystem` (module SwiftPluginSystem) is the real implementation, and the only
/// code that calls the C library; tests substitute one that keeps files in memory or
/// injects faults (a full disk, a hanging mount, a failing `mkdir`).
public protocol SystemCalls: Sendable {
    // The process, the clocks and the time zone.

    /// This process's id (names of temporary files carry it).
    var processID: Int32 { get }
    /// The wall clock, in seconds since the epoch.
    func currentTime() -> Int64
    /// A monotonic clock, in nanoseconds (progress reports).
    func monotonicTime() -> Int64
    /// The calendar time of `epoch` in the node's time zone (`localtime`), the zone
    /// (`TZ`) read again on each call as Perl's `localtime` does; nil when the C library
    /// cannot represent it. (The way back is ``LocalTime/epoch(in:)``.)
    func localTime(at epoch: Int64) -> LocalTime?

    // Files and processes.

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus
    func makeDirectory(_ path: String, mode: UInt32) throws(Errno)
    func realPath(_ path: String) throws(Errno) -> String
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage
    func readFile(_ path: String) throws(Errno) -> [UInt8]
    /// Runs `body` in a forked child and returns what it returned, or nil when
    /// the child did not finish within `seconds` (a hung network mount) or failed.
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]?

    /// The entries of a directory, without `.` and `..`, in no particular order.
    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry]
    /// Up to `count` bytes at `offset` (fewer at the end of the file).
    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8]
    /// Creates `path` with `contents`; with `exclusive`, fails if it exists. Its mode is
    /// `mode` exactly, or with `applyingUmask` less the process's umask (as a program
    /// creating the file, such as qemu-img, would leave it).
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno)
    /// Renames; without `replacing`, fails with EEXIST rather than replace the target.
    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno)
    func removeFile(_ path: String) throws(Errno)
    func removeDirectory(_ path: String) throws(Errno)
    /// Removes `path` and, when it is a directory, everything below it: names are raw
    /// bytes (any name a container or tar made, UTF-8 or not) removed relative to
    /// directory descriptors, never through a symbolic link. A file that is not a
    /// directory (or a symlink) is unlinked.
    func removeTree(_ path: String) throws(Errno)
    func setMode(_ path: String, _ mode: UInt32) throws(Errno)
    /// Sets or clears the immutable attribute (`chattr +i`).
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno)
    /// Runs a program (never through a shell) and waits for it, at most its timeout.
    func run(_ command: Command) throws(Errno) -> CommandResult
    /// Makes the existing (empty) regular file `target` share all extents of `source`
    /// (`FICLONE`: a reflink copy, instant and taking no space until either is written),
    /// and flushes it. Fails with EOPNOTSUPP, EXDEV or EINVAL where the file system cannot.
    func cloneFile(_ source: String, into target: String) throws(Errno)
    /// A second name for a file (`link`): fails with EEXIST when `target` exists.
    func link(_ source: String, to target: String) throws(Errno)

    // Streams (volume_export / volume_import): open descriptors, read and written in place.

    /// Opens `path` (never through a final symlink): for reading, or for writing a file that
    /// exists (a temporary created before). Close-on-exec.
    func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32
    func closeFile(_ descriptor: Int32)
    /// Reads into `buffer` at the descriptor's position (`offset` nil) or at `offset`
    /// (pread); 0 at the end. EINTR is retried.
    func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int
    /// Writes from `buffer` at the position (`offset` nil) or at `offset` (pwrite); may
    /// write less than asked. EINTR is retried.
    func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int
    /// The next data (`hole` false, SEEK_DATA) or hole (SEEK_HOLE) at or after `offset`;
    /// nil when there is no data after it (ENXIO).
    func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64?
    /// Copies up to `count` bytes at `offset` of a file to `target`, in the kernel
    /// (sendfile); returns the bytes copied. EINVAL/ENOSYS when it does not apply.
    func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int
    func truncate(_ descriptor: Int32, to size: Int64) throws(Errno)
    /// fsync.
    func synchronize(_ descriptor: Int32) throws(Errno)
    func status(of descriptor: Int32) throws(Errno) -> FileStatus
    /// Holds the stop signals (SIGTERM, SIGINT, SIGHUP) and SIGPIPE while a stream runs,
    /// so that a stop request ends it cleanly and a closed peer is an error (EPIPE), not
    /// the end of the process. ``StreamSignals/end()`` restores the mask.
    func holdStreamSignals() -> any StreamSignals
    /// Waits until `descriptor` can be read (or written) or a held stop signal arrives;
    /// returns that signal, nil when the descriptor is ready.
    func waitReady(_ descriptor: Int32, writing: Bool, signals: any StreamSignals) throws(Errno) -> Int32?
    /// Sets or clears O_NONBLOCK on an open descriptor; returns whether it was set before.
    func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool

    // Batches (listings): many independent look-ups, which a system may run concurrently.

    /// For each request, in order: `status(path, followSymlinks:)` and, for a regular
    /// file with `headBytes` > 0, `readBytes(path, offset: 0, count: headBytes)`, each
    /// with its own error. The default runs them one after the other; ``LiveSystem``
    /// spreads a large batch over a few threads (on a network file system every call is
    /// a round trip).
    func probeFiles(_ requests: [FileProbeRequest]) -> [FileProbe]
    /// `listDirectory` of each path, in order, each with its own error; concurrently in
    /// ``LiveSystem`` as ``probeFiles(_:)``.
    func listDirectories(_ paths: [String]) -> [Result<[DirectoryEntry], Errno>]

    // Replication: extent maps, snapshot identities in extended attributes, holes.
    // A system without them throws EOPNOTSUPP (the defaults below); the storage then
    // compares contents, or refuses what needs them.

    /// The extents of the open file that overlap `[offset, offset+count)`, in order, as
    /// FS_IOC_FIEMAP reports them after the file's dirty pages are written (FIEMAP_FLAG_SYNC).
    func extents(of descriptor: Int32, from offset: Int64, count: Int64) throws(Errno) -> [FileExtent]
    /// The value of the extended attribute `name` of `path` (a final symlink is not
    /// followed); nil when the file has no such attribute.
    func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]?
    func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno)
    /// Deallocates `[offset, offset+count)` of an open file, which then reads as zeros;
    /// the file's size stays (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
    func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno)
}

extension SystemCalls {
    public func extents(of descriptor: Int32, from offset: Int64, count: Int64) throws(Errno) -> [FileExtent] {
        throw .notSupported
    }
    public func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? { throw .notSupported }
    public func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno) { throw .notSupported }
    public func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno) { throw .notSupported }
}

/// The signals a running stream holds (``SystemCalls/holdStreamSignals()``), until ``end()``.
public protocol StreamSignals: AnyObject, Sendable {
    /// Restores the signal mask: a stop signal that arrived reaches the caller's handler.
    func end()
}

/// Holds nothing: for systems without signals (tests, fuzzing).
public final class NoStreamSignals: StreamSignals {
    public init() {}
    public func end() {}
}

extension SystemCalls {
    public func probeFiles(_ requests: [FileProbeRequest]) -> [FileProbe] {
        requests.map(probeFile)
    }

    public func listDirectories(_ paths: [String]) -> [Result<[DirectoryEntry], Errno>] {
        paths.map(listDirectoryResult)
    }

    /// One directory of ``listDirectories(_:)``.
    public func listDirectoryResult(_ path: String) -> Result<[DirectoryEntry], Errno> {
        do { return .success(try listDirectory(path)) } catch { return .failure(error) }
    }

    /// One request of ``probeFiles(_:)``, sequentially: what every implementation answers for it.
    public func probeFile(_ request: FileProbeRequest) -> FileProbe {
        let status: FileStatus
        do { status = try self.status(request.path, followSymlinks: request.followSymlinks) } catch {
            return FileProbe(status: .failure(error))
        }
        guard request.headBytes > 0, status.kind == .regular else { return FileProbe(status: .success(status)) }
        do {
            return FileProbe(status: .success(status), head: .success(try readBytes(request.path, offset: 0, count: request.headBytes)))
        } catch {
            return FileProbe(status: .success(status), head: .failure(error))
        }
    }
}

extension SystemCalls {
    /// Creates `path` with `contents` and exactly `mode`.
    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool) throws(Errno) {
        try writeFile(path, contents: contents, mode: mode, exclusive: exclusive, applyingUmask: false)
    }

    /// `mkdir -p`: creates `path` and its missing parents; an existing directory is fine.
    public func makeDirectories(_ path: String, mode: UInt32 = 0o777) throws(Errno) {
        // mkdir first, not stat: a network file system's client may still find a
        // directory another node has just removed (MooseFS keeps entries for a second),
        // where mkdir asks the server.
        do {
            try makeDirectory(path, mode: mode)
        } catch {
            switch error {
            case .fileExists:
                guard (try? status(path, followSymlinks: true))?.kind == .directory else { throw .fileExists }
            case .noSuchFileOrDirectory, .notDirectory:
                // A parent is missing, or is no directory (which its own mkdir then says).
                let parent = FilePath.parent(of: path)
                guard parent != path, !parent.isEmpty else { throw error }
                try makeDirectories(parent, mode: mode)
                do { try makeDirectory(path, mode: mode) } catch {
                    // Lost a race with another creator: fine if it is a directory now.
                    guard error == .fileExists, (try? status(path, followSymlinks: true))?.kind == .directory else { throw error }
                }
            default:
                throw error
            }
        }
    }

    public func isDirectory(_ path: String) -> Bool {
        (try? status(path, followSymlinks: true))?.kind == .directory
    }

    public func exists(_ path: String) -> Bool {
        (try? status(path, followSymlinks: true)) != nil
    }

    /// Whether `path` is certainly not there (lstat says ENOENT); a failed check is no proof.
    public func isGone(_ path: String) -> Bool {
        do { _ = try status(path, followSymlinks: false) } catch { return error == .noSuchFileOrDirectory }
        return false
    }
}

/// Where an atomic write failed: writing the temporary file, or publishing it under
/// its name (callers word the two differently, as PVE does).
public enum AtomicWriteFailure: Error, Equatable {
    case writing(Errno)
    case publishing(Errno)
}

extension SystemCalls {
    /// Writes a file so that it appears complete or not at all: a new temporary file in
    /// the same directory (see ``Temporaries``), then a rename to `path`, over what is
    /// there or, without `replacing`, failing with `.publishing(.fileExists)`. Nothing
    /// is left behind on failure.
    public func writeFileAtomically(_ path: String, contents: [UInt8], mode: UInt32,
                                    replacing: Bool = true) throws(AtomicWriteFailure) {
        let temporary: String
        do { temporary = try createTemporaryFile(in: FilePath.parent(of: path), contents: contents, mode: mode) } catch {
            throw .writing(error)
        }
        do {
            try rename(temporary, to: path, replacing: replacing)
        } catch {
            try? removeFile(temporary)
            throw .publishing(error)
        }
    }

}
