#!/usr/bin/env bash
# Install a built .deb into a clean debootstrap'ed root of SUITE that has no
# Swift toolchain, load the plugin there the way PVE does and call into Swift.
#
#   packaging/package-test.sh SUITE DEB      SUITE: bookworm | trixie
#
# Prints TAP (see packaging/t/package.t for prove); exits non-zero on any
# failure.  The minbase root is cached as build/roots/SUITE-minbase.tar and
# every run starts from a fresh copy of it; command output goes to
# build/logs/package-test-SUITE.log.  KEEP_TEST_ROOT=1 keeps the root for
# debugging.  Needs root; installs its own host packages.
set -euo pipefail

PROG=package-test
# shellcheck source=./lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 SUITE DEB"
SUITE=$1
DEB=$(realpath -e "$2") || die "no such file: $2"
MAJOR=$(suite_major "$SUITE")
need_root
init_log "package-test-$SUITE"

# Debian packages the Depends name that Debian does not have: PVE's own.
NOT_IN_DEBIAN=(libpve-storage-perl)
# What the stand-in PVE modules need beyond perl (on a PVE node,
# libpve-common-perl brings it); installed only into the test root.
STANDIN_DEPS=(libjson-perl)
# The PVE generation the stand-ins emulate: PVE 8 runs on bookworm, 9 on trixie.
STANDIN_GENERATION=$((MAJOR - 4))
STANDIN_DIR=/srv/swiftplugin-test # stand-in PVE modules, outside /usr/share/perl5

N=0
FAILED=0
ok() { # ok STATUS DESCRIPTION [DIAGNOSTIC]: one TAP line, STATUS 0 = pass
    N=$((N + 1))
    if [[ $1 == 0 ]]; then
        echo "ok $N - $2"
    else
        echo "not ok $N - $2"
        FAILED=$((FAILED + 1))
        [[ -z ${3:-} ]] || printf '%s\n' "$3" | sed 's/^/# /'
    fi
}
# check DESCRIPTION COMMAND...: a test that passes if the command succeeds;
# its output goes to the log (the tail is shown on failure).  Sets CHECK_RC.
check() {
    local desc=$1 start=$SECONDS
    shift
    printf '\n=== %s\n' "$desc" >>"$LOG"
    CHECK_RC=0
    "$@" >>"$LOG" 2>&1 </dev/null || CHECK_RC=$?
    printf 'step %3ds  %s\n' $((SECONDS - start)) "$desc" >>"$LOG"
    [[ ${SWIFTPLUGIN_TIMING:-} != 1 ]] || printf '%s: %3ds  %s\n' "$PROG" $((SECONDS - start)) "$desc" >&2
    ok "$CHECK_RC" "$desc" "$( ((CHECK_RC == 0)) || tail -n 15 "$LOG")"
}
# assert DESCRIPTION DIAGNOSTIC COMMAND...: like check, for quiet tests.
assert() {
    local desc=$1 diag=$2 rc=0
    shift 2
    "$@" >/dev/null 2>&1 || rc=$?
    ok "$rc" "$desc" "$diag"
}
bail() {
    echo "Bail out! $*"
    echo "# see $LOG"
    exit 1
}
# A failed setup step (lib.sh's step) stops the test with a TAP bail-out.
fail_step() {
    tail -n 30 "$LOG" | sed 's/^/# /'
    bail "$1 failed"
}

ensure_host_packages debootstrap lintian binutils dpkg-dev >/dev/null ||
    bail "could not install host packages"

# --- a pristine root ---------------------------------------------------------
ensure_minbase "$SUITE"

ROOT=$(mktemp -d "$ROOTS_DIR/test-$SUITE.XXXXXX")
cleanup() {
    unmount_under "$ROOT"
    if [[ ${KEEP_TEST_ROOT:-} == 1 ]]; then
        echo "# test root kept in $ROOT"
    else
        remove_root "$ROOT"
    fi
}
trap cleanup EXIT
step "unpack pristine $SUITE root" tar --numeric-owner -C "$ROOT" -xpf "$MINBASE_TARBALL"
step "mount /proc in the root" mount -t proc proc "$ROOT/proc"

echo "# $SUITE: testing $(basename "$DEB")"
toolchain_absent() {
    [[ ! -e $ROOT/opt/swift ]] &&
        [[ -z $(find "$ROOT" -xdev -name 'libswiftCore*' -print -quit) ]] &&
        ! in_root "$ROOT" sh -c 'command -v swift'
}
check "fresh $SUITE root has no Swift toolchain" toolchain_absent

