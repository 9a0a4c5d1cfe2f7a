import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// The real operating system: the only place the storage calls the C library for I/O.
public struct LiveSystem: SystemCalls {
    public init() {}

    public func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        var info = stat()
        let result = followSymlinks ? stat(path, &info) : lstat(path, &info)
        guard result == 0 else { throw Errno(rawValue: errno) }
        return FileStatus(info)
    }

    public func makeDirectory(_ path: String, mode: UInt32) throws(Errno) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw Errno(rawValue: errno) }
    }

    public func realPath(_ path: String) throws(Errno) -> String {
        guard let resolved = realpath(path, nil) else { throw Errno(rawValue: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw Errno(rawValue: errno) }
        let unit = Int64(info.f_frsize)
        let total = Int64(info.f_blocks) &* unit
        return FileSystemUsage(
            total: total,
            available: Int64(info.f_bavail) &* unit,
            used: total &- Int64(info.f_bfree) &* unit)
    }

    public func readFile(_ path: String) throws(Errno) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try retryingInterrupts { chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) } }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    public func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? {
        var ends: [Int32] = [-1, -1]
        // Close-on-exec from the start: a program another thread spawns meanwhile must not
        // hold the write end open (the answer's end of file would wait for it).
        guard spve_pipe_cloexec(&ends) == 0 else { return nil }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let child = fork()
        if child < 0 {
            close(readEnd)
            close(writeEnd)
            return nil
        }
        if child == 0 {
            // The child only computes and writes its numbers; _exit skips Perl's END blocks and atexit handlers.
            close(readEnd)
            if let numbers = body() {
                // A frame: the count, then the numbers; only a whole frame is an answer.
                var bytes: [UInt8] = []
                for number in [Int64(numbers.count)] + numbers {
                    for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: number >> Int64(shift))) }
                }
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { _exit(1) }
                    offset += written
                }
                _exit(0)
            }
            _exit(1)
        }
        close(writeEnd)
        let received = collect(from: readEnd, child: child, timeout: seconds)
        close(readEnd)
        // Only a child that wrote its whole answer and exited 0 counts. When SIGCHLD is
        // ignored (a Perl caller's `$SIG{CHLD} = 'IGNORE'`), the kernel reaps the child
        // and waitpid fails with ECHILD: a whole frame is then the answer.
        let status = Subprocess.wait(for: child)
        let waitError = errno
        guard let received, received.count % 8 == 0, received.count >= 8 else { return nil }
        if let status {
            guard spve_wait_exited(status) != 0, spve_wait_exit_status(status) == 0 else { return nil }
        } else if waitError != ECHILD {
            return nil
        }
        let numbers = stride(from: 0, to: received.count, by: 8).map { start in
            var number: Int64 = 0
            for index in 0..<8 { number |= Int64(received[start + index]) << Int64(8 * index) }
            return number
        }
        guard let count = numbers.first, count == Int64(numbers.count - 1) else { return nil }
        return Array(numbers.dropFirst())
    }

    /// Reads the probe child's answer until end of file; kills the child and returns nil at the deadline.
    private func collect(from readEnd: Int32, child: pid_t, timeout seconds: Int) -> [UInt8]? {
        var received: [UInt8] = []
        let deadline = Monotonic.now() + Int64(seconds) * 1_000_000_000
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let remaining = deadline - Monotonic.now()
            guard remaining > 0 else {
                kill(child, SIGKILL)
                return nil
            }
            var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let count: Int
            do {
                guard try retryingInterrupts({ poll(&poller, 1, Int32(clamping: remaining / 1_000_000 + 1)) }) > 0 else { continue }
                count = try retryingInterrupts { chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) } }
            } catch {
                kill(child, SIGKILL)
                return nil
            }
            if count == 0 { return received }
            received.append(contentsOf: chunk[0..<count])
        }
    }

    public func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] {
        guard let directory = opendir(path) else { throw Errno(rawValue: errno) }
        defer { closedir(directory) }
        var entries: [DirectoryEntry] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                return entries
            }
            // The name is read where it lies, up to its NUL: a record is shorter than
            // `struct dirent`, so copying the whole `d_name` array would read past it.
            guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { throw Errno.invalidArgument }
            let start = UnsafeRawPointer(entry).advanced(by: nameOffset)
            let name = Array(UnsafeRawBufferPointer(start: start, count: strlen(start.assumingMemoryBound(to: CChar.self))))
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            entries.append(DirectoryEntry(rawName: name))
        }
    }

    public func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: max(count, 0))
        var filled = 0
        while filled < buffer.count {
            let got = try retryingInterrupts {
                buffer[filled...].withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset) + off_t(filled)) }
            }
            if got == 0 { break }
            filled += got
        }
        return Array(buffer[0..<filled])
    }

    public func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC)
        let descriptor = open(path, flags, mode_t(mode))
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        var failure: Errno?
        var offset = 0
        while offset < contents.count {
            do { offset += try retryingInterrupts { contents[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } } } catch {
                failure = error
                break
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = Errno(rawValue: errno) }
        if close(descriptor) != 0, failure == nil { failure = Errno(rawValue: errno) }
        if let failure {
            unlink(path)
            throw failure
        }
        // Otherwise the mode is exact, whatever the umask of the PVE daemon.
        guard applyingUmask || chmod(path, mode_t(mode)) == 0 else { throw Errno(rawValue: errno) }
    }

    public func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        if replacing {
            guard Glibc.rename(source, target) == 0 else { throw Errno(rawValue: errno) }
            return
        }
        // Onto itself nothing may be replaced: EEXIST, as renameat2 answers, and never
        // the link-and-unlink below, which could remove the name (of a file with a second link).
        if source == target { throw Errno.fileExists }
        if spve_rename_noreplace(source, target) == 0 { return }
        let failure = errno
        // NFS, CephFS, FUSE and old kernels refuse the flag itself (EINVAL, ENOSYS,
        // EOPNOTSUPP): decided by this call's answer, never by guessing the file system.
        guard spve_rename_flag_unsupported(failure) != 0 else { throw Errno(rawValue: failure) }
        try renameByLink(source, to: target)
    }

    /// A rename that never replaces, without renameat2's flag: `link` (atomic, EEXIST when
    /// the target exists, also over NFS) then `unlink` of the source. Where no hard link
    /// can be made (a directory, a file system without them), the target is checked and
    /// then renamed, as `dir` does for every rename.
    private func renameByLink(_ source: String, to target: String) throws(Errno) {
        if Glibc.link(source, target) == 0 {
            guard unlink(source) == 0 else {
                let failure = errno
                unlink(target)
                throw Errno(rawValue: failure)
            }
            return
        }
        let failure = errno
        switch failure {
        case EEXIST:
            // NFS can answer EEXIST to a retransmitted link that did succeed: both names are then one file.
            if isSameFile(source, target) {
                guard unlink(source) == 0 else { throw Errno(rawValue: errno) }
                return
            }
            throw Errno.fileExists
        case EPERM, EOPNOTSUPP, ENOTSUP, ENOSYS, EMLINK:
            var info = stat()
            if lstat(target, &info) == 0 { throw Errno.fileExists }
            guard Glibc.rename(source, target) == 0 else { throw Errno(rawValue: errno) }
        default:
            throw Errno(rawValue: failure)
        }
    }

    private func isSameFile(_ first: String, _ second: String) -> Bool {
        var one = stat()
        var two = stat()
        guard lstat(first, &one) == 0, lstat(second, &two) == 0 else { return false }
        return one.st_dev == two.st_dev && one.st_ino == two.st_ino && one.st_nlink >= 2
    }

    public func removeFile(_ path: String) throws(Errno) {
        guard unlink(path) == 0 else { throw Errno(rawValue: errno) }
    }

    public func removeDirectory(_ path: String) throws(Errno) {
        guard rmdir(path) == 0 else { throw Errno(rawValue: errno) }
    }

    public func setMode(_ path: String, _ mode: UInt32) throws(Errno) {
        guard chmod(path, mode_t(mode)) == 0 else { throw Errno(rawValue: errno) }
    }

    public func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        defer { close(descriptor) }
        var flags: Int32 = 0
        guard spve_get_inode_flags(descriptor, &flags) == 0 else { throw Errno(rawValue: errno) }
        let updated = immutable ? flags | spve_immutable_flag() : flags & ~spve_immutable_flag()
        guard updated == flags || spve_set_inode_flags(descriptor, updated) == 0 else { throw Errno(rawValue: errno) }
    }

    public func run(_ command: Command) throws(Errno) -> CommandResult {
        try Subprocess.run(command)
    }

    public func cloneFile(_ source: String, into target: String) throws(Errno) {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw Errno(rawValue: errno) }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard output >= 0 else { throw Errno(rawValue: errno) }
        var failure: Errno?
        if spve_clone_file(output, input) != 0 {
            failure = Errno(rawValue: errno)
        } else if fsync(output) != 0 {
            failure = Errno(rawValue: errno)
        }
        if close(output) != 0, failure == nil { failure = Errno(rawValue: errno) }
        if let failure { throw failure }
    }

    public func link(_ source: String, to target: String) throws(Errno) {
        guard Glibc.link(source, target) == 0 else { throw Errno(rawValue: errno) }
    }

}

