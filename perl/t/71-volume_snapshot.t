#!/usr/bin/perl -T
# Contract: volume_snapshot($scfg, $storeid, $volname, $snap) takes snapshot $snap of a
# volume and returns undef.
# - qcow2: an internal snapshot (qemu-img snapshot -c), unless the storage has
#   snapshot-as-volume-chain: then it prints "rename <volume> to <snapshot file>", the
#   volume file becomes snap-<snap>-<name> and a new qcow2 overlay backed by that name
#   (relative, same directory) takes the volume's name; the volume's name is never
#   missing on the way. An existing snapshot file -> "target snapshot '<snap>' already
#   exists\n" (a link left by a killed snapshot of this very volume is reused).
# - raw images where the file system shares extents (XFS, btrfs): a reflink copy
#   <name>@<snap> next to the volume (see 79-reflink-snapshots.t); elsewhere, and for
#   vmdk, subvol and non-image content: "can't snapshot this image format\n".
# - $snap is any name PVE's callers pass: the API's names and PVE's own
#   (__replicate_<job>_<time>__, __migration__, vzdump); a name that could break the
#   layout (empty, over 128 bytes, '/', '..', control characters) is refused before a file
#   is touched; 'current' names a volume's current state and is reserved.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
my $vmdk = PLUGIN->alloc_image('s', $scfg, 100, 'vmdk', undef, 1024);
my $subvol = PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0);
my $images = "$dir/images/100";

# Internal qcow2 snapshots.
is(PLUGIN->volume_snapshot($scfg, 's', $qcow, 'first'), undef, 'returns undef');
PLUGIN->volume_snapshot($scfg, 's', $qcow, 'Second_2-b');
is_deeply(snapshot_names("$dir/images/$qcow"), ['Second_2-b', 'first'], 'qemu-img lists both internal snapshots');
is_deeply(files_below($images), [qw(subvol-100-disk-3.subvol vm-100-disk-0.qcow2 vm-100-disk-1.raw vm-100-disk-2.vmdk)],
    'no other file');

# Formats without snapshots on this file system (no reflinks on the test directory's).
for my $volume ($raw, $vmdk, $subvol, 'iso/a.iso', 'backup/vzdump-qemu-100-2020_01_01-00_00_00.vma') {
    is(dies { PLUGIN->volume_snapshot($scfg, 's', $volume, 'snap') }, "can't snapshot this image format\n", "$volume refused");
}

# Hostile and invalid names: a clear error, nothing created.
my $before = files_below($dir);
my $rule = "it must be 1 to 128 bytes long, without '/', '..' or control characters";
for my $case (['../x', '../x'], ["a\nb", 'a\x0ab'], ['a/b', 'a/b'], ['a..b', 'a..b'], ['', ''], ["a\x7fb", 'a\x7fb'],
              ['x' x 129, ('x' x 60) . '...'], ['y' x 5000, ('y' x 60) . '...'], ["a\0b", 'a\x00b']) {
    my ($name, $shown) = @$case;
    for my $config ($scfg, $chain) {
        is(dies { PLUGIN->volume_snapshot($config, 's', $qcow, $name) }, "invalid snapshot name '$shown' - $rule\n",
            "name '$shown' refused" . ($config->{'snapshot-as-volume-chain'} ? ' (chain)' : ''));
    }
}
# The names PVE's own code passes without the API's check, and others dir takes too.
my @pve_names = ('__replicate_100-0_1700000000__', '__migration__', 'vzdump', '1abc', 'x', 'with space', 'x' x 128);
for my $config ($scfg, $chain) {
    my $vol = PLUGIN->alloc_image('s', $config, 102, 'qcow2', undef, 1024);
    for my $name (@pve_names) {
        ok(!defined(PLUGIN->volume_snapshot($config, 's', $vol, $name)),
            "snapshot '$name' taken" . ($config->{'snapshot-as-volume-chain'} ? ' (chain)' : ''));
    }
    my $info = PLUGIN->volume_snapshot_info($config, 's', $vol);
    is_deeply([sort grep { $_ ne 'current' } keys %$info], [sort @pve_names], '... and listed');
    PLUGIN->volume_snapshot_delete($config, 's', $vol, $_, 0) for reverse @pve_names;
    is_deeply([grep { $_ ne 'current' } keys %{ PLUGIN->volume_snapshot_info($config, 's', $vol) }], [], '... and deleted');
    PLUGIN->free_image('s', $config, $vol, 0, 'qcow2');
}
is(dies { PLUGIN->volume_snapshot($scfg, 's', $qcow, 'current') },
    "snapshot name 'current' is reserved for the current state of a volume\n", 'current is reserved');
is(dies { PLUGIN->volume_snapshot($scfg, 's', $qcow, undef) }, "missing snapname\n", 'no name');
is_deeply(files_below($dir), $before, 'refused names created no file');
is_deeply(snapshot_names("$dir/images/$qcow"), ['Second_2-b', 'first'], 'and no snapshot');