# --- install ---------------------------------------------------------------
# Depends minus the packages Debian lacks; apt-get satisfy resolves versions
# and alternatives ("qemu-utils | pve-qemu-kvm") like dpkg would.
depends=$(dpkg-deb -f "$DEB" Depends)
debian_deps=$(printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//; s/ *$//' |
    grep -v -x -E "($(
        IFS='|'
        echo "${NOT_IN_DEBIAN[*]}"
    ))( \(.*\))?" | paste -sd, | sed 's/,/, /g')
check "install the package's Debian dependencies ($debian_deps)" \
    apt_in_root "$ROOT" satisfy "$debian_deps"
((CHECK_RC == 0)) || bail "dependencies not installable"
# before the package: once it is installed with a missing Depends, apt refuses
check "install what the stand-in PVE modules need (${STANDIN_DEPS[*]})" \
    apt_in_root "$ROOT" install "${STANDIN_DEPS[@]}"

echo "# ${NOT_IN_DEBIAN[*]}: Proxmox's package, not in Debian; installing with dpkg -i --force-depends"
cp "$DEB" "$ROOT/tmp/package.deb"
installed() {
    in_root "$ROOT" dpkg -i --force-depends /tmp/package.deb &&
        [[ $(in_root "$ROOT" dpkg-query -W -f='${Status}' "$PKG") == "install ok installed" ]]
}
check "dpkg -i --force-depends installs and configures $PKG" installed
((CHECK_RC == 0)) || bail "package not installed"

VENDORARCH=$(in_root "$ROOT" perl -MConfig -e 'print $Config{vendorarch}')
PERLAPI=$(in_root "$ROOT" perl -MConfig -e 'print "perlapi-", $Config{debian_abi} || $Config{version}')
PM=/usr/share/perl5/PVE/Storage/Custom/SwiftPlugin.pm
SO=$VENDORARCH/auto/PVE/Storage/Custom/SwiftPlugin/SwiftPlugin.so
check "module installed as $PM" test -f "$ROOT$PM"
check "XS library installed as $SO" test -f "$ROOT$SO"

# --- load and call it in the root, under taint mode like pvedaemon ----------
[[ -f $SRC_DIR/perl/t/lib/PVE/Storage.pm ]] ||
    bail "stand-in PVE modules missing: $SRC_DIR/perl/t/lib/PVE/Storage.pm"
mkdir -p "$ROOT$STANDIN_DIR"
cp -a "$SRC_DIR/perl/t/lib" "$ROOT$STANDIN_DIR/lib"
cat >"$ROOT$STANDIN_DIR/check.pl" <<'PERL'
use strict;
use warnings;
use Config;
my @warnings;
BEGIN { $SIG{__WARN__} = sub { push @warnings, $_[0] } }

sub report {
    my ($pass, $desc, $diag) = @_;
    print(($pass ? 'ok' : 'not ok'), " - $desc\n");
    print map { "# $_\n" } split /\n/, $diag if !$pass && defined $diag;
}
sub show { join ', ', map { defined $_ ? "'$_'" : 'undef' } @_ }

my $loaded = eval { require PVE::Storage; 1 };
report($loaded, 'perl -T loads PVE::Storage (stand-in), which scans the installed Custom/ directory', $@);
my $class = 'PVE::Storage::Custom::SwiftPlugin';
my $plugin = eval { PVE::Storage::Plugin->lookup('swift') };
report(defined $plugin && $plugin eq $class, "storage type 'swift' is registered as $class",
    $@ || 'lookup returned ' . show($plugin));
my $pm = $INC{'PVE/Storage/Custom/SwiftPlugin.pm'} // 'not loaded';
report($pm eq '/usr/share/perl5/PVE/Storage/Custom/SwiftPlugin.pm',
    'module was loaded from /usr/share/perl5', "loaded from $pm");
my ($so) = grep { m{/auto/PVE/Storage/Custom/SwiftPlugin/SwiftPlugin\.so$} } @DynaLoader::dl_shared_objects;
report(defined $so && index($so, "$Config{vendorarch}/") == 0,
    'XS library was loaded from perl vendorarch', 'loaded: ' . show(@DynaLoader::dl_shared_objects));

my @want = ('images', 'vm-100-disk-0.qcow2', '100', undef, undef, undef, 'qcow2');
my @got = eval { $class->parse_volname('100/vm-100-disk-0.qcow2') };
my $err = $@;
report(!$err && show(@got) eq show(@want), "parse_volname('100/vm-100-disk-0.qcow2') returns (" . show(@want) . ')',
    $err ? "died: $err" : 'got (' . show(@got) . ')');

