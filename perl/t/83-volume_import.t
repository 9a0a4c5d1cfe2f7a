#!/usr/bin/perl -T
# Contract: volume_import($scfg, $storeid, $fh, $volname, $format, $snapshot,
# $base_snapshot, $with_snapshots, $allow_rename) reads a stream from $fh (a pipe here)
# and returns "<storeid>:<volname>" of the new volume. dir's checks and messages, in
# dir's order: "volume import format '<f>' not available for <class>\n"; "format <f>
# cannot be imported without snapshots\n" (qcow2, vmdk) / "with snapshots\n" (raw, tar);
# "cannot import format <f> into a file of format <fmt>\n"; an existing target: "file
# '<path>' already exists\n", or with $allow_rename for images a warning "file '<path>'
# already exists - importing with a different name" and the next free name; "import: no
# size found in export header, aborting.\n"; a size that is not whole KiB prints "size
# <n> is not aligned to granularity 1024, rounding up to <m>"; backups: "importing
# volume of type 'backup' not implemented\n". Beyond dir: the volume appears only when
# complete (raw+size: exactly the announced size, or under one sector less; qcow2/vmdk:
# a self-contained image of the announced virtual size, qcow2 passing qemu-img check;
# tar: unpacked without error into a hidden directory); zero blocks become holes; a
# failed or killed import leaves the storage as it was (a killed one's hidden temporary
# is reclaimed by the next allocation and never listed); tar entries never land outside.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use StreamTest;
use File::Path ();
use POSIX ();

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $class = PLUGIN;
my $MiB = 1024 * 1024;
sub io { run_quiet('/usr/bin/qemu-io', @_) or die "qemu-io @_ failed\n" }
sub file_of { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; binmode($fh); local $/; return <$fh> }
sub move {
    my ($from, $format, $to, $snaps, $rename) = @_;
    return pipe_move(
        sub { PLUGIN->volume_export($scfg, 's', $_[0], $from, $format, undef, undef, $snaps) },
        sub { PLUGIN->volume_import($scfg, 's', $_[0], $to, $format, undef, undef, $snaps, $rename) });
}
# A ustar member (name, content, type, link target), hand-made so that hostile names stay as written.
sub tar_member {
    my ($name, $content, $type, $link) = @_;
    $content //= '';
    my $h = pack('a100 a8 a8 a8 a12 a12 A8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12',
        $name, sprintf('%07o', 0644), sprintf('%07o', 0), sprintf('%07o', 0), sprintf('%011o', length($content)),
        sprintf('%011o', 0), '', $type // '0', $link // '', 'ustar', '00', 'root', 'root', '', '', '', '');
    my $sum = 0;
    $sum += ord($_) for split //, substr($h, 0, 148) . (' ' x 8) . substr($h, 156);
    substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
    my $pad = (512 - length($content) % 512) % 512;
    return $h . $content . ("\0" x $pad);
}
sub tar_end { return "\0" x 1024 }
my $before;
sub same_storage { is_deeply(files_below($dir), $before, "$_[0]: the storage is as it was") }

# raw: through a pipe, identical, sparse
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 16384);
io('-f', 'raw', '-c', 'write -P 0x5a 1M 1M', '-c', 'write -P 0x01 9M 4k', "$dir/images/$raw");
my ($volid, $error) = move($raw, 'raw+size', '101/vm-101-disk-0.raw', 0, 0);
is($error, '', 'raw: imported');
is($volid, 's:101/vm-101-disk-0.raw', 'raw: the volid');
is(sha_file("$dir/images/101/vm-101-disk-0.raw"), sha_file("$dir/images/$raw"), 'raw: same bytes');
ok(blocks_of("$dir/images/101/vm-101-disk-0.raw") <= 1 * $MiB + 4096 + 65536, 'raw: zero blocks are holes');
is((stat("$dir/images/101/vm-101-disk-0.raw"))[7], 16 * $MiB, 'raw: the size');