# Volume chains.
my $cq = PLUGIN->alloc_image('s', $chain, 101, 'qcow2', undef, 1024);
my $path = "$dir/images/$cq";
qemu_img('snapshot', '-l', $path);
my ($out) = output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'snap1') };
like($out, qr{^rename \Q$path\E to \Q$dir\E/images/101/snap-snap1-vm-101-disk-0\.qcow2\nFormatting '\Q$path\E', fmt=qcow2 [^\n]*backing_file=snap-snap1-vm-101-disk-0\.qcow2[^\n]*\n$},
    "prints the rename, then qemu-img's output naming the volume, as dir");
is_deeply(files_below("$dir/images/101"), [qw(snap-snap1-vm-101-disk-0.qcow2 vm-101-disk-0.qcow2)], 'snapshot file and overlay');
is(qemu_img_info($path)->{'backing-filename'}, 'snap-snap1-vm-101-disk-0.qcow2', 'the overlay is backed by the snapshot (relative)');
is(qemu_img_info($path)->{'backing-filename-format'}, 'qcow2', 'backing format recorded');
is(qemu_img_info($path)->{'virtual-size'}, 1024 * 1024, 'same size');
is_deeply(snapshot_names("$dir/images/101/snap-snap1-vm-101-disk-0.qcow2"), [], 'no internal snapshot was made');
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'snap2') };
is(qemu_img_info("$dir/images/101/snap-snap2-vm-101-disk-0.qcow2")->{'backing-filename'}, 'snap-snap1-vm-101-disk-0.qcow2',
    'the chain grows: snap2 is backed by snap1');
my $chained = files_below("$dir/images/101");
is(dies { output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'snap1') } }, "target snapshot 'snap1' already exists\n",
    'an existing snapshot name');
is_deeply(files_below("$dir/images/101"), $chained, 'nothing changed');

# A snapshot killed after the link and before the overlay left a second name of the volume file.
my $cq2 = PLUGIN->alloc_image('s', $chain, 102, 'qcow2', undef, 1024);
my $p2 = "$dir/images/$cq2";
link($p2, "$dir/images/102/snap-again-vm-102-disk-0.qcow2") or die;
output_of { PLUGIN->volume_snapshot($chain, 's', $cq2, 'again') };
is(qemu_img_info($p2)->{'backing-filename'}, 'snap-again-vm-102-disk-0.qcow2', 'a leftover link of the volume is reused');
is((stat($p2))[3], 1, 'the overlay is a file of its own');

# The chain refuses other formats too.
my $craw = PLUGIN->alloc_image('s', $chain, 103, 'raw', undef, 1024);
is(dies { PLUGIN->volume_snapshot($chain, 's', $craw, 'snap') }, "can't snapshot this image format\n", 'chain: raw refused here');

# A failure to create the overlay (qemu-img refuses the preallocation) leaves the volume as it was.
my $cq3 = PLUGIN->alloc_image('s', $chain, 104, 'qcow2', undef, 1024);
my $sum = checksum("$dir/images/$cq3");
my ($warnings) = warnings_of {
    like(dies { output_of { PLUGIN->volume_snapshot({ %$chain, preallocation => 'bogus' }, 's', $cq3, 'snap') } },
        qr/^can't allocate new volume 104\/vm-104-disk-0.qcow2 with snap backing image\n$/, 'overlay failure');
};
like($warnings->[0], qr/^preallocation mode 'bogus' not supported by format 'qcow2'/, 'the reason is a warning, as dir');
is_deeply(files_below("$dir/images/104"), ['vm-104-disk-0.qcow2'], 'no snapshot file, no temporary');
is(checksum("$dir/images/$cq3"), $sum, 'the volume is untouched');

# qemu-img's messages name the volume, never the hidden temporary it wrote.
my $cq4 = PLUGIN->alloc_image('s', $chain, 105, 'qcow2', undef, 1024);
output_of { PLUGIN->volume_snapshot($chain, 's', $cq4, 'first') };
rename("$dir/images/105/snap-first-vm-105-disk-0.qcow2", "$dir/images/105/moved") or die;
($warnings) = warnings_of {
    is(dies { output_of { PLUGIN->volume_snapshot($chain, 's', $cq4, 'second') } },
        "can't allocate new volume $cq4 with second backing image\n", 'a broken chain: the overlay cannot be made');
};
ok(scalar(@$warnings) >= 1, 'with the reason as warnings');
is_deeply([grep { /\.tmp\./ } @$warnings], [], 'no warning names the temporary') or diag(explain($warnings));
like(join('', @$warnings), qr/\Q$dir\E\/images\/105\/vm-105-disk-0\.qcow2/, 'they name the volume');
is_deeply(files_below("$dir/images/105"), ['moved', 'vm-105-disk-0.qcow2'], 'the volume is left as it was');

done_testing();
