#!/usr/bin/perl -T
# Contract: volume_snapshot_delete($scfg, $storeid, $volname, $snap, $running) deletes
# snapshot $snap; vmdk, subvol, non-image content and raw without reflink snapshots die
# "can't delete snapshot for this image format\n".
# - Internal qcow2 snapshots: $running -> 1 at once (QEMU deleted it); else
#   qemu-img snapshot -d and undef.
# - snapshot-as-volume-chain, $running: QEMU has merged the layer; only its file is
#   removed ("can't delete snapshot <snap> of volume <volname>: unlink '<file>' failed -
#   <errno>\n"). Offline: the file must exist ("volume <file> is missing"). The oldest
#   snapshot is deleted by committing its child into it (qemu-img commit <child>) and
#   renaming it onto the child; any other by rebasing its child onto its parent
#   (qemu-img rebase -b snap-<parent>-<name> -F qcow2 -f qcow2 <child>) and removing it.
#   Progress is printed as dir prints it. The guest's data never changes.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };

# Makes the guest's disk 64 KiB of $byte at $offset, zeros elsewhere.
sub fill {
    my ($path, $byte, $offset) = @_;
    my $data = storage_dir() . "/data.raw";
    make_file($data, ("\0" x $offset) . chr($byte) x 65536);
    qemu_img('convert', '-n', '-f', 'raw', '-O', 'qcow2', $data, $path);
}

sub guest {
    my ($path) = @_;
    my $raw = storage_dir() . "/guest.raw";
    qemu_img('convert', '-O', 'raw', $path, $raw);
    return checksum($raw);
}

my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $qpath = "$dir/images/$qcow";
PLUGIN->volume_snapshot($scfg, 's', $qcow, $_) for qw(s1 s2);
is(PLUGIN->volume_snapshot_delete($scfg, 's', $qcow, 's1', 1), 1, 'internal, running: 1');
is_deeply(snapshot_names($qpath), ['s1', 's2'], 'and the image is not touched');
is(PLUGIN->volume_snapshot_delete($scfg, 's', $qcow, 's1', 0), undef, 'internal: undef');
is_deeply(snapshot_names($qpath), ['s2'], 'the snapshot is gone');
my ($warned) = warnings_of {
    like(dies { PLUGIN->volume_snapshot_delete($scfg, 's', $qcow, 'nope', 0) },
        qr/^command '\/usr\/bin\/qemu-img snapshot -d nope \Q$qpath\E' failed: exit code 1\n$/, 'unknown internal snapshot');
};
like($warned->[0], qr/^qemu-img: Could not delete snapshot 'nope'/, "qemu-img's reason as a warning");

for my $volume (PLUGIN->alloc_image('s', $scfg, 101, 'raw', undef, 1024), PLUGIN->alloc_image('s', $scfg, 101, 'vmdk', undef, 1024),
                PLUGIN->alloc_image('s', $scfg, 101, 'subvol', undef, 0), 'iso/a.iso') {
    is(dies { PLUGIN->volume_snapshot_delete($scfg, 's', $volume, 's1', 0) },
        "can't delete snapshot for this image format\n", "$volume refused");
}

# Volume chains: first, middle and last snapshot, offline.
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 102, 'qcow2', undef, 1024);
my $cp = "$dir/images/$cq";
my $d = "$dir/images/102";
for my $snap (qw(s1 s2 s3)) {
    fill($cp, ord(substr($snap, 1)), 65536 * substr($snap, 1));
    output_of { PLUGIN->volume_snapshot($chain, 's', $cq, $snap) };
}
fill($cp, 0x77, 0);
my $current = guest($cp);
my %snapshot_data = map { $_ => guest("$d/snap-$_-vm-102-disk-0.qcow2") } qw(s1 s2 s3);

my ($out) = output_of { PLUGIN->volume_snapshot_delete($chain, 's', $cq, 's2', 0) };
is($out, "$cq: deleting snapshot 's2' by rebasing 's3' on top of 's1'\n"
    . "running '/usr/bin/qemu-img rebase -b snap-s1-vm-102-disk-0.qcow2 -F qcow2 -f qcow2 $d/snap-s3-vm-102-disk-0.qcow2'\n",
    'middle: rebased, as dir prints it');
