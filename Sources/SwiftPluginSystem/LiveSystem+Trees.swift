import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

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
