import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// Files and directories: status, reads, writes, renames, links and flags.
extension LiveSystem {
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