# qcow2+size and vmdk+size: the file as it is
my $q = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 4096);
io('-f', 'qcow2', '-c', 'write -P 0xab 0 64k', '-c', 'write -z 1M 64k', "$dir/images/$q");
($volid, $error) = move($q, 'qcow2+size', '102/vm-102-disk-0.qcow2', 1, 0);
is("$volid$error", 's:102/vm-102-disk-0.qcow2', 'qcow2+size: imported');
ok(run_quiet('/usr/bin/qemu-img', 'compare', "$dir/images/$q", "$dir/images/102/vm-102-disk-0.qcow2"), 'qcow2: qemu-img compare');
my $v = PLUGIN->alloc_image('s', $scfg, 100, 'vmdk', undef, 2048);
io('-f', 'vmdk', '-c', 'write -P 0x77 64k 64k', "$dir/images/$v");
($volid, $error) = move($v, 'vmdk+size', '102/vm-102-disk-1.vmdk', 1, 0);
is("$volid$error", 's:102/vm-102-disk-1.vmdk', 'vmdk+size: imported');
ok(run_quiet('/usr/bin/qemu-img', 'compare', "$dir/images/$v", "$dir/images/102/vm-102-disk-1.vmdk"), 'vmdk: qemu-img compare');
# qcow2 exported as raw, imported as raw
($volid, $error) = move($q, 'raw+size', '103/vm-103-disk-0.raw', 0, 0);
ok($error eq '' && run_quiet('/usr/bin/qemu-img', 'compare', '-f', 'qcow2', '-F', 'raw', "$dir/images/$q", "$dir/images/103/vm-103-disk-0.raw"),
    'qcow2 -> raw+size -> raw: same disk');

# tar+size
my $sub = PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0);
make_file("$dir/images/$sub/etc/hostname", "ct\n");
symlink('/etc/passwd', "$dir/images/$sub/abs-link");
chmod(0700, "$dir/images/$sub/etc");
($volid, $error) = move($sub, 'tar+size', '104/subvol-104-disk-0.subvol', 0, 0);
is("$volid$error", 's:104/subvol-104-disk-0.subvol', 'tar+size: imported');
is(file_of("$dir/images/104/subvol-104-disk-0.subvol/etc/hostname"), "ct\n", 'tar: contents');
is(readlink("$dir/images/104/subvol-104-disk-0.subvol/abs-link"), '/etc/passwd', 'tar: symlink kept as it is');
is((stat("$dir/images/104/subvol-104-disk-0.subvol/etc"))[2] & 07777, 0700, 'tar: permissions kept');

# allow_rename and existing targets
my ($warn, $r2);
($warn, $volid) = warnings_of { (move($raw, 'raw+size', '101/vm-101-disk-0.raw', 0, 1))[0] };
is($volid, 's:101/vm-101-disk-1.raw', 'allow_rename: the next free name');
is_deeply($warn, ["file '$dir/images/101/vm-101-disk-0.raw' already exists - importing with a different name\n"], 'allow_rename: the warning');
(undef, $error) = move($raw, 'raw+size', '101/vm-101-disk-0.raw', 0, 0);
is($error, "file '$dir/images/101/vm-101-disk-0.raw' already exists\n", 'existing, no allow_rename');

# other content: raw+size into iso, snippets (their directories exist, as after activation)
File::Path::make_path("$dir/template/iso", "$dir/snippets");
($volid, $error) = import_bytes($scfg, 's', 'iso/new.iso', 'raw+size', header(1024) . ('i' x 1000), 0, 0);
is("$volid$error", 's:iso/new.iso', 'iso: imported (a size rounded to sectors, as dir announces it)');
is(file_of("$dir/template/iso/new.iso"), 'i' x 1000, 'iso: the bytes');
(undef, $error) = import_bytes($scfg, 's', 'iso/new.iso', 'raw+size', header(4) . 'abcd', 0, 1);
is($error, "file '$dir/template/iso/new.iso' already exists\n", 'iso exists: allow_rename does not apply');
($volid, $error) = import_bytes($scfg, 's', 'snippets/s.yaml', 'raw+size', header(5) . "a: 1\n", 0, 0);
is("$volid$error", 's:snippets/s.yaml', 'snippet imported');

