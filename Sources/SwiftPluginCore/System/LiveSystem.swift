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
        let kind: FileKind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFBLK: kind = .blockDevice
        case S_IFCHR: kind = .characterDevice
        default: kind = .other
        }
        return FileStatus(
            kind: kind, size: Int64(info.st_size), mode: UInt32(info.st_mode & 0o7777),
            changeTime: Int64(info.st_ctim.tv_sec), allocatedBytes: Int64(info.st_blocks) &* 512)
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
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    public func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
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
                var bytes: [UInt8] = []
                for number in numbers {
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
        // Only a child that wrote its whole answer and exited 0 counts.
        guard reap(child) == 0, let received, received.count % 8 == 0 else { return nil }
        return stride(from: 0, to: received.count, by: 8).map { start in
            var number: Int64 = 0
            for index in 0..<8 { number |= Int64(received[start + index]) << Int64(8 * index) }
            return number
        }
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
            let ready = poll(&poller, 1, Int32(clamping: remaining / 1_000_000 + 1))
            if ready < 0 {
                if errno == EINTR { continue }
                kill(child, SIGKILL)
                return nil
            }
            if ready == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                kill(child, SIGKILL)
                return nil
            }
            if count == 0 { return received }
            received.append(contentsOf: chunk[0..<count])
        }
    }

    /// Waits for `child`, retrying on EINTR, so it never lingers as a zombie; returns its
    /// exit code, or -1 when it was killed by a signal or could not be waited for.
    private func reap(_ child: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
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