ok(!-e "$d/snap-s2-vm-102-disk-0.qcow2", 'middle: its file is gone');
is(qemu_img_info("$d/snap-s3-vm-102-disk-0.qcow2")->{'backing-filename'}, 'snap-s1-vm-102-disk-0.qcow2', 's3 now on s1');
is(guest("$d/snap-s3-vm-102-disk-0.qcow2"), $snapshot_data{s3}, 's3 still holds its data');
is(guest($cp), $current, 'the current data is unchanged');

($out) = output_of { PLUGIN->volume_snapshot_delete($chain, 's', $cq, 's1', 0) };
is($out, "$cq: deleting snapshot 's1' by commiting snapshot 's3'\n"
    . "running 'qemu-img commit $d/snap-s3-vm-102-disk-0.qcow2'\n"
    . "Image committed.\n"
    . "rename $d/snap-s1-vm-102-disk-0.qcow2 to $d/snap-s3-vm-102-disk-0.qcow2\n", 'first: committed and renamed (with qemu-img\'s output, as dir)');
is_deeply(files_below($d), ['snap-s3-vm-102-disk-0.qcow2', 'vm-102-disk-0.qcow2'], 'first: one snapshot file left');
ok(!defined(qemu_img_info("$d/snap-s3-vm-102-disk-0.qcow2")->{'backing-filename'}), 's3 is now the bottom');
is(guest("$d/snap-s3-vm-102-disk-0.qcow2"), $snapshot_data{s3}, 's3 still holds its data');
is(guest($cp), $current, 'the current data is unchanged');

($out) = output_of { PLUGIN->volume_snapshot_delete($chain, 's', $cq, 's3', 0) };
like($out, qr/^\Q$cq\E: deleting snapshot 's3' by commiting snapshot 'current'\n/, 'last: the current state is committed into it');
is_deeply(files_below($d), ['vm-102-disk-0.qcow2'], 'no snapshot file left');
ok(!defined(qemu_img_info($cp)->{'backing-filename'}), 'a plain image again');
is(guest($cp), $current, 'with the current data');
is_deeply(PLUGIN->volume_snapshot_info($chain, 's', $cq), { current => { order => 0, file => $cp, volname => $cq,
    volid => "s:$cq", 'virtual-size' => 1024 * 1024 } }, 'no snapshot in the info');

is(dies { output_of { PLUGIN->volume_snapshot_delete($chain, 's', $cq, 'gone', 0) } },
    "volume $d/snap-gone-vm-102-disk-0.qcow2 is missing\n", 'a missing snapshot');

# Running, the only snapshot: qemu-server commits the current state into it, deletes
# `current` (the volume file) and renames the snapshot to `current`.
{
    my $only = PLUGIN->alloc_image('s', $chain, 103, 'qcow2', undef, 1024);
    my $d3 = "$dir/images/103";
    output_of { PLUGIN->volume_snapshot($chain, 's', $only, 'only') };
    is(PLUGIN->volume_snapshot_delete($chain, 's', $only, 'current', 1), undef, 'running: delete current');
    is_deeply(files_below($d3), ['snap-only-vm-103-disk-0.qcow2'], '... the volume file (the merged overlay) is gone');
    output_of { PLUGIN->rename_snapshot($chain, 's', $only, 'only', 'current') };
    is_deeply(files_below($d3), ['vm-103-disk-0.qcow2'], '... and the snapshot is the volume again');
    is_deeply([keys PLUGIN->volume_snapshot_info($chain, 's', $only)->%*], ['current'], '... without snapshots');
}

# Running: QEMU merged the layer already; the file goes.
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'live') };
qemu_img('rebase', '-u', '-b', '', $cp);
is(PLUGIN->volume_snapshot_delete($chain, 's', $cq, 'live', 1), undef, 'running: undef');
is_deeply(files_below($d), ['vm-102-disk-0.qcow2'], 'running: the file is removed');
is(dies { PLUGIN->volume_snapshot_delete($chain, 's', $cq, 'live', 1) },
    "can't delete snapshot live of volume $cq: unlink '$d/snap-live-vm-102-disk-0.qcow2' failed - No such file or directory\n",
    'running: an unlink failure');

done_testing();
