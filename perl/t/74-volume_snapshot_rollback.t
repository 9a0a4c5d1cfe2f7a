#!/usr/bin/perl -T
# Contract: volume_snapshot_rollback($scfg, $storeid, $volname, $snap) returns the volume
# to the state of snapshot $snap and returns undef.
# - Internal qcow2 snapshots: qemu-img snapshot -a; a qemu-img failure dies
#   "command '<cmd>' failed: exit code <n>\n".
# - snapshot-as-volume-chain: the volume becomes a new, empty overlay backed by the
#   snapshot file. dir deletes the volume file and then creates the overlay; here the
#   overlay is written under a temporary name and replaces the volume in one rename, so
#   a failure ("can't allocate new volume <volname>: <reason>\n") leaves the volume as it was.
# - Raw reflink snapshots: see 79-reflink-snapshots.t. Other formats (and raw without
#   reflinks): "can't rollback snapshot this image format\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };

# The guest's view of an image: its first 64 KiB, as qemu-img converts it to raw.
sub guest_head {
    my ($path) = @_;
    my $raw = storage_dir() . "/head.raw";
    qemu_img('convert', '-O', 'raw', $path, $raw);
    open(my $fh, '<', $raw) or die;
    binmode($fh);
    read($fh, my $head, 65536);
    return $head;
}

# Puts $byte x 64 KiB at the start of the guest's disk (qemu-img convert -n into the image).
sub fill {
    my ($path, $byte) = @_;
    my $data = storage_dir() . "/data.raw";
    make_file($data, chr($byte) x (1024 * 1024));
    qemu_img('convert', '-n', '-f', 'raw', '-O', 'qcow2', $data, $path);
}

my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $qpath = "$dir/images/$qcow";
fill($qpath, 0x11);
PLUGIN->volume_snapshot($scfg, 's', $qcow, 'before');
fill($qpath, 0x22);
is(substr(guest_head($qpath), 0, 1), "\x22", 'data changed after the snapshot');
is(PLUGIN->volume_snapshot_rollback($scfg, 's', $qcow, 'before'), undef, 'internal rollback returns undef');
is(guest_head($qpath), "\x11" x 65536, 'internal: the data of the snapshot');
is_deeply(snapshot_names($qpath), ['before'], 'the snapshot is kept');
my ($warned) = warnings_of {
    like(dies { PLUGIN->volume_snapshot_rollback($scfg, 's', $qcow, 'nope') },
        qr/^command '\/usr\/bin\/qemu-img snapshot -a nope \Q$qpath\E' failed: exit code 1\n$/, 'unknown internal snapshot');
};
is_deeply($warned, ["qemu-img: Could not apply snapshot 'nope': Failed to load snapshot: No such file or directory\n"],
    "qemu-img's error output is a warning, as with run_command");

for my $format (qw(raw vmdk subvol)) {
    my $volume = PLUGIN->alloc_image('s', $scfg, 101, $format, undef, $format eq 'subvol' ? 0 : 1024);
    is(dies { PLUGIN->volume_snapshot_rollback($scfg, 's', $volume, 'before') },
        "can't rollback snapshot this image format\n", "$format refused");
}

# Volume chains.
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 102, 'qcow2', undef, 1024);
my $cp = "$dir/images/$cq";
fill($cp, 0x33);
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'one') };
fill($cp, 0x44);
my $inode = (stat($cp))[1];
is(PLUGIN->volume_snapshot_rollback($chain, 's', $cq, 'one'), undef, 'chain rollback returns undef');
is(guest_head($cp), "\x33" x 65536, 'chain: the data of the snapshot');
is(qemu_img_info($cp)->{'backing-filename'}, 'snap-one-vm-102-disk-0.qcow2', 'a new overlay on the snapshot');
isnt((stat($cp))[1], $inode, 'the overlay is a new file');
is_deeply(files_below("$dir/images/102"), ['snap-one-vm-102-disk-0.qcow2', 'vm-102-disk-0.qcow2'], 'no leftovers');

my $sum = checksum($cp);
is(dies { PLUGIN->volume_snapshot_rollback($chain, 's', $cq, 'gone') },
    "can't allocate new volume $cq: unable to create image: snapshot file '$dir/images/102/snap-gone-vm-102-disk-0.qcow2' does not exist\n",
    'a missing snapshot file');
is(dies { PLUGIN->volume_snapshot_rollback({ %$chain, preallocation => 'bogus' }, 's', $cq, 'one') },
    "can't allocate new volume $cq: preallocation mode 'bogus' not supported by format 'qcow2'\n", 'an overlay that cannot be made');
is(checksum($cp), $sum, 'after both failures the volume is as it was');
is_deeply(files_below("$dir/images/102"), ['snap-one-vm-102-disk-0.qcow2', 'vm-102-disk-0.qcow2'], 'and nothing was left');

done_testing();
