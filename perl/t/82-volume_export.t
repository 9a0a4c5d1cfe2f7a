#!/usr/bin/perl -T
# Contract: volume_export($scfg, $storeid, $fh, $volname, $format, $snapshot,
# $base_snapshot, $with_snapshots) writes to $fh (a pipe here: never seeked) the 8-byte
# little-endian size header (the virtual size; 0 for a subvol) and the payload, and
# returns nothing: raw+size the raw disk bytes (a raw file as it is, holes sent as
# zeros; a qcow2 image from its cluster tables, through a linked clone's backing chain,
# zero clusters as zeros; compressed qcow2 and vmdk converted by qemu-img first),
# qcow2+size/vmdk+size (with $with_snapshots) the file as it is, tar+size a tar of the
# subvol's contents. Refusals are dir's: "volume export format <f> not available for
# <class>\n" (wrong format for the volume, $with_snapshots mismatch, a $snapshot or
# $base_snapshot, no path), "cannot export volumes together with their snapshots in
# <class>\n" in snapshot-as-volume-chain mode. Progress goes to stderr, ending with
# "export: <n> bytes in <s> s, <rate>/s". A reader that goes away is an error, not a SIGPIPE.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use StreamTest;
use POSIX ();
use Fcntl ();

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $class = PLUGIN;
my $MiB = 1024 * 1024;
sub io { run_quiet('/usr/bin/qemu-io', @_) or die "qemu-io @_ failed\n" }
sub raw_of {
    my ($path, $fmt) = @_;
    my $out = "$dir/converted.raw";
    unlink($out);
    run_quiet('/usr/bin/qemu-img', 'convert', '-f', $fmt, '-O', 'raw', $path, $out) or die "convert failed\n";
    open(my $fh, '<', $out) or die;
    binmode($fh);
    return do { local $/; <$fh> };
}
sub file_of { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; binmode($fh); local $/; return <$fh> }

# raw: data and holes
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 8192);
my $rawpath = "$dir/images/$raw";
io('-f', 'raw', '-c', 'write -P 0x5a 1M 256k', '-c', 'write -P 0x01 7M 4k', $rawpath);
my ($bytes, $error, $stderr) = export_bytes($scfg, 's', $raw, 'raw+size', 0);
is($error, '', 'raw: exported');
is(substr($bytes, 0, 8), header(8 * $MiB), 'raw: header is the size');
ok(substr($bytes, 8) eq file_of($rawpath), 'raw: payload is the file');
like($stderr, qr/^export: 8388608 bytes in [\d.]+ s, [\d.]+ \S+\/s$/m, 'progress: the final line on stderr');

# qcow2 as raw, natively: data, zero clusters, unallocated
my $q = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 8192);
my $qpath = "$dir/images/$q";
io('-f', 'qcow2', '-c', 'write -P 0xab 0 64k', '-c', 'write -P 0xcd 3M 100k', '-c', 'write -z 3M 16k', $qpath);
($bytes, $error) = export_bytes($scfg, 's', $q, 'raw+size', 0);
is($error, '', 'qcow2 as raw: exported');
is(substr($bytes, 0, 8), header(8 * $MiB), 'qcow2 as raw: the virtual size');
ok(substr($bytes, 8) eq raw_of($qpath, 'qcow2'), 'qcow2 as raw: the bytes qemu-img reads');

# a linked clone: the backing chain (raw base), extended L2 subclusters
my $base = PLUGIN->alloc_image('s', $scfg, 200, 'raw', undef, 4096);
io('-f', 'raw', '-c', 'write -P 0x11 0 1M', '-c', 'write -P 0x22 2M 512k', "$dir/images/$base");
$base = PLUGIN->create_base('s', $scfg, $base);
my $clone = PLUGIN->clone_image($scfg, 's', $base, 201);
my ($clonepath) = PLUGIN->path($scfg, $clone);
io('-f', 'qcow2', '-c', 'write -P 0x33 512k 8k', '-c', 'write -z 2M 4k', $clonepath);
($bytes, $error) = export_bytes($scfg, 's', $clone, 'raw+size', 0);
is($error, '', 'linked clone as raw: exported');
ok(substr($bytes, 8) eq raw_of($clonepath, 'qcow2'), 'linked clone as raw: the chain as qemu-img reads it');

