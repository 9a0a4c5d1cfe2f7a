import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// The process, its children and programs run (``SystemCalls/probe(timeout:_:)``, ``SystemCalls/run(_:)``).
extension LiveSystem {
    public var processID: Int32 { getpid() }

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

    public func run(_ command: Command) throws(Errno) -> CommandResult {
        try Subprocess.run(command)
    }
}
