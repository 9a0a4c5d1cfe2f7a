#!/usr/bin/perl -T
# Contract: volume_resize($scfg, $storeid, $volname, $size, $running, $snapname) grows a
# raw or qcow2 image to $size bytes with qemu-img resize (storage preallocation on PVE 9,
# none on PVE 8, as each release's dir; 10 s
# timeout) and returns undef; other formats -> "can't resize this image format\n";
# $running -> returns 1 without touching the file (QEMU resizes it); $snapname (API 15)
# without snapshot-as-volume-chain -> "resizing a snapshot is not supported for <class>
# without 'snapshot-as-volume-chain'\n"; with it, the snapshot's file is resized. A qemu-img failure dies "command '<cmd>'
# failed: exit code <n>\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $vmdk = PLUGIN->alloc_image('s', $scfg, 100, 'vmdk', undef, 1024);
my $subvol = PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0);

is(PLUGIN->volume_resize($scfg, 's', $raw, 2 * 1024 * 1024, 0), undef, 'raw: undef');
is(qemu_img_info("$dir/images/$raw")->{'virtual-size'}, 2 * 1024 * 1024, 'raw grown');
PLUGIN->volume_resize($scfg, 's', $qcow, 5 * 1024 * 1024, 0, undef);
is(qemu_img_info("$dir/images/$qcow")->{'virtual-size'}, 5 * 1024 * 1024, 'qcow2 grown');
is(PLUGIN->volume_resize($scfg, 's', $qcow, 9 * 1024 * 1024, 1), 1, 'running: 1');
is(qemu_img_info("$dir/images/$qcow")->{'virtual-size'}, 5 * 1024 * 1024, 'running: file untouched');
PLUGIN->volume_resize({ %$scfg, preallocation => 'full' }, 's', $raw, 4 * 1024 * 1024, 0);
if (host_is_pve8()) {
    ok((stat("$dir/images/$raw"))[12] * 512 < 2 * 1024 * 1024, "PVE 8: resized without preallocation, as PVE 8's dir");
} else {
    ok((stat("$dir/images/$raw"))[12] * 512 >= 2 * 1024 * 1024, 'raw with full preallocation: the new part is allocated');
}

is(dies { PLUGIN->volume_resize($scfg, 's', $_, 4096, 0) }, "can't resize this image format\n", "$_ refused") for ($vmdk, $subvol, 'iso/a.iso');
is(dies { PLUGIN->volume_resize($scfg, 's', $qcow, 4096 * 4096, 0, 'snap1') },
    "resizing a snapshot is not supported for PVE::Storage::Custom::SwiftPlugin without 'snapshot-as-volume-chain'\n", 'snapshot');
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 101, 'qcow2', undef, 1024);
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'snap1') };
is(PLUGIN->volume_resize($chain, 's', $cq, 3 * 1024 * 1024, 0, 'snap1'), undef, 'chain: a snapshot');
is(qemu_img_info("$dir/images/101/snap-snap1-vm-101-disk-0.qcow2")->{'virtual-size'}, 3 * 1024 * 1024, 'chain: the snapshot file grew');
is(qemu_img_info("$dir/images/$cq")->{'virtual-size'}, 1024 * 1024, 'chain: the volume did not');
is(dies { PLUGIN->volume_resize($scfg, 's', $vmdk, 4096, 1) }, "can't resize this image format\n", 'format checked before running');
my $shrink = dies { PLUGIN->volume_resize($scfg, 's', $qcow, 1024 * 1024, 0) };
my $mode = host_is_pve8() ? '' : "'--preallocation=metadata' ";
like($shrink, qr/^command '\/usr\/bin\/qemu-img resize \Q$mode\E-f qcow2 \Q$dir\E\/images\/100\/vm-100-disk-1.qcow2 1048576' failed: exit code 1\n$/,
    'qemu-img refuses to shrink qcow2: the command and its exit code');
is(dies { PLUGIN->volume_resize($scfg, 's', $qcow, '1e9', 0) }, "invalid size '1e9'\n", 'size must be bytes');
is(dies { PLUGIN->volume_resize($scfg, 's', $qcow, [1], 0) }, "invalid size 'ARRAY'\n", 'a reference is shown as what it is');
is(dies { PLUGIN->volume_resize($scfg, 's', '100/vm-100-disk-9.raw', 4096, 0) } =~ /^command .* failed: exit code 1\n$/, 1, 'missing image');

done_testing();
