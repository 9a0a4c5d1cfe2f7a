/*
 * C shims for the system calls Swift cannot reach directly: variadic functions
 * (ioctl, syscall) and function-like macros (the wait status macros). Each is
 * wrapped once, here, and used only by Sources/SwiftPluginCore/System/LiveSystem.swift.
 */
#ifndef SPVE_SYSTEM_SHIMS_H
#define SPVE_SYSTEM_SHIMS_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* rename(2) that fails with EEXIST instead of replacing an existing target
 * (renameat2 with RENAME_NOREPLACE; glibc declares renameat2 only with _GNU_SOURCE). */
static inline int spve_rename_noreplace(const char *from, const char *to) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
}

/* The inode flags of chattr(1) (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS). */
static inline int spve_get_inode_flags(int fd, int *flags) {
    return ioctl(fd, FS_IOC_GETFLAGS, flags);
}

static inline int spve_set_inode_flags(int fd, int flags) {
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

static inline int spve_immutable_flag(void) { return FS_IMMUTABLE_FL; }

static inline int spve_wait_exited(int status) { return WIFEXITED(status); }
static inline int spve_wait_exit_status(int status) { return WEXITSTATUS(status); }
static inline int spve_wait_signaled(int status) { return WIFSIGNALED(status); }
static inline int spve_wait_term_signal(int status) { return WTERMSIG(status); }

#endif