# a raw base whose guest wrote a qcow2 header naming a host file: the clone's overlay
# records the base as raw (its backing format extension), so the base is read as raw,
# never probed and never followed to the file its guest named
{
    my $secret = "$dir/host-secret";
    make_file($secret, 'HOST-SECRET ' x 1000);
    my $gbase = PLUGIN->alloc_image('s', $scfg, 210, 'raw', undef, 4096);
    run_quiet('/usr/bin/qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', $secret, "$dir/guest.qcow2", '4M') or die;
    # The guest writes a qcow2 header over its disk (a Perl write: dd aborts under check-asan's preload).
    my $guest = file_of("$dir/guest.qcow2");
    open(my $disk, '+<', "$dir/images/$gbase") or die "$gbase: $!";
    binmode($disk);
    print $disk $guest;
    close($disk) or die;
    unlink("$dir/guest.qcow2");
    $gbase = PLUGIN->create_base('s', $scfg, $gbase);
    my $gclone = PLUGIN->clone_image($scfg, 's', $gbase, 211);
    my ($gclonepath) = PLUGIN->path($scfg, $gclone);
    ($bytes, $error) = export_bytes($scfg, 's', $gclone, 'raw+size', 0);
    is($error, '', 'guest-written qcow2 header in a raw base: exported');
    ok(index($bytes, 'HOST-SECRET') < 0, 'guest-written qcow2 header in a raw base: the host file it names is not read');
    ok(substr($bytes, 8) eq raw_of($gclonepath, 'qcow2'), 'guest-written qcow2 header in a raw base: the bytes qemu-img reads');
    PLUGIN->free_image('s', $scfg, $gclone, 0);
    PLUGIN->free_image('s', $scfg, $gbase, 1);
    unlink($secret);
}

# a qcow2 base under a qcow2 clone
my $qbase = PLUGIN->alloc_image('s', $scfg, 300, 'qcow2', undef, 2048);
io('-f', 'qcow2', '-c', 'write -P 0x44 0 300k', "$dir/images/$qbase");
$qbase = PLUGIN->create_base('s', $scfg, $qbase);
my $qclone = PLUGIN->clone_image($scfg, 's', $qbase, 301);
my ($qclonepath) = PLUGIN->path($scfg, $qclone);
io('-f', 'qcow2', '-c', 'write -P 0x55 256k 4k', $qclonepath);
($bytes, $error) = export_bytes($scfg, 's', $qclone, 'raw+size', 0);
ok($error eq '' && substr($bytes, 8) eq raw_of($qclonepath, 'qcow2'), 'qcow2 over qcow2 base: same bytes');

# compressed clusters: converted by qemu-img, same bytes, no temporary left
my $cq = "$dir/images/100/vm-100-disk-5.qcow2";
run_quiet('/usr/bin/qemu-img', 'convert', '-c', '-f', 'raw', '-O', 'qcow2', $rawpath, $cq) or die;
($bytes, $error) = export_bytes($scfg, 's', '100/vm-100-disk-5.qcow2', 'raw+size', 0);
ok($error eq '' && substr($bytes, 8) eq file_of($rawpath), 'compressed qcow2 as raw: same bytes');
is_deeply([grep { /^\./ } @{files_below("$dir/images/100")}], [], 'no temporary left');