# size rounding notice (stdout)
my ($stderr, $stdout);
($volid, $error, $stderr, $stdout) = import_bytes($scfg, 's', '105/vm-105-disk-0.raw', 'raw+size', header(1000) . ('z' x 1000), 0, 0);
is($stdout, "size 1000 is not aligned to granularity 1024, rounding up to 1024\n", 'rounding notice');
like($stderr, qr/^import: 1000 bytes in /m, 'progress on stderr');

# dir's refusals
my @refusals = (
    ['zfs', 0, '106/vm-106-disk-0.raw', "volume import format 'zfs' not available for $class\n"],
    ['qcow2+size', 0, '106/vm-106-disk-0.qcow2', "format qcow2+size cannot be imported without snapshots\n"],
    ['raw+size', 1, '106/vm-106-disk-0.raw', "format raw+size cannot be imported with snapshots\n"],
    ['raw+size', 0, '106/vm-106-disk-0.qcow2', "cannot import format raw+size into a file of format qcow2\n"],
    ['tar+size', 0, '106/vm-106-disk-0.raw', "cannot import format tar+size into a file of format raw\n"],
    ['raw+size', 0, 'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma', "importing volume of type 'backup' not implemented\n"],
    ['tar+size', 0, '106/subvol-106-disk-0.subvol', "storage does not support subvol quotas\n", header(4096) . tar_end()],
);
$before = files_below($dir);
for my $case (@refusals) {
    my ($format, $snaps, $volname, $message, $bytes) = @$case;
    (undef, $error) = import_bytes($scfg, 's', $volname, $format, $bytes // header(4) . 'abcd', $snaps, 0);
    is($error, $message, "refused: $message");
}
same_storage('refusals');

# hostile streams: each a clear error, nothing left
my $garbage = join('', map { chr(($_ * 7919) % 251) } 1 .. 70000);
my @hostile = (
    ['no header', 'raw+size', '107/vm-107-disk-0.raw', 'abc', qr/^import: no size found in export header, aborting\.\n$/],
    ['empty stream', 'raw+size', '107/vm-107-disk-0.raw', '', qr/^import: no size found in export header, aborting\.\n$/],
    ['truncated raw', 'raw+size', '107/vm-107-disk-0.raw', header($MiB) . ('d' x 102400), qr/^import: the stream ended after 102400 of 1048576 bytes\n$/],
    ['longer than announced', 'raw+size', '107/vm-107-disk-0.raw', header(4096) . ('d' x 8192), qr/^import: the stream is longer than the announced size of 4096 bytes\n$/],
    ['huge header', 'raw+size', '107/vm-107-disk-0.raw', header(2**63) . ('d' x 4096), qr/^import: the stream ended after 4096 of 9223372036854775808 bytes\n$/],
    ['huge header into iso', 'raw+size', 'iso/huge.iso', header(2**63) . ('d' x 4096), qr/^import: the stream ended after 4096 of/],
    ['garbage qcow2', 'qcow2+size', '107/vm-107-disk-0.qcow2', header($MiB) . $garbage, qr/^import: the stream is not a usable qcow2 image - Image is not in qcow2 format\n$/],
    ['garbage vmdk', 'vmdk+size', '107/vm-107-disk-0.vmdk', header($MiB) . $garbage, qr/^import: the stream is not a usable vmdk image - /],
    ['tar with ..', 'tar+size', '107/subvol-107-disk-0.subvol', header(0) . tar_member('../escape', 'x') . tar_end(), qr/^command '.*tar .*' failed: exit code 2\n$/],
    ['tar garbage', 'tar+size', '107/subvol-107-disk-0.subvol', header(0) . $garbage, qr/^command '.*tar .*' failed: exit code 2\n$/],
    # a member named in Latin-1 (not UTF-8) unpacked before the stream is cut: the hidden directory still goes
    ['tar cut short after a name that is not UTF-8', 'tar+size', '107/subvol-107-disk-0.subvol',
        header(0) . tar_member("caf\xe9", 'x' x 100000) . substr(tar_member('next', 'y' x 100000), 0, 4096),
        qr/^command '.*tar .*' failed: exit code 2\n$/],
);
# a qcow2 with a backing file, one with a wrong virtual size, a truncated one
run_quiet('/usr/bin/qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname', "$dir/backed.qcow2", '1M') or die;
push @hostile, ['qcow2 with a backing file', 'qcow2+size', '107/vm-107-disk-0.qcow2', header($MiB) . file_of("$dir/backed.qcow2"),
    qr/^import: refusing a qcow2 image with a backing file \('\/etc\/hostname'\)\n$/];
push @hostile, ['qcow2 of another size', 'qcow2+size', '107/vm-107-disk-0.qcow2', header(2 * $MiB) . file_of("$dir/images/$q"),
    qr/^import: the image's virtual size 4194304 differs from the announced size 2097152\n$/];
push @hostile, ['truncated qcow2', 'qcow2+size', '107/vm-107-disk-0.qcow2', header(4 * $MiB) . substr(file_of("$dir/images/$q"), 0, 200000),
    qr/^import: /];
make_file("$dir/desc.vmdk", qq{# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/hostname" 0\n});
push @hostile, ['vmdk descriptor with an outside extent', 'vmdk+size', '107/vm-107-disk-0.vmdk', header($MiB) . file_of("$dir/desc.vmdk"),
    qr/^import: the stream is not a usable vmdk image - refusing a vmdk image that is not a single sparse file/];
# a sparse vmdk of capacity 0, which QEMU reads as a descriptor: its one extent another VM's disk
{
    my $img = file_of("$dir/images/$v");
    substr($img, 12, 8) = pack('Q<', 0);
    my $desc = qq{# Disk DescriptorFile\nversion=1\nCID=51ed5cda\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\n\nRW 4096 SPARSE "$dir/images/$v"\n};
    substr($img, 512, 20 * 512) = $desc . ("\0" x (20 * 512 - length($desc)));
    push @hostile, ['vmdk of capacity 0 naming another file', 'vmdk+size', '107/vm-107-disk-0.vmdk', header(0) . $img,
        qr/^import: the stream is not a usable vmdk image - refusing a vmdk image of capacity 0 /];
    # a parent named where a line parser does not look ('#parentFileNameHint=', found by QEMU)
    $img = file_of("$dir/images/$v");
    my ($cid) = $img =~ /\nCID=([0-9a-f]+)/;
    $desc = qq{# Disk DescriptorFile\nversion=1\nCID=51ed5cda\nparentCID=$cid\ncreateType="monolithicSparse"\n#parentFileNameHint="$dir/images/$v"\n\nRW 4096 SPARSE "x.vmdk"\n};
    substr($img, 512, 20 * 512) = $desc . ("\0" x (20 * 512 - length($desc)));
    push @hostile, ['vmdk with a hidden parent', 'vmdk+size', '107/vm-107-disk-0.vmdk', header(2 * $MiB) . $img,
        qr/^import: refusing a vmdk image with a backing file \('\Q$dir\/images\/$v\E'\)\n$/];
}
unlink("$dir/backed.qcow2", "$dir/desc.vmdk");
$before = files_below($dir);
for my $case (@hostile) {
    my ($what, $format, $volname, $bytes, $pattern) = @$case;
    my $snaps = $format =~ /^(qcow2|vmdk)/ ? 1 : 0;
    (undef, $error) = import_bytes($scfg, 's', $volname, $format, $bytes, $snaps, 0);
    like($error, $pattern, "hostile: $what");
    same_storage($what);
}
ok(!-e "$dir/images/escape" && !-e "$dir/escape", 'tar: the .. member landed nowhere');

# tar: absolute names stay inside, a symlink pointing out is never followed
{
    my $stream = header(0) . tar_member('/abs-file', 'a') . tar_member('link', '', '2', '/tmp')
        . tar_member('link/through-link', 'evil') . tar_end();
    ($volid, $error) = import_bytes($scfg, 's', '108/subvol-108-disk-0.subvol', 'tar+size', $stream, 0, 0);
    ok(!-e '/tmp/through-link', 'tar: nothing written through a symlink pointing out');
    unlink('/tmp/through-link');
    ok($error ne '' || -f "$dir/images/108/subvol-108-disk-0.subvol/abs-file", 'tar: an absolute name lands inside, if at all');
}

# a killed import: no visible volume, the next allocation reclaims its temporary
{
    pipe(my $r, my $w) or die;
    my $pid = fork() // die;
    if (!$pid) {
        close($w);
        open(STDERR, '>', '/dev/null');
        eval { PLUGIN->volume_import($scfg, 's', $r, '109/vm-109-disk-0.raw', 'raw+size', undef, undef, 0, 0) };
        POSIX::_exit(0);
    }
    close($r);
    syswrite($w, header(8 * $MiB) . ('k' x (1 * $MiB)));
    select(undef, undef, undef, 0.5);
    kill('KILL', $pid);
    waitpid($pid, 0);
    close($w);
    my @hidden = grep { /^\./ } @{files_below("$dir/images/109")};
    is(scalar(@hidden), 1, 'killed: a hidden temporary is left');
    is_deeply(PLUGIN->list_images('s', $scfg, 109), [], 'killed: nothing listed');
    my $new = PLUGIN->alloc_image('s', $scfg, 109, 'raw', undef, 64);
    is($new, '109/vm-109-disk-0.raw', 'killed: the name is free');
    is_deeply(files_below("$dir/images/109"), ['vm-109-disk-0.raw'], 'killed: the temporary is reclaimed');
}

# a stop request (SIGTERM) ends the import cleanly
{
    pipe(my $r, my $w) or die;
    pipe(my $er, my $ew) or die;
    my $pid = fork() // die;
    if (!$pid) {
        close($w); close($er);
        open(STDERR, '>', '/dev/null');
        local $SIG{TERM} = sub { print $ew "handler\n" };
        eval { PLUGIN->volume_import($scfg, 's', $r, '110/vm-110-disk-0.raw', 'raw+size', undef, undef, 0, 0) };
        print $ew "error: $@";
        close($ew);
        POSIX::_exit(0);
    }
    close($r); close($ew);
    syswrite($w, header(8 * $MiB) . ('t' x 65536));
    select(undef, undef, undef, 0.5);
    kill('TERM', $pid);
    my $report = do { local $/; <$er> };
    waitpid($pid, 0);
    close($w);
    like($report, qr/error: import: interrupted by signal 15\n/, 'SIGTERM: the import ends with an error');
    like($report, qr/handler/, "SIGTERM: the caller's handler runs");
    ok(!-e "$dir/images/110" || !@{files_below("$dir/images/110")}, 'SIGTERM: nothing left');
}

# Names dir cannot import into: a linked clone's volume name (dir allocates a plain image,
# finds the name differs, frees it and refuses), a disk inside an OVA.
{
    my $files = files_below($dir);
    my (undef, $error) = import_bytes($scfg, 's', '100/base-100-disk-9.raw/140/vm-140-disk-0.raw', 'raw+size',
        header(4096) . ("\0" x 4096), 0, 0);
    is($error, "internal error: unexpected allocated name: '140/vm-140-disk-0.raw' != '100/base-100-disk-9.raw/140/vm-140-disk-0.raw'\n",
        "a linked clone's name: dir's refusal");
    (undef, $error) = import_bytes($scfg, 's', 'import/new.ova/disk.vmdk', 'raw+size', header(4096) . ("\0" x 4096), 0, 0);
    is($error, "import: 'import/new.ova/disk.vmdk' is a disk inside an OVA archive; only whole files can be imported\n",
        'an OVA member: refused');
    is_deeply(files_below($dir), $files, 'both left the storage as it was');
}

done_testing();
