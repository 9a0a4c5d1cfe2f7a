#!/usr/bin/perl -T
# Contract: volume_qemu_snapshot_method($storeid, $scfg, $volname) (note the argument
# order) tells qemu-server how to snapshot a running VM's disk: 'qemu' for qcow2 (QEMU
# takes an internal snapshot), 'mixed' for qcow2 with snapshot-as-volume-chain (the
# storage renames, QEMU adds the overlay), 'storage' for everything else (raw reflink
# snapshots are taken by the storage). Only the volume name is read.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $scfg = { type => 'swift', path => storage_dir() };
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
is(PLUGIN->volume_qemu_snapshot_method('s', $scfg, '100/vm-100-disk-0.qcow2'), 'qemu', 'qcow2: qemu');
is(PLUGIN->volume_qemu_snapshot_method('s', $chain, '100/vm-100-disk-0.qcow2'), 'mixed', 'qcow2 in a chain: mixed');
is(PLUGIN->volume_qemu_snapshot_method('s', $chain, '100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2'), 'mixed', 'a linked clone');
for my $volume (qw(100/vm-100-disk-0.raw 100/vm-100-disk-0.vmdk 100/subvol-100-disk-0.subvol iso/a.iso)) {
    is(PLUGIN->volume_qemu_snapshot_method('s', $_, $volume), 'storage', "$volume: storage") for ($scfg, $chain);
}
is(dies { PLUGIN->volume_qemu_snapshot_method('s', $scfg, 'bad') }, "unable to parse directory volume name 'bad'\n", 'a bad name');

done_testing();