# vmdk as raw (qemu-img) and as vmdk+size
my $v = PLUGIN->alloc_image('s', $scfg, 100, 'vmdk', undef, 2048);
io('-f', 'vmdk', '-c', 'write -P 0x77 64k 64k', "$dir/images/$v");
($bytes, $error) = export_bytes($scfg, 's', $v, 'raw+size', 0);
ok($error eq '' && substr($bytes, 8) eq raw_of("$dir/images/$v", 'vmdk'), 'vmdk as raw: same bytes');
($bytes, $error) = export_bytes($scfg, 's', $v, 'vmdk+size', 1);
ok($error eq '' && $bytes eq header(2 * $MiB) . file_of("$dir/images/$v"), 'vmdk+size: header and the file as it is');
($bytes, $error) = export_bytes($scfg, 's', $q, 'qcow2+size', 1);
ok($error eq '' && $bytes eq header(8 * $MiB) . file_of($qpath), 'qcow2+size: header and the file as it is');

# tar+size
my $sub = PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0);
make_file("$dir/images/$sub/etc/hostname", "ct\n");
symlink('/etc/passwd', "$dir/images/$sub/abs-link");
($bytes, $error) = export_bytes($scfg, 's', $sub, 'tar+size', 0);
is($error, '', 'tar: exported');
is(substr($bytes, 0, 8), header(0), 'tar: header 0');
like(substr($bytes, 8, 512), qr/^\.\//, 'tar: members relative to the subvol');
ok(index($bytes, "ct\n") > 0, 'tar: contents inside');

# iso
make_file("$dir/template/iso/a.iso", 'x' x 1000);
($bytes, $error) = export_bytes($scfg, 's', 'iso/a.iso', 'raw+size', 0);
is($bytes, header(1024) . ('x' x 1000), 'iso: header rounded to sectors as qemu-img reports, the bytes as they are');

# refusals
my $na = sub { "volume export format $_[0] not available for $class\n" };
is((export_bytes($scfg, 's', $raw, 'raw+size', 1))[1], $na->('raw+size'), 'raw+size with snapshots');
is((export_bytes($scfg, 's', $q, 'qcow2+size', 0))[1], $na->('qcow2+size'), 'qcow2+size without snapshots');
is((export_bytes($scfg, 's', $raw, 'qcow2+size', 1))[1], $na->('qcow2+size'), 'qcow2+size of raw');
is((export_bytes($scfg, 's', $q, 'vmdk+size', 1))[1], $na->('vmdk+size'), 'vmdk+size of qcow2');
is((export_bytes($scfg, 's', $raw, 'tar+size', 0))[1], $na->('tar+size'), 'tar+size of raw');
is((export_bytes($scfg, 's', $sub, 'raw+size', 0))[1], $na->('raw+size'), 'raw+size of subvol');
is((export_bytes($scfg, 's', $raw, 'zfs', 0))[1], $na->('zfs'), 'zfs');
is((export_bytes({ type => 'swift' }, 's', $raw, 'raw+size', 0))[1], $na->('raw+size'), 'no path');
is(dies { PLUGIN->volume_export($scfg, 's', \*STDOUT, $raw, 'raw+size', 'snap', undef, 0) }, $na->('raw+size'), 'a snapshot');
is(dies { PLUGIN->volume_export($scfg, 's', \*STDOUT, $raw, 'raw+size', undef, 'base', 0) }, $na->('raw+size'), 'incremental');
is(dies { PLUGIN->volume_export({ %$scfg, 'snapshot-as-volume-chain' => 1 }, 's', \*STDOUT, $q, 'qcow2+size', undef, undef, 1) },
    "cannot export volumes together with their snapshots in $class\n", 'chain mode with snapshots');
is(dies { PLUGIN->volume_export($scfg, 's', 'not a handle', $raw, 'raw+size', undef, undef, 0) },
    "fh is not a file handle\n", 'not a file handle');

# a reader that goes away: an error, the exporting process lives on
{
    pipe(my $r, my $w) or die;
    close($r);
    my $err = dies { PLUGIN->volume_export($scfg, 's', $w, $raw, 'raw+size', undef, undef, 0) };
    like($err, qr/^export: writing the stream failed - Broken pipe\n$/, 'closed reader: EPIPE, no SIGPIPE');
}

# a stop request (SIGTERM) while the export writes zeros (a hole) into a pipe whose reader
# stalled: the export ends within a moment, it does not sit in a blocking write
{
    my $hole = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 65536);
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if (!$pid) {
        close($r);
        open(STDERR, '>', '/dev/null');
        local $SIG{TERM} = sub { die "interrupted by signal\n" };
        eval { PLUGIN->volume_export($scfg, 's', $w, $hole, 'raw+size', undef, undef, 0) };
        POSIX::_exit(0);
    }
    close($w);
    sysread($r, my $buf, 200000);
    select(undef, undef, undef, 0.5);
    kill('TERM', $pid);
    my $gone = 0;
    for (1 .. 50) { if (waitpid($pid, POSIX::WNOHANG()) == $pid) { $gone = 1; last } select(undef, undef, undef, 0.1) }
    ok($gone, 'SIGTERM: an export writing a hole into a stalled pipe ends');
    if (!$gone) { kill('KILL', $pid); waitpid($pid, 0) }
    close($r);
    PLUGIN->free_image('s', $scfg, $hole, 0);
}

