#!/usr/bin/perl -T
# Contract (shared storage, two nodes): the storage 's' with 'shared 1' on a real
# CephFS or MooseFS, mounted on node A and on node B (two clients, SharedFS.pm):
# what one node does, the other sees at once and exactly -- images allocated, listed,
# sized, resized, made templates, cloned from, renamed and freed; qcow2 snapshots
# taken, rolled back and deleted (internal and as volume chains); raw snapshots refused
# (neither shares extents: no FICLONE); ISO images, container templates, backups and
# snippets listed; backup notes, protection and pruning, never removing a protected
# backup. Both nodes report the same size and the same identity of the storage.
# (MooseFS's client caches a directory's entry for a second: a directory removed on
# one node may still be seen by the other's stat that long; see caches.t.)
# Needs root; as root a rig that cannot come up fails the test (see SharedFS.pm).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use SharedFS;

load_host();
$ENV{TZ} = 'UTC';

my ($A, $B) = shared_storage();
my ($pa, $pb) = ($A->{path}, $B->{path});
my $fs = shared_fs_name();
note("$fs, node A: $pa, node B: $pb");
# Why the immutable flag cannot be set there (FS_IOC_GETFLAGS fails).
my $no_flags = { CephFS => 'Invalid argument', MooseFS => 'Inappropriate ioctl for device' }->{$fs};

# --- activation, status, identity --------------------------------------------------------

is(dies { PLUGIN->activate_storage('s', $A, {}) }, '', 'A activates');
is(dies { PLUGIN->activate_storage('s', $B, {}) }, '', 'B activates');
is_deeply(files_below($pb), [qw(dump images import private snippets template template/cache template/iso)],
    "B sees the content directories A's activation made");
my @sa = PLUGIN->status('s', $A, {});
my @sb = PLUGIN->status('s', $B, {});
ok($sa[0] > 0 && $sa[3] == 1, "A's status: a nonzero total ($sa[0]), active");
# CephFS's statvfs is the pool's, which moves as the OSD allocates; MooseFS's the
# chunkserver's disk, which other programs write to: the same within 5%.
my $near = sub { my ($x, $y) = @_; $y > 0 && abs($x - $y) <= $y / 20 };
ok($near->($sb[0], $sa[0]), "B reports the same total ($sb[0] against $sa[0])");

# is_mountpoint (as a shared storage is usually configured): each node checks its own mount.
my ($ma) = $pa =~ m{^(.*)/[^/]+$};
my ($mb) = $pb =~ m{^(.*)/[^/]+$};
is(dies { PLUGIN->activate_storage('s', { %$A, is_mountpoint => $ma }, {}) }, '', "A: the $fs mount $ma is a mount point");
is(dies { PLUGIN->activate_storage('s', { %$B, is_mountpoint => $mb }, {}) }, '', "B: $mb too");
is(dies { PLUGIN->activate_storage('s', { %$B, is_mountpoint => 'yes' }, {}) },
    "unable to activate storage 's' - directory is expected to be a mount point but is not mounted: '$pb'\n",
    "B: the storage's own directory on the mount is none");
my @sm = PLUGIN->status('s', { %$B, is_mountpoint => $mb }, {});
ok($near->($sm[0], $sa[0]) && $sm[3] == 1, "B's status with is_mountpoint: the same total ($sm[0]), active");

# The identity: first uses on both nodes at once agree on one.
my @ids = map { my ($pid, $wait) = in_child(sub { PLUGIN->get_identity($_, 's') }); $wait } ($A, $B);
my @answers = map { $_->()->[1]->{ok} } @ids;
like($answers[0], qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'A: an identity');
is($answers[1], $answers[0], 'B, at the same time: the same identity');
is(PLUGIN->get_identity($B, 's'), $answers[0], '... and again on B');

# --- images --------------------------------------------------------------------------------

