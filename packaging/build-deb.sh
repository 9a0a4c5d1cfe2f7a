#!/usr/bin/env bash
# Build the .deb for one Debian suite and copy it (and the -dbgsym .deb) to OUTDIR.
#
#   packaging/build-deb.sh SUITE OUTDIR      SUITE: bookworm | trixie
#
# XS binds the module to one perl ABI (perlapi-5.36.0 on bookworm, 5.40 on
# trixie), so every suite gets its own build.  The host's own suite is built
# natively; any other suite is built in a debootstrap'ed root of that suite
# (cached in build/roots/SUITE-build) with the Swift toolchain bind-mounted
# read-only, because the toolchain is not a Debian package.
#
# Quiet unless it fails: command output goes to build/logs/build-deb-SUITE.log;
# stdout lists the .deb files written.  SWIFTPLUGIN_TIMING=1 prints step times.
# Needs root; installs its own host packages.
set -euo pipefail

PROG=build-deb
# shellcheck source=./lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 SUITE OUTDIR"
SUITE=$1
OUTDIR=$2
MAJOR=$(suite_major "$SUITE")
need_root
init_log "build-deb-$SUITE"

# Libraries the Swift toolchain itself runs on (it is built for Debian 12 and
# links them dynamically), plus the C toolchain swift links with.  swift links
# with ld.gold when it exists; trixie moved gold out of binutils, and its
# ld.bfd (2.44) drops the GNU_RELRO segment of our .so (lintian
# hardening-no-relro), so install binutils-gold there: both suites then link
# with the same linker.
TOOLCHAIN_PACKAGES=(libncurses6 libedit2 libxml2 libcurl4 libsqlite3-0 libz3-4
    binutils git gcc libc6-dev build-essential)
case $SUITE in
    bookworm) TOOLCHAIN_PACKAGES+=(libpython3.11 libstdc++-12-dev) ;;
    trixie) TOOLCHAIN_PACKAGES+=(libpython3.13 libstdc++-14-dev binutils-gold) ;;
esac

# The toolchain directory: $SWIFT_TOOLCHAIN, else the one `swift` on PATH
# belongs to, else /opt/swift (sudo's secure_path drops /opt/swift/usr/bin).
find_toolchain() {
    local tc=${SWIFT_TOOLCHAIN:-} swift
    if [[ -z $tc ]]; then
        if swift=$(command -v swift); then
            tc=$(dirname "$(dirname "$(dirname "$(readlink -f "$swift")")")")
        else
            tc=/opt/swift
        fi
    fi
    [[ -x $tc/usr/bin/swift ]] ||
        die "no Swift toolchain: $tc/usr/bin/swift missing (put swift on PATH or set SWIFT_TOOLCHAIN)"
    echo "$tc"
}

# Give the copy a per-suite version (0.1.0~deb12, ~deb13): the two builds
# differ in content (perl ABI), so they must not share one file name and
# version in an APT repository, and the trixie build sorts above the bookworm
# one for a PVE 8 -> 9 upgrade.  The committed changelog is not changed.
add_suite_changelog() {
    local cl=$1/debian/changelog version maint ts entry
    version=$(dpkg-parsechangelog -l "$cl" -S Version)
    maint=$(dpkg-parsechangelog -l "$cl" -S Maintainer)
    ts=$(dpkg-parsechangelog -l "$cl" -S Timestamp)
    # one second after the top entry: newer, yet reproducible
    entry="$PKG (${version}~deb${MAJOR}) $SUITE; urgency=medium

  * Build for Debian $MAJOR ($SUITE): perlapi of its perl.

 -- $maint  $(LC_ALL=C date -u -R -d "@$((ts + 1))")
"
    printf '%s\n' "$entry" | cat - "$cl" >"$cl.new"
    mv "$cl.new" "$cl"
}

copy_debs() {
    local from=$1 f found=0
    mkdir -p "$OUTDIR"
    for f in "$from"/"$PKG"_*~deb"$MAJOR"_*.deb "$from"/"$PKG"-dbgsym_*~deb"$MAJOR"_*.deb; do
        [[ -e $f ]] || continue
        cp -f "$f" "$OUTDIR/"
        printf '%s\n' "$OUTDIR/$(basename "$f")"
        found=1
    done
    ((found)) || die "dpkg-buildpackage produced no .deb in $from (see $LOG)"
}

TOOLCHAIN=$(find_toolchain)
ensure_host_packages debootstrap debhelper lintian dpkg-dev build-essential binutils git

if [[ $SUITE == "$(host_codename)" ]]; then
    # Native build in a clean copy of the tree.
    WORK=$BUILD_DIR/deb-work/$SUITE
    rm -rf --one-file-system "$WORK"
    step "export source tree" export_tree "$WORK/src"
    add_suite_changelog "$WORK/src"
    step "install build dependencies on the host" \
        env DEBIAN_FRONTEND=noninteractive bash -c \
        'apt-get build-dep -q -y --no-install-recommends "$1" || { apt-get update -q && apt-get build-dep -q -y --no-install-recommends "$1"; }' \
        _ "$WORK/src"
    # a clean environment, as in the root below (no PERL5LIB etc. from the caller)
    step "dpkg-buildpackage ($SUITE, native)" \
        env -i -C "$WORK/src" PATH="$TOOLCHAIN/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        HOME="$WORK" LANG=C.UTF-8 DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b
    copy_debs "$WORK"
    rm -rf --one-file-system "$WORK"
    exit 0
fi

# Foreign suite: build in a cached debootstrap'ed root of that suite.
ROOT=$ROOTS_DIR/$SUITE-build
lock_file "$ROOTS_DIR/$SUITE-build.lock"
cleanup() { unmount_under "$ROOT"; }
trap cleanup EXIT
unmount_under "$ROOT" # left over from a killed run

if [[ ! -d $ROOT ]]; then
    ensure_minbase "$SUITE"
    remove_root "$ROOT.tmp"
    mkdir -p "$ROOT.tmp"
    step "unpack $SUITE minbase as the build root" tar --numeric-owner -C "$ROOT.tmp" -xpf "$MINBASE_TARBALL"
    mv "$ROOT.tmp" "$ROOT"
fi
step "install toolchain libraries in the $SUITE root" \
    apt_in_root "$ROOT" install "${TOOLCHAIN_PACKAGES[@]}"

step "mount /proc and the Swift toolchain (read-only) in the root" bash -c '
    mount -t proc proc "$1/proc" &&
    mkdir -p "$1$2" && mount --bind "$2" "$1$2" && mount -o remount,bind,ro "$1$2"' \
    _ "$ROOT" "$TOOLCHAIN"
IN_ROOT_PATH=$TOOLCHAIN/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin
step "check that swift runs in the $SUITE root" in_root "$ROOT" swift --version

rm -rf --one-file-system "$ROOT/build/swiftplugin"
step "export source tree into the root" export_tree "$ROOT/build/swiftplugin/src"
add_suite_changelog "$ROOT/build/swiftplugin/src"
step "install build dependencies in the $SUITE root" \
    apt_in_root "$ROOT" build-dep /build/swiftplugin/src
step "dpkg-buildpackage ($SUITE, in root)" \
    in_root "$ROOT" env DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" \
    sh -c 'cd /build/swiftplugin/src && dpkg-buildpackage -us -uc -b'
copy_debs "$ROOT/build/swiftplugin"
rm -rf --one-file-system "$ROOT/build/swiftplugin"
