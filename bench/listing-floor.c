/*
 * bench/listing-floor.c: the least a listing must do on a file system, timed, for
 * bench/shared-listing --floor (which builds and runs it; see bench/README.md).
 *
 *   listing-floor images|backups DIR STAT THREADS RUNS [--read] [--at]
 *
 * images   DIR is a storage's images directory: readdir it and each owner's
 *          directory below it, then one STAT per image file (what list_images must
 *          learn of each: kind and size); --read also reads the first 512 bytes of
 *          every *.qcow2 (its header: virtual size and backing file).
 * backups  DIR is a dump directory: readdir it, then one STAT per archive (a name
 *          starting with "vzdump-" that is no .log, .notes or .protected); --read also
 *          reads every .notes file (list_volumes shows their first line).
 * STAT     lstat, statx (AT_STATX_SYNC_AS_STAT), statx-dontsync (AT_STATX_DONT_SYNC:
 *          whatever attributes the kernel has cached, no round trip for them), or none
 *          (the directories are read, no file is looked up: what readdir alone costs).
 * THREADS  the look-ups (and the owners' readdirs) are spread over this many threads,
 *          each taking the next job; 1 runs them on the calling thread.
 * --at     look each file up relative to its directory's descriptor (fstatat, statx
 *          and openat with the directory kept open) instead of by its whole path: on a
 *          FUSE file system whose entries do not stay cached, every component of a path
 *          below the mount is revalidated by the daemon, so this saves those requests.
 *
 * One untimed run, then RUNS timed ones; prints "run <ms>" for each and a check line
 * (files, bytes) that must not change between runs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { NONE, LSTAT, STATX, STATX_DONTSYNC };

static int stat_kind, read_heads, thread_count;
/* A file to look up: its whole path, and its directory's descriptor and its name there. */
struct job { char *path; int dirfd; const char *name; };
static struct job *jobs;        /* phase 2's jobs */
static size_t job_count;
static int relative;            /* --at */
static atomic_size_t next_job;
static atomic_llong total_bytes, total_files;
static int images_mode;

/* Owners' directories to list (images mode, phase 1). */
static char **owners;
static size_t owner_count;
static struct job *found;      /* files found below the owners (phase 2's jobs) */
static size_t found_count, found_capacity;
static int *owner_fds;          /* the owners' directories, open (--at) */
static pthread_mutex_t found_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what) { perror(what); exit(1); }

static char *join(const char *dir, const char *name) {
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0) die("asprintf");
    return path;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static struct job make_job(const char *dir, int dirfd, const char *name) {
    struct job job;
    job.path = join(dir, name);
    job.dirfd = dirfd;
    job.name = job.path + strlen(dir) + 1;
    return job;
}

static void add_found(struct job job) {
    pthread_mutex_lock(&found_lock);
    if (found_count == found_capacity) {
        found_capacity = found_capacity ? 2 * found_capacity : 4096;
        found = realloc(found, found_capacity * sizeof(*found));
        if (!found) die("realloc");
    }
    found[found_count++] = job;
    pthread_mutex_unlock(&found_lock);
}

static long long stat_one(const struct job *job) {
    int dirfd = relative ? job->dirfd : AT_FDCWD;
    const char *name = relative ? job->name : job->path;
    if (stat_kind == NONE) return 0;
    if (stat_kind == LSTAT) {
        struct stat info;
        if (fstatat(dirfd, name, &info, AT_SYMLINK_NOFOLLOW) != 0) return -1;
        return info.st_size;
    }
    struct statx info;
    int flags = AT_SYMLINK_NOFOLLOW | (stat_kind == STATX_DONTSYNC ? AT_STATX_DONT_SYNC : AT_STATX_SYNC_AS_STAT);
    if (statx(dirfd, name, flags, STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_BLOCKS | STATX_CTIME, &info) != 0) return -1;
    return (long long)info.stx_size;
}

