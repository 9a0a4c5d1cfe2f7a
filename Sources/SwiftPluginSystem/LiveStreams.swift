import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// The signals a running stream holds (see ``SystemCalls/holdStreamSignals()``): the
/// stop signals PVE's task stop sends, watched through a descriptor, and SIGPIPE, so
/// that a peer that went away is an EPIPE error of the write, not the end of the daemon.
final class LiveStreamSignals: StreamSignals, @unchecked Sendable {
    private var watch: StopSignalWatch?
    private var pipeHeld = false
    private var pipePendingBefore = false
    private var previousMask = sigset_t()

    /// Holds the signals, or (`holding` false) nothing: the stand-in for signals another
    /// system held, which this one cannot watch.
    init(holding: Bool = true) {
        guard holding else { return }
        watch = StopSignalWatch()
        var pipeSet = sigset_t()
        sigemptyset(&pipeSet)
        sigaddset(&pipeSet, SIGPIPE)
        var current = sigset_t()
        sigemptyset(&current)
        guard pthread_sigmask(SIG_BLOCK, nil, &current) == 0, sigismember(&current, SIGPIPE) == 0 else { return }
        var pending = sigset_t()
        sigemptyset(&pending)
        sigpending(&pending)
        pipePendingBefore = sigismember(&pending, SIGPIPE) == 1
        pipeHeld = pthread_sigmask(SIG_BLOCK, &pipeSet, &previousMask) == 0
    }

    /// Watches nothing.
    static let none = LiveStreamSignals(holding: false)

    /// Readable while a stop signal is pending; -1 when none is watched.
    public var descriptor: Int32 { watch?.descriptor ?? -1 }

    /// The stop signal that arrived, if any (it stays pending for the caller's handler).
    public func pending() -> Int32? { watch?.pending() }

    /// Restores the signal mask: a stop signal that arrived reaches the caller's handler;
    /// a SIGPIPE the stream caused (already reported as EPIPE) is consumed.
    public func end() {
        // SIGPIPE first: ending the watch restores a mask without it.
        defer {
            watch?.end()
            watch = nil
        }
        guard pipeHeld else { return }
        pipeHeld = false
        var pending = sigset_t()
        sigemptyset(&pending)
        sigpending(&pending)
        if !pipePendingBefore, sigismember(&pending, SIGPIPE) == 1 {
            var pipeSet = sigset_t()
            sigemptyset(&pipeSet)
            sigaddset(&pipeSet, SIGPIPE)
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeSet, nil, &zero)
        }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGPIPE)
        if sigismember(&previousMask, SIGPIPE) == 0 { pthread_sigmask(SIG_UNBLOCK, &unblock, nil) }
    }

    deinit { end() }
}

/// The stream system calls of ``LiveSystem``.
extension LiveSystem {
    public func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 {
        let descriptor = open(path, (writing ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        return descriptor
    }

    public func closeFile(_ descriptor: Int32) { close(descriptor) }

    public func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try retryingInterrupts {
            offset.map { pread(descriptor, buffer.baseAddress, buffer.count, off_t($0)) } ?? Glibc.read(descriptor, buffer.baseAddress, buffer.count)
        }
    }

    public func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try retryingInterrupts {
            offset.map { pwrite(descriptor, buffer.baseAddress, buffer.count, off_t($0)) } ?? Glibc.write(descriptor, buffer.baseAddress, buffer.count)
        }
    }

    public func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64? {
        let result = lseek(descriptor, off_t(offset), hole ? SEEK_HOLE : SEEK_DATA)
        if result >= 0 { return Int64(result) }
        if errno == ENXIO { return nil }
        throw Errno(rawValue: errno)
    }

    public func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int {
        var position = off_t(offset)
        return try retryingInterrupts { sendfile(target, source, &position, count) }
    }

    public func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw Errno(rawValue: errno) }
    }

    public func synchronize(_ descriptor: Int32) throws(Errno) {
        guard fsync(descriptor) == 0 else { throw Errno(rawValue: errno) }
    }

    public func status(of descriptor: Int32) throws(Errno) -> FileStatus {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Errno(rawValue: errno) }
        return FileStatus(info)
    }

    public func holdStreamSignals() -> any StreamSignals { LiveStreamSignals() }

    public func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0 else { throw Errno(rawValue: errno) }
        let was = flags & O_NONBLOCK != 0
        if was != nonBlocking {
            guard fcntl(descriptor, F_SETFL, nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0 else { throw Errno(rawValue: errno) }
        }
        return was
    }

    public func waitReady(_ descriptor: Int32, writing: Bool, signals held: any StreamSignals) throws(Errno) -> Int32? {
        // Signals held by another system are not watched.
        let signals = held as? LiveStreamSignals ?? LiveStreamSignals.none
        if let signal = signals.pending() { return signal }
        // Without a signal watch, the descriptor alone (a non-blocking stream must not spin).
        var pollers = [pollfd(fd: descriptor, events: Int16(writing ? POLLOUT : POLLIN), revents: 0),
                       pollfd(fd: signals.descriptor, events: Int16(POLLIN), revents: 0)]
        let count: nfds_t = signals.descriptor >= 0 ? 2 : 1
        _ = try retryingInterrupts { poll(&pollers, count, -1) }
        if count == 2, pollers[1].revents != 0, let signal = signals.pending() { return signal }
        // Ready, closed (POLLHUP) or failed (POLLERR): the read or write says which.
        return nil
    }
}
