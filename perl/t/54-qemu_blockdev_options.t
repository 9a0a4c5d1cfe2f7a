#!/usr/bin/perl -T
# Contract: qemu_blockdev_options($scfg, $storeid, $volname, $machine_version, $options)
# (API 12) returns QEMU's protocol node for the volume: {driver => 'file', filename =>
# <path>} for a file, 'host_device' for a block or character device; the keys PVE's
# allow-list accepts, values typed as strings. A snapshot of a qcow2 volume (not in
# chain mode) cannot be attached alone ("cannot attach only the snapshot of a 'qcow2'
# image\n"); a missing file -> "stat for '<path>' failed - <errno>\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use B ();
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 64);
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 64);
my $opts = PLUGIN->qemu_blockdev_options($scfg, 's', $qcow, '10.0+pve1', {});
is_deeply($opts, { driver => 'file', filename => "$dir/images/$qcow" }, 'qcow2: file');
ok(!(B::svref_2object(\$opts->{filename})->FLAGS & (B::SVf_IOK | B::SVf_NOK)), 'filename is a string');
is_deeply(PLUGIN->qemu_blockdev_options($scfg, 's', $raw, '9.2+pve0', { hints => { 'efi-disk' => 1 } }),
    { driver => 'file', filename => "$dir/images/$raw" }, 'raw, with hints');
symlink('/dev/null', "$dir/images/100/vm-100-disk-5.raw") or die;
is_deeply(PLUGIN->qemu_blockdev_options($scfg, 's', '100/vm-100-disk-5.raw', '10.0+pve1', {}),
    { driver => 'host_device', filename => "$dir/images/100/vm-100-disk-5.raw" }, 'a device: host_device');
is(dies { PLUGIN->qemu_blockdev_options($scfg, 's', $qcow, '10.0+pve1', { 'snapshot-name' => 's1' }) },
    "cannot attach only the snapshot of a 'qcow2' image\n", 'qcow2 snapshot');
is(dies { PLUGIN->qemu_blockdev_options($scfg, 's', $raw, '10.0+pve1', { 'snapshot-name' => 's1' }) }, "can't snapshot this image format\n", 'raw snapshot');
is(dies { PLUGIN->qemu_blockdev_options($scfg, 's', '100/vm-100-disk-9.raw', '10.0+pve1', {}) },
    "stat for '$dir/images/100/vm-100-disk-9.raw' failed - No such file or directory\n", 'missing');
mkdir("$dir/images/100/snap-s1-vm-100-disk-0.qcow2") or die;
is_deeply(PLUGIN->qemu_blockdev_options({ %$scfg, 'snapshot-as-volume-chain' => 1 }, 's', $qcow, '10.0+pve1', { 'snapshot-name' => 's1' }),
    { driver => 'file', filename => "$dir/images/100/snap-s1-vm-100-disk-0.qcow2" }, 'chain mode: the snapshot file');

done_testing();
