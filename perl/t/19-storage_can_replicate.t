#!/usr/bin/perl -T
# Contract: storage_can_replicate($scfg, $storeid, $format) is 1 only for raw disks on a
# storage that makes reflinks (XFS, btrfs; the replication itself: 84-replication.t),
# 0 otherwise: every other format, a directory that does not exist or shares no extents
# (ext4), and a storage with snapshot-as-volume-chain. The XFS and ext4 cases need root
# for the loop mounts (skipped without).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

is(PLUGIN->storage_can_replicate({ path => '/p' }, 's', $_), 0, "$_: 0 where the directory does not exist")
    for qw(raw qcow2 vmdk subvol zfs);

SKIP: {
    skip('loop-mounting XFS and ext4 needs root', 7) if $> != 0;
    my $xfs = { type => 'swift', path => loop_mounted_dir('xfs') };
    is(PLUGIN->storage_can_replicate($xfs, 's', 'raw'), 1, 'XFS: raw 1');
    is(PLUGIN->storage_can_replicate($xfs, 's', $_), 0, "XFS: $_ 0") for qw(qcow2 vmdk subvol);
    is(PLUGIN->storage_can_replicate({ %$xfs, 'snapshot-as-volume-chain' => 1 }, 's', 'raw'), 0,
        'XFS with snapshot-as-volume-chain: raw 0');
    is(PLUGIN->storage_can_replicate($xfs, 's', undef), 0, 'no format: 0');
    my $ext4 = { type => 'swift', path => loop_mounted_dir('ext4') };
    is(PLUGIN->storage_can_replicate($ext4, 's', 'raw'), 0, 'ext4: raw 0');
}

done_testing();
