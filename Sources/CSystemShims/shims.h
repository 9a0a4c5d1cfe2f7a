/*
 * C shims for the system calls Swift cannot reach directly: variadic functions
 * (ioctl, syscall) and function-like macros (the wait status macros). Each is
 * wrapped once, here, and used only by the live system (Sources/SwiftPluginSystem).
 */
#ifndef SPVE_SYSTEM_SHIMS_H
#define SPVE_SYSTEM_SHIMS_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* rename(2) that fails with EEXIST instead of replacing an existing target
 * (renameat2 with RENAME_NOREPLACE; glibc declares renameat2 only with _GNU_SOURCE). */
static inline int spve_rename_noreplace(const char *from, const char *to) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
}

/* pipe(2) with both ends close-on-exec from the start (pipe2; glibc declares it
 * only with _GNU_SOURCE): no program another thread spawns inherits an end. */
static inline int spve_pipe_cloexec(int fds[2]) {
    return (int)syscall(SYS_pipe2, fds, O_CLOEXEC);
}

/* Whether renameat2 refused the flag itself (the file system or kernel does not
 * support RENAME_NOREPLACE: NFS, CephFS, FUSE, old kernels), not the rename. */
static inline int spve_rename_flag_unsupported(int error) {
    return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == ENOTSUP;
}

/* Whether the disposition of `signal` is SIG_IGN (sa_handler is a union member). */
static inline int spve_signal_ignored(int signal) {
    struct sigaction current;
    if (sigaction(signal, NULL, &current) != 0) return 0;
    return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN;
}

/* Sets the disposition of `signal` to SIG_DFL, saving the previous one in `saved`. */
static inline int spve_signal_default(int signal, struct sigaction *saved) {
    struct sigaction fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.sa_handler = SIG_DFL;
    sigemptyset(&fresh.sa_mask);
    return sigaction(signal, &fresh, saved);
}

static inline int spve_signal_restore(int signal, const struct sigaction *saved) {
    return sigaction(signal, saved, NULL);
}

/* Whether SIGCHLD is ignored or has SA_NOCLDWAIT: children are then reaped by the
 * kernel and their exit status cannot be waited for. */
static inline int spve_children_autoreaped(void) {
    struct sigaction current;
    if (sigaction(SIGCHLD, NULL, &current) != 0) return 0;
    return (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) || (current.sa_flags & SA_NOCLDWAIT);
}

/* A non-blocking, close-on-exec descriptor that polls readable while one of `set` is pending. */
static inline int spve_signalfd(const sigset_t *set) {
    return signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* The inode flags of chattr(1) (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS). */
static inline int spve_get_inode_flags(int fd, int *flags) {
    return ioctl(fd, FS_IOC_GETFLAGS, flags);
}

static inline int spve_set_inode_flags(int fd, int flags) {
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

static inline int spve_immutable_flag(void) { return FS_IMMUTABLE_FL; }

/* Makes `destination` share the extents of `source` (a reflink copy). */
static inline int spve_clone_file(int destination, int source) {
    return ioctl(destination, FICLONE, source);
}

/* One extent of FS_IOC_FIEMAP's answer, flattened for Swift. */
typedef struct {
    unsigned long long logical, physical, length;
    unsigned int flags;
} spve_extent;

/* FS_IOC_FIEMAP over [start, start+length), after flushing the file (FIEMAP_FLAG_SYNC):
 * up to `capacity` extents into `extents`; returns how many, or -1 with errno. */
static inline int spve_fiemap(int fd, unsigned long long start, unsigned long long length,
                              spve_extent *extents, unsigned int capacity) {
    struct { struct fiemap map; struct fiemap_extent extents[128]; } request;
    if (capacity > 128) capacity = 128;
    memset(&request, 0, sizeof(request));
    request.map.fm_start = start;
    request.map.fm_length = length;
    request.map.fm_flags = FIEMAP_FLAG_SYNC;
    request.map.fm_extent_count = capacity;
    if (ioctl(fd, FS_IOC_FIEMAP, &request.map) != 0) return -1;
    unsigned int count = request.map.fm_mapped_extents;
    if (count > capacity) count = capacity;
    for (unsigned int i = 0; i < count; i++) {
        extents[i].logical = request.extents[i].fe_logical;
        extents[i].physical = request.extents[i].fe_physical;
        extents[i].length = request.extents[i].fe_length;
        extents[i].flags = request.extents[i].fe_flags;
    }
    return (int)count;
}

/* fallocate(2) punching a hole, the size kept (glibc declares it only with _GNU_SOURCE). */
static inline int spve_punch_hole(int fd, long long offset, long long length) {
    return (int)syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

static inline int spve_wait_exited(int status) { return WIFEXITED(status); }
static inline int spve_wait_exit_status(int status) { return WEXITSTATUS(status); }
static inline int spve_wait_signaled(int status) { return WIFSIGNALED(status); }
static inline int spve_wait_term_signal(int status) { return WTERMSIG(status); }

#endif
