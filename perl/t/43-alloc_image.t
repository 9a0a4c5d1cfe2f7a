#!/usr/bin/perl -T
# Contract: alloc_image($storeid, $scfg, $vmid, $fmt, $name, $size) creates an image of
# $size KiB in images/<vmid>/ and returns "<vmid>/<name>". Without a name the next free
# vm-<vmid>-disk-<n>.<fmt> (subvol-... for subvol); an explicit name must follow the image
# grammar and carry $fmt's extension ("illegal name '<name>' - wrong extension for format
# ('<ext> != '<fmt>')\n"); an existing path -> "disk image '<path>' already exists\n".
# raw/qcow2/vmdk by qemu-img create with the storage's preallocation (qcow2: metadata by
# default; raw: off, metadata = off; unsupported -> "preallocation mode '<p>' not
# supported by format '<fmt>'\n"); subvol: a directory of mode 0755, only with size 0
# ("storage does not support subvol quotas\n"). The image appears under its name only when
# complete: a failure (qemu-img, a full disk) leaves no file, removes the empty VMID
# directory and says what failed ("unable to create image: <qemu-img's message>\n").
# A size with a NUL (cut short at the C boundary) -> "invalid size '<size>'\n" (control
# characters shown as \xNN). qemu-img writes into a hidden temporary created exclusively
# under an unpredictable name of fixed length (so nothing planted redirects it and
# names of up to 255 bytes work); stale temporaries of killed allocations (owner gone,
# or older than 7 hours) in the VMID's directory are removed by the next allocation.
# Works with $SIG{CHLD} = 'IGNORE'.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1 } };
my $img = "$dir/images/100";

umask(0022);
is(PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024), '100/vm-100-disk-0.raw', 'raw, free name');
is(PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 2048), '100/vm-100-disk-1.qcow2', 'qcow2, next name');
is(PLUGIN->alloc_image('s', $scfg, 100, 'vmdk', undef, 4096), '100/vm-100-disk-2.vmdk', 'vmdk');
is(PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0), '100/subvol-100-disk-3.subvol', 'subvol');
is(PLUGIN->alloc_image('s', $scfg, 100, 'raw', 'my disk.raw' =~ s/ /-/r, 1), '100/my-disk.raw', 'explicit free-form name');
for my $case (['vm-100-disk-0.raw', 'raw', 1024 * 1024], ['vm-100-disk-1.qcow2', 'qcow2', 2048 * 1024], ['vm-100-disk-2.vmdk', 'vmdk', 4096 * 1024]) {
    my ($name, $format, $size) = @$case;
    my $info = qemu_img_info("$img/$name");
    is_deeply([@$info{qw(format virtual-size)}], [$format, $size], "$name: qemu-img sees $format of $size bytes");
}
ok(-d "$img/subvol-100-disk-3.subvol", 'subvol is a directory');
is((stat("$img/subvol-100-disk-3.subvol"))[2] & 07777, 0755, 'subvol mode 0755');
{
    local $@;
    my $old = umask(0077);
    PLUGIN->alloc_image('s', $scfg, 100, 'subvol', 'subvol-100-disk-9.subvol', 0);
    umask($old);
    is((stat("$img/subvol-100-disk-9.subvol"))[2] & 07777, 0755, 'subvol mode 0755 whatever the umask');
}
is((stat("$img/vm-100-disk-0.raw"))[2] & 07777, 0644, 'images are 0644 under umask 022, as qemu-img creates them');
{
    my $old = umask(0027);
    PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', 'vm-100-disk-8.qcow2', 1024);
    umask($old);
    is((stat("$img/vm-100-disk-8.qcow2"))[2] & 07777, 0640, '... and 0640 under umask 027, as with dir');
}

is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'raw', 'vm-100-disk-0.raw', 1) }, "disk image '$img/vm-100-disk-0.raw' already exists\n", 'existing');
symlink('/nonexistent', "$img/vm-100-disk-7.raw");
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'raw', 'vm-100-disk-7.raw', 1) }, "disk image '$img/vm-100-disk-7.raw' already exists\n",
    'a dangling symlink is not written through');
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', 'vm-100-disk-5.raw', 1) },
    "illegal name 'vm-100-disk-5.raw' - wrong extension for format ('raw != 'qcow2')\n", 'wrong extension');
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'raw', '../../x.raw', 1) }, "unable to parse volume filename '../../x.raw'\n", 'no path in a name');
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'raw', 'snap-a-b.qcow2', 1) },
    host_is_pve8() ? "illegal name 'snap-a-b.qcow2' - wrong extension for format ('qcow2 != 'raw')\n"
        : "'snap-a-b.qcow2' is a snapshot filename, not a volume!\n", 'snapshot name (on PVE 8 a name as any other)');
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 1) }, "storage does not support subvol quotas\n", 'subvol with a size');
is(dies { PLUGIN->alloc_image('s', $scfg, '1/../2', 'raw', undef, 1) }, "VMID '1/../2' contains illegal characters\n", 'VMID must be digits');
is(dies { PLUGIN->alloc_image('s', { %$scfg, preallocation => 'metadata' }, 100, 'raw', 'vm-100-disk-8.raw', 1) }, '',
    'raw with metadata preallocation: treated as off');