my $raw = PLUGIN->alloc_image('s', $A, 100, 'raw', undef, 1024);
my $qcow2 = PLUGIN->alloc_image('s', $A, 100, 'qcow2', undef, 2048);
is_deeply([$raw, $qcow2], ['100/vm-100-disk-0.raw', '100/vm-100-disk-1.qcow2'], 'A allocates raw and qcow2');
my sub listing {
    my ($scfg, $vmid) = @_;
    return [map { join(' ', $_->{volid}, $_->{format}, $_->{size}, $_->{parent} // '-') } PLUGIN->list_images('s', $scfg, $vmid)->@*];
}
is_deeply(listing($B, 100), ['s:100/vm-100-disk-0.raw raw 1048576 -', 's:100/vm-100-disk-1.qcow2 qcow2 2097152 -'],
    'B lists both, with their sizes');
is(-s "$pb/images/$raw", 1048576, "... the raw file on B's mount");
is(dies { PLUGIN->alloc_image('s', $B, 100, 'raw', 'vm-100-disk-0.raw', 1) },
    "disk image '$pb/images/100/vm-100-disk-0.raw' already exists\n", "B cannot allocate A's name");
is(PLUGIN->alloc_image('s', $B, 100, 'qcow2', undef, 1024), '100/vm-100-disk-2.qcow2', "B's next free name counts A's");
is_deeply([map { s/ .*//r } @{ listing($A, 100) }], [map { "s:100/vm-100-disk-$_" } qw(0.raw 1.qcow2 2.qcow2)], "A lists B's too");

# Resize on one node, sizes on the other.
PLUGIN->volume_resize($A, 's', $qcow2, 8 * 1024 * 1024, 0);
is(scalar(PLUGIN->volume_size_info($B, 's', $qcow2)), 8 * 1024 * 1024, 'qcow2 resized on A: its new size on B');
is(qemu_img_info("$pb/images/$qcow2")->{'virtual-size'}, 8 * 1024 * 1024, "... in the image header on B's mount");
PLUGIN->volume_resize($B, 's', $raw, 3 * 1024 * 1024, 0);
is(scalar(PLUGIN->volume_size_info($A, 's', $raw)), 3 * 1024 * 1024, 'raw resized on B: its new size on A');
is(-s "$pa/images/$raw", 3 * 1024 * 1024, "... the file on A's mount");
my @info = PLUGIN->volume_size_info($B, 's', '100/vm-100-disk-2.qcow2');
is_deeply([@info[0, 1, 3]], [1048576, 'qcow2', undef], 'volume_size_info in list context on B (size, format, parent)');

# Template on A, linked clone on B, listed on A.
my ($warnings, $base) = warnings_of { PLUGIN->create_base('s', $A, $qcow2) };
is($base, '100/base-100-disk-1.qcow2', 'A makes a template');
is_deeply($warnings, ["unable to set the immutable flag of '$pa/images/100/base-100-disk-1.qcow2' - $no_flags\n"],
    "... warning that $fs has no immutable flag, as dir");
ok(!-e "$pb/images/$qcow2" && -f "$pb/images/$base", 'B sees the renamed file, not the old one');
is((stat("$pb/images/$base"))[2] & 0777, 0444, '... read-only');
my ($clone_warnings, $clone) = warnings_of { PLUGIN->clone_image($B, 's', $base, 200) };
is($clone, '100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2', 'B clones it');
is_deeply($clone_warnings, ["clone $base: images, vm-200-disk-0.qcow2, 200 to vm-200-disk-0.qcow2 (base=../100/base-100-disk-1.qcow2)\n"],
    '... with the warning dir prints');
is_deeply(listing($A, 200), ['s:100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2 qcow2 8388608 ../100/base-100-disk-1.qcow2'],
    'A lists the clone with its parent');
is(qemu_img_info("$pa/images/200/vm-200-disk-0.qcow2")->{'backing-filename'}, '../100/base-100-disk-1.qcow2',
    "... backed by the base (relative: valid from every node's mount)");
is_deeply([map { s/ .*//r } @{ listing($B, 100) }], [map { "s:100/$_" } qw(base-100-disk-1.qcow2 vm-100-disk-0.raw vm-100-disk-2.qcow2)],
    'B lists the template');

# Rename on A, seen on B; B's rename never replaces.
is(PLUGIN->rename_volume($A, 's', $raw, 300, undef), 's:300/vm-300-disk-0.raw', 'A renames the raw disk to VM 300');
is_deeply(listing($B, 300), ['s:300/vm-300-disk-0.raw raw 3145728 -'], 'B lists it under 300');
is_deeply([grep { /disk-0\.raw/ } @{ listing($B, 100) }], [], '... and no more under 100');
ok(!-e "$pb/images/100/vm-100-disk-0.raw", "... its old file is gone on B's mount");
is(PLUGIN->alloc_image('s', $B, 300, 'raw', 'vm-300-disk-1.raw', 1024), '300/vm-300-disk-1.raw', 'B allocates another disk of 300');
is(dies { PLUGIN->rename_volume($A, 's', '300/vm-300-disk-0.raw', 300, 'vm-300-disk-1.raw') },
    "target volume 'vm-300-disk-1.raw' already exists\n", "A's rename onto B's volume is refused");
is(-s "$pa/images/300/vm-300-disk-1.raw", 1048576, "... B's volume is intact");

# Free on one node, gone on the other.
is(dies { PLUGIN->free_image('s', $A, $clone, 0, 'qcow2') }, '', 'A frees the clone');
is_deeply(listing($B, 200), [], 'B lists nothing for 200');
if ($fs eq 'MooseFS') {
    ok(wait_for_path(sub { !-e "$pb/images/200" }, 3), "... the VMID directory is gone on B's mount (once B's entry cache expired)");
} else {
    ok(!-e "$pb/images/200", "... the VMID directory is gone on B's mount");
}
my ($free_warnings) = warnings_of { is(dies { PLUGIN->free_image('s', $B, $base, 1, 'qcow2') }, '', 'B frees the template') };
is_deeply($free_warnings, ["unable to clear the immutable flag of '$pb/images/100/base-100-disk-1.qcow2' - $no_flags\n"],
    '... warning about the immutable flag');
is_deeply([map { s/ .*//r } @{ listing($A, undef) }],
    ['s:100/vm-100-disk-2.qcow2', 's:300/vm-300-disk-0.raw', 's:300/vm-300-disk-1.raw'], 'A lists what is left');
PLUGIN->free_image('s', $A, $_, 0, undef) for ('100/vm-100-disk-2.qcow2', '300/vm-300-disk-0.raw', '300/vm-300-disk-1.raw');
is_deeply(files_below("$pb/images"), [], 'everything freed on A is gone on B: no file, no directory, no temporary');

# --- snapshots -------------------------------------------------------------------------

# Raw: no FICLONE, so no reflink snapshots (as dir: raw has none at all).
my $rawsnap = PLUGIN->alloc_image('s', $A, 400, 'raw', undef, 1024);
is(dies { PLUGIN->volume_snapshot($A, 's', $rawsnap, 'first') }, "can't snapshot this image format\n", 'a raw snapshot is refused on A');
is(dies { PLUGIN->volume_snapshot($B, 's', $rawsnap, 'first') }, "can't snapshot this image format\n", '... and on B');
ok(!PLUGIN->volume_has_feature($B, 'snapshot', 's', $rawsnap, undef, 0), '... which does not offer the feature');
is_deeply(files_below("$pb/images"), ['400', '400/vm-400-disk-0.raw'], '... nothing left beside the volume (the reflink probe neither)');

# qcow2, internal: taken on A, seen, rolled back and deleted on B.
my $q = PLUGIN->alloc_image('s', $A, 400, 'qcow2', undef, 1024);
ok(PLUGIN->volume_has_feature($B, 'snapshot', 's', $q, undef, 0), 'qcow2 offers snapshots');
is(dies { PLUGIN->volume_snapshot($A, 's', $q, 'first') }, '', 'A snapshots the qcow2 disk');
is_deeply([sort keys PLUGIN->volume_snapshot_info($B, 's', $q)->%*], ['first'], 'B lists the snapshot');
is_deeply(snapshot_names("$pb/images/$q"), ['first'], "... in the image on B's mount");
ok(PLUGIN->volume_rollback_is_possible($B, 's', $q, 'first', []), 'B: a rollback is possible');
is(dies { PLUGIN->volume_snapshot_rollback($B, 's', $q, 'first') }, '', 'B rolls back');
is(dies { PLUGIN->volume_snapshot_delete($B, 's', $q, 'first', 0) }, '', 'B deletes it');
is_deeply(PLUGIN->volume_snapshot_info($A, 's', $q), {}, 'A sees it gone');
is_deeply(snapshot_names("$pa/images/$q"), [], "... in the image on A's mount");

# qcow2 as a volume chain (PVE 9): snapshot files on A, rolled back and deleted on B.
my ($CA, $CB) = map { { %$_, 'snapshot-as-volume-chain' => 1 } } ($A, $B);
for my $snap (qw(one two)) {
    is(dies { output_of { PLUGIN->volume_snapshot($CA, 's', $q, $snap) } }, '', "A: chain snapshot $snap");
}
is_deeply(files_below("$pb/images/400"), [qw(snap-one-vm-400-disk-1.qcow2 snap-two-vm-400-disk-1.qcow2 vm-400-disk-0.raw vm-400-disk-1.qcow2)],
    "B's mount: the chain's files");
is_deeply([sort keys PLUGIN->volume_snapshot_info($CB, 's', $q)->%*], [qw(current one two)], 'B lists the chain');
is(dies { PLUGIN->volume_snapshot_rollback($CB, 's', $q, 'two') }, '', 'B rolls back to the newest');
is(dies { output_of { PLUGIN->volume_snapshot_delete($CB, 's', $q, 'one', 0) } }, '', 'B deletes the oldest');
is_deeply([sort keys PLUGIN->volume_snapshot_info($CA, 's', $q)->%*], [qw(current two)], 'A sees what is left');
is(qemu_img_info("$pa/images/$q")->{'backing-filename'}, 'snap-two-vm-400-disk-1.qcow2', "... the volume's backing file on A's mount");
is(dies { PLUGIN->free_image('s', $CA, $q, 0, 'qcow2') }, '', 'A frees the chain');
is_deeply(files_below("$pb/images/400"), ['vm-400-disk-0.raw'], '... with its snapshot files, seen on B');
PLUGIN->free_image('s', $B, $rawsnap, 0, 'raw');

# --- content -------------------------------------------------------------------------------

# Files as an upload or vzdump on A leaves them.
make_file("$pa/template/iso/install.iso", 'iso' x 100);
make_file("$pa/template/cache/debian-12-standard_12.7-1_amd64.tar.zst", 'ct');
make_file("$pa/snippets/hook.pl", '#!/usr/bin/perl');
my @backups = map { "vzdump-qemu-500-2024_01_0${_}-00_00_00.vma.zst" } 1 .. 4;
make_file("$pa/dump/$backups[$_]", 'x' x ($_ + 1)) for 0 .. $#backups;
make_file("$pa/dump/vzdump-qemu-500-2024_01_01-00_00_00.log", 'log');
make_file("$pa/dump/vzdump-lxc-501-2024_02_01-00_00_00.tar.zst", 'ct');

my sub volumes {
    my ($scfg, $vmid, @types) = @_;
    return [map { join(' ', $_->{volid}, $_->{content}, $_->{format}, $_->{size}, exists($_->{vmid}) ? $_->{vmid} : '-') }
        PLUGIN->list_volumes('s', $scfg, $vmid, \@types)->@*];
}
is_deeply(volumes($B, undef, qw(iso vztmpl snippets)), [
    's:iso/install.iso iso iso 300 -',
    's:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst vztmpl tzst 2 -',
    's:snippets/hook.pl snippets snippet 15 -',
], 'B lists the ISO image, the container template and the snippet A wrote');
is_deeply(volumes($B, undef, 'backup'), [
    's:backup/vzdump-lxc-501-2024_02_01-00_00_00.tar.zst backup tar.zst 2 501',
    (map { "s:backup/$backups[$_] backup vma.zst " . ($_ + 1) . ' 500' } 0 .. 3),
], '... and the backups');
is_deeply(volumes($B, 501, 'backup'), ['s:backup/vzdump-lxc-501-2024_02_01-00_00_00.tar.zst backup tar.zst 2 501'], '... for one VMID');

# Notes: written on A, read on B; B's change read on A.
my $first = "backup/$backups[0]";
PLUGIN->update_volume_attribute($A, 's', $first, 'notes', "first line\nsecond \x{e9}");
is(PLUGIN->get_volume_attribute($B, 's', $first, 'notes'), "first line\nsecond \x{e9}", 'notes written on A, read on B');
is((grep { $_->{volid} eq "s:$first" } PLUGIN->list_volumes('s', $B, 500, ['backup'])->@*)[0]->{notes}, 'first line',
    "... B's listing shows their first line");
PLUGIN->update_volume_attribute($B, 's', $first, 'notes', 'changed on B');
is(PLUGIN->get_volume_attribute($A, 's', $first, 'notes'), 'changed on B', "B's change read on A");
ok(-f "$pa/dump/$backups[0].notes", '... kept beside the archive');

# Protection on A holds on B: no removal, no pruning.
PLUGIN->update_volume_attribute($A, 's', $first, 'protected', 1);
is(PLUGIN->get_volume_attribute($B, 's', $first, 'protected'), 1, 'protected on A, seen on B');
ok(-e "$pb/dump/$backups[0].protected", "... its marker on B's mount");
is(dies { PLUGIN->free_image('s', $B, $first, 0, undef) }, "cannot remove protected volume '$first' on 's'\n", 'B cannot remove it');

my @log;
my $dry = PLUGIN->prune_backups($B, 's', { 'keep-last' => 1 }, 500, undef, 1, sub { push @log, [@_] });
my %expected = ("s:$first" => 'protected', "s:backup/$backups[1]" => 'remove', "s:backup/$backups[2]" => 'remove', "s:backup/$backups[3]" => 'keep');
is_deeply({ map { $_->{volid} => $_->{mark} } @$dry }, \%expected, "B's dry run: keep the newest, the protected one stays");
is_deeply(\@log, [], '... logs nothing');
ok(-f "$pa/dump/$backups[1]" && -f "$pa/dump/$backups[2]", '... removes nothing (seen on A)');
my $pruned = PLUGIN->prune_backups($B, 's', { 'keep-last' => 1 }, 500, undef, 0, sub { push @log, [@_] });
is_deeply({ map { $_->{volid} => $_->{mark} } @$pruned }, \%expected, 'B prunes');
is_deeply(\@log, [map { ['info', "removing backup 's:backup/$backups[$_]'"] } 1, 2], '... logging each removal');
is_deeply([sort grep { /500/ } @{ files_below("$pa/dump") }],
    [sort("$backups[0]", "$backups[0].notes", "$backups[0].protected", $backups[3], 'vzdump-qemu-500-2024_01_01-00_00_00.log')],
    "A's mount: the protected backup (with notes and marker) and the newest are left");

# Pruning on A at once with a removal on B: the protected one survives both.
PLUGIN->update_volume_attribute($A, 's', $first, 'protected', 1);
is(dies { PLUGIN->free_image('s', $A, $first, 0, undef) }, "cannot remove protected volume '$first' on 's'\n", 'A cannot remove it either');
PLUGIN->update_volume_attribute($B, 's', $first, 'protected', 0);
is(PLUGIN->get_volume_attribute($A, 's', $first, 'protected'), 0, 'unprotected on B, seen on A');
ok(!-e "$pa/dump/$backups[0].protected", "... the marker is gone on A's mount");
is(dies { PLUGIN->free_image('s', $A, $first, 0, undef) }, '', 'now A removes it');
is_deeply(volumes($B, 500, 'backup'), ["s:backup/$backups[3] backup vma.zst 4 500"], 'B lists only the newest backup');
is_deeply(temporaries_below($pb), [], 'no temporary left anywhere');

done_testing();