my $died = eval { $class->parse_volname('bogus'); 1 } ? undef : $@;
my $msg = "unable to parse directory volume name 'bogus'\n";
report(defined $died && $died eq $msg, "parse_volname('bogus') dies with: unable to parse directory volume name 'bogus'\\n",
    defined $died ? "died with: $died" : 'did not die');

# The image lifecycle on a node without Swift: activation (a forked probe), qemu-img
# run by the library (posix_spawn), the qcow2 header read natively, removal.
my $store = '/var/tmp/swiftplugin-package-test';
my $scfg = { type => 'swift', path => $store, content => { images => 1, iso => 1 } };
my $lifecycle = eval {
    $class->activate_storage('pkgtest', $scfg, {});
    my $volname = $class->alloc_image('pkgtest', $scfg, 100, 'qcow2', undef, 1024);
    my $listed = $class->list_images('pkgtest', $scfg, 100);
    my ($size, $format) = $class->volume_size_info($scfg, 'pkgtest', $volname);
    $class->free_image('pkgtest', $scfg, $volname, 0, 'qcow2');
    my $left = $class->list_images('pkgtest', $scfg, 100);
    join(' ', $volname, scalar(@$listed), $listed->[0]->{format}, $size, $format, scalar(@$left));
};
report(defined $lifecycle && $lifecycle eq '100/vm-100-disk-0.qcow2 1 qcow2 1048576 qcow2 0',
    'alloc_image, list_images, volume_size_info and free_image of a qcow2 image',
    defined $lifecycle ? "got: $lifecycle" : "died: $@");

report(!@warnings, 'no warnings while loading and calling the plugin', join('', @warnings));
PERL
# Same environment as a PVE daemon: taint mode, the stand-ins on -I (PERL5LIB
# is ignored under -T), PVE_STORAGE_CUSTOM_DIR unset so the installed
# /usr/share/perl5/PVE/Storage/Custom is scanned.
# (tr: a failed dlopen can put a NUL into the message)
echo "# stand-in PVE modules emulate PVE $STANDIN_GENERATION"
inner=$(in_root "$ROOT" env PVE_STANDIN_GENERATION="$STANDIN_GENERATION" \
    perl -T -I"$STANDIN_DIR/lib" "$STANDIN_DIR/check.pl" 2>&1 | tr -d '\0') ||
    inner+=$'\nnot ok - check.pl exited with status '$?
while IFS= read -r line; do
    case $line in
        "ok - "*) ok 0 "${line#ok - }" ;;
        "not ok - "*) ok 1 "${line#not ok - }" ;;
        "#"*) printf '%s\n' "$line" ;;
        *) printf '# %s\n' "$line" ;;
    esac
done <<<"$inner"

# --- inspect the package from outside ----------------------------------------
dyn=$(readelf -dW "$ROOT$SO" 2>&1 || true)
swift_needed=$(grep -E 'NEEDED.*\[libswift' <<<"$dyn" || true)
assert "readelf: no libswift* NEEDED" "$swift_needed" test -z "$swift_needed"
bad_path=$(grep -E '\((RPATH|RUNPATH)\)' <<<"$dyn" | grep -E '/opt|swift|toolchain' || true)
assert "readelf: no RPATH/RUNPATH naming /opt or a toolchain path" "$bad_path" test -z "$bad_path"

lint=$(lintian "$DEB" 2>&1 || true)
errors=$(grep -E '^E: ' <<<"$lint" || true)
assert "lintian reports no errors" "$errors" test -z "$errors"
grep -E '^[WIPX]: ' <<<"$lint" | sed 's/^/# lintian: /' || true

case $SUITE in
    bookworm) want_api='perlapi-5\.36\.0' ;;
    trixie) want_api='perlapi-5\.40\.[0-9]+' ;;
esac
has_dep() { tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ *$//' | grep -q -x -E "$1"; }
assert "Depends has ${want_api//\\/} (Debian $MAJOR)" "Depends: $depends" has_dep "$want_api"
assert "Depends has $PERLAPI, the ABI of the root's perl" "Depends: $depends" has_dep "${PERLAPI//./\\.}"
assert "Depends has libpve-storage-perl" "Depends: $depends" has_dep 'libpve-storage-perl'
triggers=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./triggers 2>/dev/null || true)
assert "triggers: activate-noawait pve-api-updates" "triggers: $triggers" \
    grep -q -x 'activate-noawait pve-api-updates' <<<"$triggers"

echo "1..$N"
((FAILED == 0))