# Preallocation: what each mode leaves on disk.
my $mib = 1024 * 1024;
my %allocated;
for my $case (['raw', 'off'], ['raw', 'falloc'], ['raw', 'full'], ['qcow2', 'off'], ['qcow2', 'metadata'], ['qcow2', 'falloc'], ['qcow2', 'full']) {
    my ($format, $mode) = @$case;
    my $volname = PLUGIN->alloc_image('s', { %$scfg, preallocation => $mode }, 300, $format, undef, 8192);
    my ($name) = $volname =~ m{/(.*)};
    $allocated{"$format/$mode"} = (stat("$dir/images/300/$name"))[12] * 512;
}
ok($allocated{'raw/off'} < $mib, 'raw off: sparse');
ok($allocated{'raw/falloc'} >= 8 * $mib && $allocated{'raw/full'} >= 8 * $mib, 'raw falloc and full: allocated');
ok($allocated{'qcow2/off'} < $allocated{'qcow2/metadata'} && $allocated{'qcow2/metadata'} < 8 * $mib, 'qcow2 metadata: more than off, less than the size');
ok($allocated{'qcow2/falloc'} >= 8 * $mib && $allocated{'qcow2/full'} >= 8 * $mib, 'qcow2 falloc and full: allocated');
my $default = PLUGIN->alloc_image('s', $scfg, 300, 'qcow2', undef, 8192);
is((stat("$dir/images/$default"))[12] * 512, $allocated{'qcow2/metadata'}, 'qcow2 default: metadata');
is(dies { PLUGIN->alloc_image('s', { %$scfg, preallocation => 'metadata' }, 300, 'qcow2', 'x.qcow2', 1); 1 }, '', 'qcow2 metadata');
is(dies { PLUGIN->alloc_image('s', { %$scfg, preallocation => 'bogus' }, 300, 'raw', undef, 1) },
    "preallocation mode 'bogus' not supported by format 'raw'\n", 'unsupported mode');
is(dies { PLUGIN->alloc_image('s', { %$scfg, preallocation => 'full' }, 300, 'vmdk', undef, 1024) }, '', 'vmdk: no preallocation argument');

# qemu-img refusing: no file, no empty VMID directory, qemu-img's message.
my $err = dies { PLUGIN->alloc_image('s', $scfg, 400, 'qcow2', undef, 'lots') };
like($err, qr/^unable to create image: qemu-img: .*\n\z/, 'qemu-img failure: its message');
ok(!-e "$dir/images/400", 'no file, and the new VMID directory is gone');