static long long read_head(const struct job *job, size_t count) {
    char buffer[4096];
    int fd = openat(relative ? job->dirfd : AT_FDCWD, relative ? job->name : job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = pread(fd, buffer, count < sizeof(buffer) ? count : sizeof(buffer), 0);
    close(fd);
    return got;
}

/* Phase 1 of images: list one owner's directory (kept open with --at). */
static void list_owner(size_t index) {
    const char *dir = owners[index];
    DIR *handle = opendir(dir);
    if (!handle) return;
    int descriptor = relative ? dup(dirfd(handle)) : -1;
    owner_fds[index] = descriptor;
    struct dirent *entry;
    while ((entry = readdir(handle))) {
        if (entry->d_name[0] == '.') continue;
        add_found(make_job(dir, descriptor, entry->d_name));
    }
    closedir(handle);
}

/* One job of phase 2: the file's status and, with --read, its head or notes. */
static void look_up(const struct job *job) {
    if (images_mode) {
        long long size = stat_one(job);
        if (size < 0) return;
        atomic_fetch_add(&total_files, 1);
        atomic_fetch_add(&total_bytes, size);
        if (read_heads && ends_with(job->name, ".qcow2")) {
            long long got = read_head(job, 512);
            if (got > 0) atomic_fetch_add(&total_bytes, got);
        }
    } else {
        if (ends_with(job->name, ".notes")) {
            long long got = read_head(job, 4096);
            if (got > 0) atomic_fetch_add(&total_bytes, got);
            return;
        }
        long long size = stat_one(job);
        if (size < 0) return;
        atomic_fetch_add(&total_files, 1);
        atomic_fetch_add(&total_bytes, size);
    }
}

static int phase; /* 1: owners, 2: files */

static void *worker(void *unused) {
    (void)unused;
    for (;;) {
        size_t job = atomic_fetch_add(&next_job, 1);
        if (phase == 1) {
            if (job >= owner_count) return NULL;
            list_owner(job);
        } else {
            if (job >= job_count) return NULL;
            look_up(&jobs[job]);
        }
    }
}

static void run_phase(int which) {
    phase = which;
    atomic_store(&next_job, 0);
    if (thread_count <= 1) { worker(NULL); return; }
    pthread_t threads[256];
    int n = thread_count > 256 ? 256 : thread_count;
    for (int i = 0; i < n; i++)
        if (pthread_create(&threads[i], NULL, worker, NULL) != 0) die("pthread_create");
    for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void free_jobs(struct job *list, size_t count) {
    for (size_t i = 0; i < count; i++) free(list[i].path);
    free(list);
}

/* One listing: everything from the first readdir on. */
static void one_run(const char *top) {
    atomic_store(&total_bytes, 0);
    atomic_store(&total_files, 0);
    DIR *handle = opendir(top);
    if (!handle) die(top);
    int top_fd = dirfd(handle);
    struct dirent *entry;
    struct job *names = NULL;
    size_t count = 0, capacity = 0;
    while ((entry = readdir(handle))) {
        const char *name = entry->d_name;
        if (name[0] == '.') continue;
        if (!images_mode) {
            if (strncmp(name, "vzdump-", 7) != 0 || ends_with(name, ".log") || ends_with(name, ".protected")) continue;
            if (ends_with(name, ".notes") && !read_heads) continue;
        }
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 4096;
            names = realloc(names, capacity * sizeof(*names));
            if (!names) die("realloc");
        }
        names[count++] = make_job(top, top_fd, name);
    }
    if (images_mode) {
        owners = malloc(count * sizeof(*owners));
        owner_fds = malloc(count * sizeof(*owner_fds));
        if (!owners || !owner_fds) die("malloc");
        for (size_t i = 0; i < count; i++) owners[i] = names[i].path;
        owner_count = count;
        found = NULL;
        found_count = found_capacity = 0;
        run_phase(1);
        jobs = found;
        job_count = found_count;
        run_phase(2);
        for (size_t i = 0; i < owner_count; i++) if (relative && owner_fds[i] >= 0) close(owner_fds[i]);
        free(owners);
        free(owner_fds);
        free_jobs(found, found_count);
    } else {
        jobs = names;
        job_count = count;
        run_phase(2);
    }
    free_jobs(names, count);
    closedir(handle);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s images|backups DIR lstat|statx|statx-dontsync|none THREADS RUNS [--read] [--at]\n", argv[0]);
        return 2;
    }
    images_mode = strcmp(argv[1], "images") == 0;
    const char *top = argv[2];
    const char *kind = argv[3];
    stat_kind = strcmp(kind, "lstat") == 0 ? LSTAT : strcmp(kind, "statx") == 0 ? STATX
        : strcmp(kind, "statx-dontsync") == 0 ? STATX_DONTSYNC : strcmp(kind, "none") == 0 ? NONE : -1;
    if (stat_kind < 0) { fprintf(stderr, "%s: no such STAT\n", kind); return 2; }
    thread_count = atoi(argv[4]);
    int runs = atoi(argv[5]);
    for (int i = 6; i < argc; i++) {
        if (strcmp(argv[i], "--read") == 0) read_heads = 1;
        else if (strcmp(argv[i], "--at") == 0) relative = 1;
        else { fprintf(stderr, "%s: unknown option\n", argv[i]); return 2; }
    }
    one_run(top);
    long long files = atomic_load(&total_files), bytes = atomic_load(&total_bytes);
    for (int i = 0; i < runs; i++) {
        double start = now_ms();
        one_run(top);
        printf("run %.3f\n", now_ms() - start);
        if (atomic_load(&total_files) != files || atomic_load(&total_bytes) != bytes) {
            fprintf(stderr, "the listing changed between runs\n");
            return 1;
        }
    }
    printf("check %lld files %lld bytes\n", files, bytes);
    return 0;
}
