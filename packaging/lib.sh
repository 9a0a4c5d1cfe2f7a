# shellcheck shell=bash
# Shared helpers for build-deb.sh and package-test.sh (sourced, not run).
# Callers set: PROG (name for messages) and LOG (file that collects command
# output, so the scripts stay quiet unless something fails).

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${SWIFTPLUGIN_BUILD_DIR:-$SRC_DIR/build}
ROOTS_DIR=$BUILD_DIR/roots
LOG_DIR=$BUILD_DIR/logs
# A mirror for debootstrap; unset, debootstrap uses its own default.
MIRROR=${DEBIAN_MIRROR:-}
# shellcheck disable=SC2034 # used by the scripts that source this file
PKG=libpve-storage-swiftplugin-perl

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

need_root() {
    [[ $EUID -eq 0 ]] || die "must run as root (it uses apt-get, debootstrap, chroot and mount)"
}

# Print the tail of the log and die; used when a logged step fails.
fail_step() {
    printf '%s: error: %s failed; last lines of %s:\n' "$PROG" "$1" "$LOG" >&2
    tail -n 60 "$LOG" | sed 's/^/    /' >&2
    exit 1
}

# step DESCRIPTION COMMAND...: run quietly into $LOG, record its duration
# there (grep '^step ' in the log for timings; SWIFTPLUGIN_TIMING=1 prints them).
step() {
    local desc=$1 start=$SECONDS
    shift
    printf '\n=== %s\n' "$desc" >>"$LOG"
    "$@" >>"$LOG" 2>&1 </dev/null || fail_step "$desc"
    printf 'step %3ds  %s\n' $((SECONDS - start)) "$desc" >>"$LOG"
    if [[ ${SWIFTPLUGIN_TIMING:-} == 1 ]]; then
        printf '%s: %3ds  %s\n' "$PROG" $((SECONDS - start)) "$desc" >&2
    fi
}

init_log() {
    mkdir -p "$LOG_DIR"
    LOG=$LOG_DIR/$1.log
    : >"$LOG"
}

host_codename() {
    (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# Debian major release of a suite, for per-suite versions and perlapi checks.
suite_major() {
    case $1 in
        bookworm) echo 12 ;;
        trixie) echo 13 ;;
        *) die "unsupported suite '$1' (supported: bookworm, trixie)" ;;
    esac
}

# Install host packages that are missing (a fresh machine has none of them).
ensure_host_packages() {
    local -a missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    step "install host packages: ${missing[*]}" \
        env DEBIAN_FRONTEND=noninteractive bash -c \
        'apt-get install -y -q --no-install-recommends "$@" || { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }' \
        _ "${missing[@]}"
}

# Run a command inside ROOT with a clean environment (nothing from the host's
# environment, e.g. PERL5LIB or PVE_STORAGE_CUSTOM_DIR, leaks in).
in_root() {
    local root=$1
    shift
    chroot "$root" /usr/bin/env -i \
        PATH="${IN_ROOT_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}" \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# apt-get inside ROOT; retried once after 'apt-get update' because package
# lists in a cached root go stale and installing then fails with 404s.
apt_in_root() {
    local root=$1
    shift
    # never write through a symlink in the root onto a host path
    rm -f "$root/etc/resolv.conf" && cp -L /etc/resolv.conf "$root/etc/resolv.conf" || return 1
    in_root "$root" apt-get -q -y -o APT::Install-Recommends=false "$@" ||
        { in_root "$root" apt-get -q update && in_root "$root" apt-get -q -y -o APT::Install-Recommends=false "$@"; }
}

# debootstrap a minbase root of SUITE into DIR (which must not exist), with
# package lists fetched so apt-get works inside it.
make_minbase() {
    local suite=$1 dir=$2
    debootstrap --variant=minbase "$suite" "$dir" ${MIRROR:+"$MIRROR"} &&
        printf 'Acquire::Languages "none";\n' >"$dir/etc/apt/apt.conf.d/99swiftplugin" &&
        rm -f "$dir/etc/resolv.conf" && cp -L /etc/resolv.conf "$dir/etc/resolv.conf" &&
        in_root "$dir" apt-get -q update
}

# Make sure the pristine minbase root of SUITE is cached as a tarball (one
# debootstrap per suite, shared by the build root and every package test);
# sets MINBASE_TARBALL to its path.
ensure_minbase() {
    local suite=$1 tarball=$ROOTS_DIR/$1-minbase.tar tmp=$ROOTS_DIR/$1-minbase.tmp
    mkdir -p "$ROOTS_DIR"
    exec 8>"$tarball.lock"
    flock 8
    if [[ ! -f $tarball ]]; then
        remove_root "$tmp"
        step "debootstrap $suite minbase" make_minbase "$suite" "$tmp"
        step "pack $suite minbase" tar --numeric-owner -C "$tmp" -cf "$tarball.new" .
        mv "$tarball.new" "$tarball"
        remove_root "$tmp"
    fi
    exec 8>&-
    # shellcheck disable=SC2034 # read by the caller
    MINBASE_TARBALL=$tarball
}

# Mount points at or below DIR, deepest first.
mounts_under() {
    local dir
    dir=$(realpath -m "$1")
    findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r
}

# Unmount everything at or below DIR; falls back to a lazy unmount so that a
# busy mount never outlives the script.
unmount_under() {
    local m
    while read -r m; do
        [[ -n $m ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" ||
            printf '%s: warning: could not unmount %s\n' "$PROG" "$m" >&2
    done < <(mounts_under "$1")
}

# Remove a root directory, never following into a mount (for example a
# bind-mounted toolchain).
remove_root() {
    local dir=$1
    [[ -e $dir ]] || return 0
    unmount_under "$dir"
    [[ -z $(mounts_under "$dir") ]] || die "refusing to remove $dir: mounts remain below it"
    rm -rf --one-file-system "$dir"
}

# Copy the source tree to DEST as git would check it out, uncommitted edits and
# new (not ignored) files included, build output and caches excluded.
export_tree() {
    local dest=$1
    mkdir -p "$dest"
    # safe.directory: root exporting a checkout owned by another user
    local -a git=(git -c safe.directory="$SRC_DIR" -C "$SRC_DIR")
    if "${git[@]}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$SRC_DIR" &&
            "${git[@]}" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                # skip files deleted from the work tree but still in the index
                [[ -e $f || -L $f ]] && printf '%s\0' "$f"
            done | tar --null -T - -cf -) | tar -x -C "$dest"
    else
        tar -C "$SRC_DIR" --exclude-vcs --exclude=./build --exclude='./.build*' \
            --exclude='./debian/.swiftpm-*' -cf - . | tar -x -C "$dest"
    fi
}

# Take an exclusive lock on FILE for the rest of the script (fd 9), so two
# runs never share a cached root at the same time.
lock_file() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    flock 9
}