# A full disk: a small tmpfs.
SKIP: {
    skip 'needs root to mount a tmpfs', 5 if $> != 0;
    my $small = storage_dir();
    local $ENV{PATH} = '/usr/bin:/bin';
    system('/bin/mount', '-t', 'tmpfs', '-o', 'size=2M', 'tmpfs', $small) == 0 or skip 'mount failed', 5;
    my $tscfg = { type => 'swift', path => $small, preallocation => 'full' };
    my $full = dies { PLUGIN->alloc_image('t', $tscfg, 100, 'raw', undef, 8192) };
    like($full, qr/^unable to create image: .*(No space left on device|Could not).*\n\z/, "full disk: says what failed ($full)" =~ s/\n//r);
    is_deeply(files_below($small), ['images'], 'full disk: no partial file, and the VMID directory is removed (as dir)');
    mkdir("$small/images");
    mkdir("$small/images/100");
    is(dies { PLUGIN->alloc_image('t', $tscfg, 100, 'qcow2', undef, 8192) } =~ /^unable to create image: /, 1, 'qcow2 full preallocation too');
    is_deeply(files_below($small), ['images'], '... nothing left either');
    is(PLUGIN->alloc_image('t', { %$tscfg, preallocation => 'off' }, 100, 'raw', undef, 8192), '100/vm-100-disk-0.raw', 'sparse raw fits');
    system('/bin/umount', $small);
}

is(PLUGIN->alloc_image('s', $scfg, 500, 'raw', '', 1), '500/vm-500-disk-0.raw', "name '': a free name (Perl's truth, as dir)");
is(PLUGIN->alloc_image('s', $scfg, 500, 'raw', '0', 1), '500/vm-500-disk-1.raw', "name '0': a free name too");

# Issue 10, item 7: a NUL in the size is an error, not a silently smaller disk.
is(dies { PLUGIN->alloc_image('s', $scfg, 600, 'raw', 'vm-600-disk-0.raw', "1024\0") }, "invalid size '1024\\x00'\n", 'a size with a NUL');
ok(!-e "$dir/images/600/vm-600-disk-0.raw", '... allocates nothing');

# Issue 10, item 7: names of up to 255 bytes (the file system's limit) are allocated.
for my $length (246, 255) {
    my $name = ('n' x ($length - 6)) . '.qcow2';
    is(eval { PLUGIN->alloc_image('s', $scfg, 600, 'qcow2', $name, 1024) } // $@, "600/$name", "a name of $length bytes");
    is(-f "$dir/images/600/$name" ? qemu_img_info("$dir/images/600/$name")->{'virtual-size'} : undef, 1024 * 1024, '... a complete image');
}

# Issue 10, item 3: a symlink planted at the temporary's name does not redirect qemu-img.
my $outside = storage_dir() . '/victim';
make_file($outside, "precious\n");
mkdir("$dir/images/700");
for my $name (map { "vm-700-disk-$_.raw" } 0 .. 3) {
    symlink($outside, "$dir/images/700/.tmp.$name.$$") or die;
}
is(eval { PLUGIN->alloc_image('s', $scfg, 700, 'raw', undef, 1024) } // $@, '700/vm-700-disk-0.raw', 'allocation beside planted symlinks');
is(do { open(my $v, '<', $outside) or die; local $/; <$v> }, "precious\n", '... the file they point to is untouched');
ok(!-l "$dir/images/700/vm-700-disk-0.raw" && -f _ && -s _ == 1024 * 1024, '... the image is a regular file of its size');

# Issue 10, item 3: stale temporaries of killed allocations are reclaimed.
my $boot = do { open(my $b, '<', '/proc/sys/kernel/random/boot_id') or die; local $/; <$b> };
$boot =~ s/-//g;
$boot = untaint(substr($boot, 0, 8));
my $start = untaint(do { open(my $s, '<', "/proc/$$/stat") or die; local $/; my $t = <$s>; $t =~ s/^.*\) //s; (split(/ /, $t))[19] });
my $dead = fork() // die;
POSIX::_exit(0) if !$dead;
waitpid($dead, 0);
my $v = "$dir/images/800";
mkdir($v);
my %planted = (
    "dead owner" => [".tmp.$boot.$dead.12345.0123456789abcdef", 0, 0],
    "pid reused" => [".tmp.$boot.$$.1.0123456789abcdef", 0, 0],
    "live owner" => [".tmp.$boot.$$.$start.fedcba9876543210", 0, 1],
    "other node, fresh" => [".tmp.00000000.$dead.12345.0123456789abcdef", 0, 1],
    "other node, 8 hours old" => [".tmp.00000000.$dead.12345.0000000000000000", 8 * 3600, 0],
    "older scheme, 8 hours old" => [".tmp.vm-800-disk-5.raw.$dead", 8 * 3600, 0],
    "older scheme, fresh" => [".tmp.vm-800-disk-6.raw.$dead", 0, 1],
    "someone's hidden file" => ['.tmp.notes', 8 * 3600, 1],
);
for my $case (values %planted) {
    my ($name, $age) = @$case;
    make_file("$v/$name", 'x' x 4096);
    utime(time - $age, time - $age, "$v/$name") if $age;
}
mkdir("$v/.tmp.$boot.$dead.12345.aaaaaaaaaaaaaaaa");
symlink($outside, "$v/.tmp.$boot.$dead.12345.bbbbbbbbbbbbbbbb");
is(eval { PLUGIN->alloc_image('s', $scfg, 800, 'raw', undef, 1) } // $@, '800/vm-800-disk-0.raw', 'allocation with stale temporaries around');
for my $label (sort keys %planted) {
    my ($name, undef, $kept) = $planted{$label}->@*;
    is(-e "$v/$name" ? 1 : 0, $kept, "$label: " . ($kept ? 'kept' : 'reclaimed'));
}
ok(-d "$v/.tmp.$boot.$dead.12345.aaaaaaaaaaaaaaaa", 'a directory is never reclaimed');
ok(!-l "$v/.tmp.$boot.$dead.12345.bbbbbbbbbbbbbbbb" && -f $outside, 'a stale symlink is removed, not what it points to');

# Issue 10, item 7: with SIGCHLD ignored, qemu-img's exit status is still known.
{
    local $SIG{CHLD} = 'IGNORE';
    is(eval { PLUGIN->alloc_image('s', $scfg, 900, 'raw', undef, 1024) } // $@, '900/vm-900-disk-0.raw', "\$SIG{CHLD} = 'IGNORE': allocates");
    like(dies { PLUGIN->alloc_image('s', $scfg, 900, 'qcow2', undef, 'lots') }, qr/^unable to create image: qemu-img: /,
        "... and a failure of qemu-img is still one");
}

is_deeply([grep { /\.tmp\./ && !m{^images/(700|800)/} } @{ files_below($dir) }], [], 'no temporary file is left anywhere');

done_testing();
