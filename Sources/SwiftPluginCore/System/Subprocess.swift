import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

/// Runs external programs for the storage (qemu-img): posix_spawn with an argument
/// vector and a fixed environment, stdin from /dev/null, signals reset to their
/// defaults, output collected from pipes, killed at the deadline. EINTR-safe.
enum Subprocess {
    static func run(_ command: Command) throws(Errno) -> CommandResult {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw Errno(rawValue: errno) }
        guard pipe(&errors) == 0 else {
            let failure = Errno(rawValue: errno)
            close(output[0]); close(output[1])
            throw failure
        }
        defer { for descriptor in output + errors where descriptor >= 0 { close(descriptor) } }
        for descriptor in [output[0], errors[0]] { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

        // PVE daemons install signal handlers and may block signals; the child starts clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = command.environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }

        var child: pid_t = 0
        let spawned = posix_spawn(&child, command.executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw Errno(rawValue: spawned) }
        close(output[1]); output[1] = -1
        close(errors[1]); errors[1] = -1

        let deadline = Monotonic.now() + Int64(command.timeout) * 1_000_000_000
        var collected: [[UInt8]] = [[], []]
        var open = [output[0], errors[0]]
        var timedOut = false
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) {
            let remaining = deadline - Monotonic.now()
            if remaining <= 0 {
                timedOut = true
                kill(child, SIGKILL)
                break
            }
            var pollers = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollers, nfds_t(pollers.count), Int32(clamping: remaining / 1_000_000 + 1))
            if ready < 0 {
                if errno == EINTR { continue }
                kill(child, SIGKILL)
                break
            }
            for index in pollers.indices where pollers[index].fd >= 0 && pollers[index].revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(pollers[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[index].append(contentsOf: chunk[0..<count])
                } else if count == 0 || errno != EINTR {
                    open[index] = -1
                }
            }
        }
        guard let status = wait(for: child) else { throw Errno(rawValue: errno) }
        return CommandResult(
            exitStatus: spve_wait_exited(status) != 0 ? spve_wait_exit_status(status) : nil,
            signal: spve_wait_signaled(status) != 0 ? spve_wait_term_signal(status) : nil,
            timedOut: timedOut, output: collected[0], errorOutput: collected[1])
    }

    /// waitpid, retrying on EINTR; nil when the child cannot be waited for.
    static func wait(for child: pid_t) -> Int32? {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        return status
    }
}
