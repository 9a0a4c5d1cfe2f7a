import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// Runs external programs for the storage (qemu-img): posix_spawn with an argument
/// vector and a fixed environment, stdin from /dev/null, signals reset to their
/// defaults, output collected from pipes, killed at the deadline. EINTR-safe.
///
/// A stop request stops the program: PVE stops a task with SIGTERM (SIGINT, SIGHUP
/// from a terminal). Perl handles signals deferred: its C handler only records the
/// signal and the Perl handler runs after this call returns, which would be after the
/// program finished (a preallocation can take hours). So while the program runs, those
/// signals are blocked and watched (a signalfd in the poll set); one arriving kills the
/// program, the result says so, and the signal is delivered to Perl, untouched, when
/// the mask is restored.
enum Subprocess {
    /// The signals that stop a running program: PVE's task stop and a terminal's.
    static let stopSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    static func run(_ command: Command) throws(Errno) -> CommandResult {
        // C strings end at NUL: an argument with one would silently run another command.
        for text in [command.executable] + command.arguments + command.environment where text.utf8.contains(0) {
            throw Errno.invalidArgument
        }
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        // Close-on-exec from the start, so that no program spawned by another thread
        // inherits an end; the child gets its own copies (dup2 clears the flag).
        guard spve_pipe_cloexec(&output) == 0 else { throw Errno(rawValue: errno) }
        guard spve_pipe_cloexec(&errors) == 0 else {
            let failure = Errno(rawValue: errno)
            close(output[0]); close(output[1])
            throw failure
        }
        defer { for descriptor in output + errors where descriptor >= 0 { close(descriptor) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input = command.standardInput {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, command.standardOutput ?? output[1], 1)
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

        // With SIGCHLD ignored (Perl's `$SIG{CHLD} = 'IGNORE'`) the kernel would reap the
        // program and its exit status would be lost: the default disposition while it runs.
        var savedChildAction = sigaction()
        let childActionChanged = spve_children_autoreaped() != 0 && spve_signal_default(SIGCHLD, &savedChildAction) == 0
        defer { if childActionChanged { _ = spve_signal_restore(SIGCHLD, &savedChildAction) } }

        var watch = StopSignalWatch()
        defer { watch.end() }

        var child: pid_t = 0
        let spawned = posix_spawn(&child, command.executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw Errno(rawValue: spawned) }
        close(output[1]); output[1] = -1
        close(errors[1]); errors[1] = -1

        let deadline = Monotonic.now() + Int64(command.timeout) * 1_000_000_000
        var collected: [[UInt8]] = [[], []]
        var open = [output[0], errors[0]]
        var timedOut = false
        var interruption: Int32?
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open.contains(where: { $0 >= 0 }) {
            if let signal = watch.pending() {
                interruption = signal
                kill(child, SIGKILL)
                break
            }
            let remaining = deadline - Monotonic.now()
            if remaining <= 0 {
                timedOut = true
                kill(child, SIGKILL)
                break
            }
            var pollers = (open + [watch.descriptor]).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            do { _ = try retryingInterrupts { poll(&pollers, nfds_t(pollers.count), Int32(clamping: remaining / 1_000_000 + 1)) } } catch {
                kill(child, SIGKILL)
                break
            }
            for index in open.indices where pollers[index].fd >= 0 && pollers[index].revents != 0 {
                let fd = pollers[index].fd
                let count = (try? retryingInterrupts { chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }) ?? 0
                if count > 0 {
                    collected[index].append(contentsOf: chunk[0..<count])
                } else {
                    open[index] = -1
                }
            }
        }
        guard let status = wait(for: child) else { throw Errno(rawValue: errno) }
        // A stop request that came while the program was finishing still counts: the
        // caller must not act on the result (publish a volume) when it is being stopped.
        if interruption == nil { interruption = watch.pending() }
        if interruption != nil { for path in command.removeWhenInterrupted { unlink(path) } }
        return CommandResult(
            exitStatus: spve_wait_exited(status) != 0 ? spve_wait_exit_status(status) : nil,
            signal: spve_wait_signaled(status) != 0 ? spve_wait_term_signal(status) : nil,
            timedOut: timedOut, interruption: interruption, output: collected[0], errorOutput: collected[1])
    }

    /// waitpid, retrying on EINTR; nil when the child cannot be waited for.
    static func wait(for child: pid_t) -> Int32? {
        var status: Int32 = 0
        guard (try? retryingInterrupts { waitpid(child, &status, 0) }) != nil else { return nil }
        return status
    }
}

/// Blocks the stop signals the process would act on (not those it ignores or already
/// blocks) and reports one that is pending; ``end()`` restores the signal mask, so a
/// pending signal is then delivered to the caller's handler as if it had just arrived.
struct StopSignalWatch {
    private var watched = sigset_t()
    private var previous = sigset_t()
    private var active = false
    /// Readable while a watched signal is pending; -1 when none is watched.
    private(set) var descriptor: Int32 = -1

    init() {
        sigemptyset(&watched)
        var current = sigset_t()
        sigemptyset(&current)
        guard pthread_sigmask(SIG_BLOCK, nil, &current) == 0 else { return }
        var any = false
        for signal in Subprocess.stopSignals where sigismember(&current, signal) == 0 && spve_signal_ignored(signal) == 0 {
            sigaddset(&watched, signal)
            any = true
        }
        guard any, pthread_sigmask(SIG_BLOCK, &watched, &previous) == 0 else { return }
        active = true
        descriptor = spve_signalfd(&watched)
    }

    /// A watched signal that is pending, if any (it stays pending).
    func pending() -> Int32? {
        guard active else { return nil }
        var set = sigset_t()
        sigemptyset(&set)
        guard sigpending(&set) == 0 else { return nil }
        var watched = self.watched
        return Subprocess.stopSignals.first { sigismember(&set, $0) == 1 && sigismember(&watched, $0) == 1 }
    }

    mutating func end() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        if active { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        active = false
    }
}