extension FileStatus {
    /// What the storage uses of a `struct stat` (from stat, lstat or fstat).
    init(_ info: stat) {
        let kind: FileKind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFBLK: kind = .blockDevice
        case S_IFCHR: kind = .characterDevice
        default: kind = .other
        }
        self.init(kind: kind, size: Int64(info.st_size), mode: UInt32(info.st_mode & 0o7777),
                  changeTime: Int64(info.st_ctim.tv_sec), allocatedBytes: Int64(info.st_blocks) &* 512,
                  modificationTime: Int64(info.st_mtim.tv_sec), device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// The process, the clocks and the time zone of ``LiveSystem``.
extension LiveSystem {
    public var processID: Int32 { getpid() }

    public func currentTime() -> Int64 { Int64(time(nil)) }

    public func monotonicTime() -> Int64 { Monotonic.now() }


    public func localTime(at epoch: Int64) -> LocalTime? {
        var time = time_t(epoch)
        var parts = tm()
        // localtime_r, unlike localtime, may keep the zone it saw first: a daemon's TZ can change.
        tzset()
        guard localtime_r(&time, &parts) != nil else { return nil }
        return LocalTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                         hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }
}

/// Monotonic clock in nanoseconds.
enum Monotonic {
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

/// The C locale, for error texts: Perl's `$!` is English outside `use locale`, whatever
/// the daemon's LANG says.
nonisolated(unsafe) private let cLocale = newlocale(1 << LC_MESSAGES, "C", nil) // LC_MESSAGES_MASK

extension Errno {
    /// The error `number`, with the C library's text for it in the C locale.
    init(rawValue number: Int32) {
        let text = cLocale.map { strerror_l(number, $0) } ?? strerror(number)
        self.init(rawValue: number, description: text.map { String(cString: $0) } ?? "Unknown error \(number)")
    }
}

/// Tree removal on raw names, relative to directory descriptors (``SystemCalls/removeTree(_:)``).
extension LiveSystem {
    public func removeTree(_ path: String) throws(Errno) {
        let top = try status(path, followSymlinks: false)
        guard top.kind == .directory else { return try removeFile(path) }
        let root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw Errno(rawValue: errno) }
        // Depth first without recursion and with one descriptor open at a time: a tree as
        // deep as tar can make it is fine. Each level keeps its identity (checked when the
        // walk goes back up through "..") and the subdirectories still to remove.
        var current = root
        defer { close(current) }
        var identities = [try Self.identity(current)]
        var names: [[UInt8]] = []
        var pending = [try Self.removeFiles(in: current)]
        while true {
            if let next = pending[pending.count - 1].popLast() {
                let child = next.withUnsafeBufferPointer { name in
                    name.withMemoryRebound(to: CChar.self) { openat(current, $0.baseAddress!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                }
                if child < 0 {
                    let error = errno
                    if error == ENOENT { continue }
                    // No longer a directory: remove it as a file (or report why not).
                    if error == ENOTDIR || error == ELOOP { try Self.unlinkName(next, in: current, directory: false); continue }
                    throw Errno(rawValue: error)
                }
                close(current)
                current = child
                identities.append(try Self.identity(current))
                names.append(next)
                pending.append(try Self.removeFiles(in: current))
                continue
            }
            guard let name = names.popLast() else { break }
            let parent = openat(current, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard parent >= 0 else { throw Errno(rawValue: errno) }
            close(current)
            current = parent
            identities.removeLast()
            pending.removeLast()
            // The directory moved while it was emptied: stop rather than remove elsewhere.
            guard try Self.identity(current) == identities[identities.count - 1] else { throw Errno.ioError }
            try Self.unlinkName(name, in: current, directory: true)
        }
        try removeDirectory(path)
    }

    private static func identity(_ descriptor: Int32) throws(Errno) -> [UInt64] {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Errno(rawValue: errno) }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    /// unlinkat of a raw name; a name already gone is fine.
    private static func unlinkName(_ name: [UInt8], in directory: Int32, directory isDirectory: Bool) throws(Errno) {
        let terminated = name + [0]
        let result = terminated.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { unlinkat(directory, $0.baseAddress!, isDirectory ? AT_REMOVEDIR : 0) }
        }
        if result != 0, errno != ENOENT { throw Errno(rawValue: errno) }
    }

    /// Removes every entry of the open directory that is not a directory; returns the
    /// names (NUL-terminated) of its subdirectories.
    private static func removeFiles(in descriptor: Int32) throws(Errno) -> [[UInt8]] {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw Errno(rawValue: errno) }
        guard let stream = fdopendir(copy) else {
            let error = errno
            close(copy)
            throw Errno(rawValue: error)
        }
        defer { closedir(stream) }
        guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { throw Errno.invalidArgument }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                break
            }
            let start = UnsafeRawPointer(entry).advanced(by: nameOffset)
            let name = Array(UnsafeRawBufferPointer(start: start, count: strlen(start.assumingMemoryBound(to: CChar.self))))
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
        var directories: [[UInt8]] = []
        for name in names {
            let terminated = name + [0]
            let result = terminated.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { unlinkat(descriptor, $0.baseAddress!, 0) }
            }
            if result == 0 { continue }
            let error = errno
            switch error {
            case ENOENT: continue
            case EISDIR, EPERM: directories.append(terminated) // EPERM: POSIX's answer for a directory
            default: throw Errno(rawValue: error)
            }
        }
        return directories
    }
}

/// Batches of look-ups (``SystemCalls/probeFiles(_:)``), spread over a few threads.
extension LiveSystem {
    public func probeFiles(_ requests: [FileProbeRequest]) -> [FileProbe] {
        probeFiles(requests, always: false)
    }

    public func listDirectories(_ paths: [String]) -> [Result<[DirectoryEntry], Errno>] {
        listDirectories(paths, always: false)
    }

    /// `always` (tests): threads for every batch of at least ``WorkerPool/minimumJobs``,
    /// without timing the first jobs.
    func probeFiles(_ requests: [FileProbeRequest], always: Bool) -> [FileProbe] {
        let system = self
        return WorkerPool.map(count: requests.count, always: always) { system.probeFile(requests[$0]) }
    }

    func listDirectories(_ paths: [String], always: Bool) -> [Result<[DirectoryEntry], Errno>] {
        let system = self
        return WorkerPool.map(count: paths.count, always: always) { system.listDirectoryResult(paths[$0]) }
    }
}