# the stream's descriptor is left blocking, as it was given
{
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if (!$pid) { close($w); 1 while sysread($r, my $b, 65536); POSIX::_exit(0) }
    close($r);
    my ($err) = stderr_of { PLUGIN->volume_export($scfg, 's', $w, $raw, 'raw+size', undef, undef, 0) };
    ok(!(fcntl($w, Fcntl::F_GETFL(), 0) & Fcntl::O_NONBLOCK()), 'the descriptor is blocking again after the export');
    close($w);
    waitpid($pid, 0);
}

# into a regular file (no pipe)
{
    open(my $fh, '+>', "$dir/stream.bin") or die;
    my ($err) = stderr_of { PLUGIN->volume_export($scfg, 's', $fh, $q, 'raw+size', undef, undef, 0) };
    close($fh);
    ok(file_of("$dir/stream.bin") eq header(8 * $MiB) . raw_of($qpath, 'qcow2'), 'into a file: same stream');
}

# What dir does not manage: a disk inside an OVA has no file of its own; a missing
# image converted to raw is named plainly; nothing is returned.
{
    make_file("$dir/import/vm.ova", 'not really an archive');
    my ($bytes, $error) = export_bytes($scfg, 's', 'import/vm.ova/disk.vmdk', 'raw+size', 0);
    is($error, "export: 'import/vm.ova/disk.vmdk' is a disk inside an OVA archive; only the archive itself can be exported\n",
        'an OVA member: refused before the header');
    is($bytes, '', '... nothing written');
    ($bytes, $error) = export_bytes($scfg, 's', '100/vm-100-disk-77.qcow2', 'raw+size', 0);
    is($error, "export: cannot open '$dir/images/100/vm-100-disk-77.qcow2' - No such file or directory\n",
        'a missing qcow2 as raw: the file named, no qemu-img run');
    is($bytes, header(0), '... after the header dir writes too (size 0)');
    pipe(my $r, my $w) or die;
    my $raw0 = PLUGIN->alloc_image('s', $scfg, 130, 'raw', undef, 4);
    my $pid = fork() // die;
    if (!$pid) { close($w); my $all = do { local $/; <$r> }; POSIX::_exit(0) }
    close($r);
    my @returned = PLUGIN->volume_export($scfg, 's', $w, $raw0, 'raw+size', undef, undef, 0);
    close($w);
    waitpid($pid, 0);
    is_deeply(\@returned, [], 'returns nothing, as dir (an empty list)');
}

# templates are immutable: freed, so the temporary directory can go
PLUGIN->free_image('s', $scfg, $_, 0) for ($clone, $qclone);
PLUGIN->free_image('s', $scfg, $_, 1) for ($base, $qbase);

done_testing();
