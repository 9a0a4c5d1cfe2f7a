#!/usr/bin/perl -T
# Contract: rename_snapshot($scfg, $storeid, $volname, $source_snap, $target_snap)
# renames the files of a snapshot, printing "rename <source> to <target>".
# - snapshot-as-volume-chain: snap-<source>-<name> becomes snap-<target>-<name>; `current`
#   on either side is the volume file itself (qemu-server renames the current state
#   while a running VM takes a snapshot). An existing target -> "target snapshot
#   '<target>' already exists\n" (nothing renamed); a missing source -> "rename '<a>' to
#   '<b>' failed - <errno>\n".
# - Internal qcow2 snapshots live in the volume file: source and target are both that
#   file, so the target always exists, as in dir.
# - Non-qcow2 volumes: "can't snapshot this image format\n" (raw with reflinks: see
#   79-reflink-snapshots.t). Target names must be valid snapshot names.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
PLUGIN->volume_snapshot($scfg, 's', $qcow, 's1');
my $qpath = "$dir/images/$qcow";
my $out;
is(dies { ($out) = output_of { PLUGIN->rename_snapshot($scfg, 's', $qcow, 's1', 's2') } },
    "target snapshot 's2' already exists\n", 'internal: the target is the volume file, which exists');
is_deeply(snapshot_names($qpath), ['s1'], 'nothing renamed');
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
is(dies { PLUGIN->rename_snapshot($scfg, 's', $raw, 's1', 's2') }, "can't snapshot this image format\n", 'raw without reflinks');

my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 101, 'qcow2', undef, 1024);
my $d = "$dir/images/101";
# Files only, as in dir: the backing reference of the layer above is the caller's (qemu-server's).
for my $snap (qw(old second)) { output_of { PLUGIN->volume_snapshot($chain, 's', $cq, $snap) } }
($out) = output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'old', 'new') };
is($out, "rename $d/snap-old-vm-101-disk-0.qcow2 to $d/snap-new-vm-101-disk-0.qcow2\n", 'prints the rename');
is_deeply(files_below($d), [qw(snap-new-vm-101-disk-0.qcow2 snap-second-vm-101-disk-0.qcow2 vm-101-disk-0.qcow2)],
    'the snapshot file is renamed');

# current -> snapshot (what qemu-server does while a running VM takes a snapshot), and back.
my $inode = (stat("$d/vm-101-disk-0.qcow2"))[1];
output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'current', 'live') };
is((stat("$d/snap-live-vm-101-disk-0.qcow2"))[1], $inode, 'current became snapshot live');
ok(!-e "$d/vm-101-disk-0.qcow2", 'the volume name is free for the new overlay');
output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'live', 'current') };
is((stat("$d/vm-101-disk-0.qcow2"))[1], $inode, 'and back');

my $before = files_below($d);
is(dies { output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'new', 'current') } },
    "target snapshot 'current' already exists\n", 'onto the existing volume');
is(dies { output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'new', 'second') } },
    "target snapshot 'second' already exists\n", 'onto an existing snapshot');
is(dies { output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'nope', 'other') } },
    "rename '$d/snap-nope-vm-101-disk-0.qcow2' to '$d/snap-other-vm-101-disk-0.qcow2' failed - No such file or directory\n",
    'a missing source');
like(dies { output_of { PLUGIN->rename_snapshot($chain, 's', $cq, 'new', '../../escape') } },
    qr/^invalid snapshot name '\.\.\/\.\.\/escape'/, 'a hostile target');
is_deeply(files_below($dir . '/images'), [ '100', '100/vm-100-disk-0.qcow2', '100/vm-100-disk-1.raw', '101',
    map { "101/$_" } qw(snap-new-vm-101-disk-0.qcow2 snap-second-vm-101-disk-0.qcow2 vm-101-disk-0.qcow2) ],
    'nothing else was renamed or created');

done_testing();
