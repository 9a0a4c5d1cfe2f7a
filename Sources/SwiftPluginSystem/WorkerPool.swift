#if canImport(Glibc)
import Glibc
#endif

/// Runs `count` independent jobs on a few POSIX threads that exist only during the
/// call: they are created here and joined before it returns, so none outlives it (PVE's
/// daemons fork per request; a child has only the thread that forked). The jobs are
/// handed out by index under one mutex; each job writes only its own result slot.
///
/// For latency-bound work (system calls that each wait for a network file system), not
/// for CPU: a small number of threads overlaps the waits. Only when it pays: the calling
/// thread starts alone, and threads join it only when the jobs it has done took long
/// (a network file system, a cold cache), never for a local disk's microseconds. The
/// calling thread works too; when no thread can be created, it does all the work itself.
enum WorkerPool {
    /// Below this many jobs left the batch runs on the calling thread alone.
    static let minimumJobs = 16
    static let maximumThreads = 12
    /// Jobs taken at once from the shared counter.
    static let chunk = 4
    /// The average time of a job, in nanoseconds, above which threads are started.
    static let slowJob: Int64 = 50_000

    /// The results of `job(0) ..< job(count)`, in that order. `threads` (tests): how many
    /// threads to use at most, and `always` starts them without timing the first jobs.
    static func map<Result>(count: Int, threads requested: Int = maximumThreads, always: Bool = false,
                            _ job: @escaping (Int) -> Result) -> [Result] {
        guard count >= minimumJobs, requested > 1 else { return (0..<count).map(job) }
        let work = Work(count: count, job: job)
        defer { work.release() }
        if !always {
            // Alone first, a chunk at a time, until the jobs prove slow (or are done).
            let start = Monotonic.now()
            while work.runChunk() {
                let done = work.taken
                if count - done < minimumJobs { continue }
                if done >= 8 * chunk, (Monotonic.now() - start) / Int64(done) > slowJob { break }
            }
        }
        let left = count - work.taken
        if left > 0 { spawn(min(requested, (left + chunk - 1) / chunk), work) }
        return work.results()
    }

    /// Runs the rest of `work` on `threads` threads, the calling one included, and joins them.
    private static func spawn(_ threads: Int, _ work: AnyWork) {
        // Workers start with every signal blocked: a signal for the process (a Perl
        // handler, SIGTERM of the daemon) is delivered to the calling thread only.
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        var started: [pthread_t] = []
        started.reserveCapacity(threads)
        for _ in 1..<threads {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(work).toOpaque()
            let created = pthread_create(&thread, nil, { context in
                let work = Unmanaged<AnyWork>.fromOpaque(context!).takeRetainedValue()
                work.run()
                return nil
            }, context)
            if created != 0 {
                Unmanaged<AnyWork>.fromOpaque(context).release()
                break
            }
            started.append(thread)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        work.run()
        for thread in started { pthread_join(thread, nil) }
    }
}

/// What a worker thread runs (a class without generic parameters, for the C entry point).
class AnyWork {
    func run() {}
}

/// The shared state of one batch: the next index (under the mutex) and the result slots.
private final class Work<Result>: AnyWork {
    let count: Int
    let job: (Int) -> Result
    let slots: UnsafeMutablePointer<Result?>
    let lock: UnsafeMutablePointer<pthread_mutex_t>
    var next = 0

    init(count: Int, job: @escaping (Int) -> Result) {
        self.count = count
        self.job = job
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
    }

    /// Takes chunks of jobs until none are left; each result goes to its own slot.
    override func run() {
        while runChunk() {}
    }

    /// Takes the next chunk of jobs and runs them; false when none were left.
    func runChunk() -> Bool {
        pthread_mutex_lock(lock)
        let start = next
        next = min(count, next + WorkerPool.chunk)
        let end = next
        pthread_mutex_unlock(lock)
        guard start < end else { return false }
        for index in start..<end { slots[index] = job(index) }
        return true
    }

    /// How many jobs were handed out (read by the calling thread while it is alone).
    var taken: Int { next }

    /// The results, once every worker has been joined.
    func results() -> [Result] {
        (0..<count).map { slots[$0]! }
    }

    /// Frees the slots and the mutex (the workers are joined; they hold no reference to them any more).
    func release() {
        slots.deinitialize(count: count)
        slots.deallocate()
        pthread_mutex_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }
}
