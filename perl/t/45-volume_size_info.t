#!/usr/bin/perl -T
# Contract: volume_size_info($scfg, $storeid, $volname, $timeout) inspects the volume's
# file as its format: in scalar context the virtual size in bytes, in list context
# (size, format, used, parent, ctime) -- used = allocated bytes, parent = backing file.
# subvol: (0, 'subvol', 0, undef, ctime). Non-image volumes are inspected as raw; import
# formats other than qemu's fall back to raw with a warning. A missing file warns
# "failed to stat '<path>'" and returns undef. A file that is not in its format dies with
# qemu-img's message. Values equal what qemu-img info reports.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1, iso => 1, import => 1 } };
PLUGIN->activate_storage('s', $scfg, {});
my $img = "$dir/images";

my %vol = map { $_ => PLUGIN->alloc_image('s', $scfg, 100, $_, undef, $_ eq 'subvol' ? 0 : 3 * 1024) } qw(raw qcow2 vmdk subvol);
my $base = PLUGIN->create_base('s', $scfg, $vol{qcow2});
my $clone = PLUGIN->clone_image($scfg, 's', $base, 200);
for my $volname ($vol{raw}, $vol{vmdk}, $base, $clone) {
    my ($path) = PLUGIN->path($scfg, $volname, 's');
    my $info = qemu_img_info($path);
    my @list = PLUGIN->volume_size_info($scfg, 's', $volname, 5);
    is_deeply(\@list, [@$info{qw(virtual-size format actual-size backing-filename)}, (stat($path))[10]], "$volname: list as qemu-img");
    is(scalar(PLUGIN->volume_size_info($scfg, 's', $volname, 5)), $info->{'virtual-size'}, "$volname: scalar");
}
is(scalar(PLUGIN->volume_size_info($scfg, 's', $clone)), 3 * 1024 * 1024, 'a linked clone has its base size');
is_deeply([PLUGIN->volume_size_info($scfg, 's', $vol{subvol})], [0, 'subvol', 0, undef, (stat("$img/$vol{subvol}"))[10]], 'subvol');

open(my $fh, '>', "$dir/template/iso/x.iso") or die;
print $fh 'x' x 1000;
close($fh);
is(scalar(PLUGIN->volume_size_info($scfg, 's', 'iso/x.iso')), 1024, 'iso: raw size in whole sectors, as qemu-img');
open($fh, '>', "$dir/import/a.ova") or die;
close($fh);
my ($warn, $size) = warnings_of { scalar(PLUGIN->volume_size_info($scfg, 's', 'import/a.ova')) };
is($size, 0, 'ova: raw');
is_deeply($warn, ["file_size_info: '$dir/import/a.ova': falling back to 'raw' from unknown format 'ova'\n"], 'ova: warning');

my ($missing, @none) = warnings_of { PLUGIN->volume_size_info($scfg, 's', '300/vm-300-disk-0.raw') };
is_deeply(\@none, [undef], 'missing: undef');
is_deeply($missing, ["failed to stat '$img/300/vm-300-disk-0.raw'\n"], 'missing: warning');
symlink("$img/nowhere", "$img/100/vm-100-disk-9.raw") or die;
($missing) = warnings_of { PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-9.raw') };
is_deeply($missing, ["failed to stat '$img/100/vm-100-disk-9.raw' - dangling symlink?\n"], 'dangling symlink');

open($fh, '>', "$img/100/vm-100-disk-8.qcow2") or die;
close($fh);
is(dies { my @r = PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-8.qcow2') },
    "qemu-img: Could not open '$img/100/vm-100-disk-8.qcow2': Image is not in qcow2 format\n", 'not qcow2: qemu-img message');
# Hostile headers: an error in qemu-img's words, never a crash or a read outside the file.
my $hostile = "QFI\xfb" . pack('N', 3) . pack('NN', 0xFFFF_FFFF, 0xFFFF_0000) . pack('N', 100) . pack('N', 16) . pack('Q>', 1 << 30);
$hostile .= "\0" x (104 - length($hostile));
substr($hostile, 100, 4) = pack('N', 104);
open($fh, '>:raw', "$img/100/vm-100-disk-6.qcow2") or die;
print $fh $hostile;
close($fh);
is(dies { my @r = PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-6.qcow2') },
    "qemu-img: Could not open '$img/100/vm-100-disk-6.qcow2': Invalid backing file offset\n", 'hostile backing offset: error');
substr($hostile, 24, 8) = pack('NN', 0xFFFF_FFFF, 0xFFFF_FFFF);
substr($hostile, 8, 8) = pack('Q>', 0);
open($fh, '>:raw', "$img/100/vm-100-disk-6.qcow2") or die;
print $fh $hostile;
close($fh);
is(dies { my @r = PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-6.qcow2') },
    "qemu-img: Could not open '$img/100/vm-100-disk-6.qcow2': Image is too big\n", 'hostile size: error');
# Issue 10: a 72-byte qcow2 v2 header with 512-byte clusters and a backing name of 513..1023
# bytes killed the process (SIGILL, an unsigned underflow); it is qemu-img's error now.
for my $length (513, 600, 1023) {
    my $v2 = "QFI\xfb" . pack('N', 2) . pack('Q>', 72) . pack('N', $length) . pack('N', 9) . pack('Q>', 1 << 20);
    $v2 .= "\0" x (72 - length($v2));
    open($fh, '>:raw', "$img/100/vm-100-disk-6.qcow2") or die;
    print $fh $v2;
    close($fh);
    is(dies { my @r = PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-6.qcow2') },
        "qemu-img: Could not open '$img/100/vm-100-disk-6.qcow2': Backing file name too long\n",
        "v2 header, 512-byte clusters, backing name of $length bytes: error, no crash");
}
unlink("$img/100/vm-100-disk-6.qcow2");
mkdir("$img/100/vm-100-disk-7.raw");
my ($dirwarn, @subvol) = warnings_of { PLUGIN->volume_size_info($scfg, 's', '100/vm-100-disk-7.raw') };
is_deeply([@subvol[0 .. 3]], [0, 'subvol', 0, undef], 'a directory named .raw: reported as subvol');
is_deeply($dirwarn, ["expected format 'raw', but '$img/100/vm-100-disk-7.raw' is a directory\n"], '... with a warning');

# The template's image is immutable: remove it the way PVE does.
PLUGIN->free_image('s', $scfg, $clone, undef, 'qcow2');
PLUGIN->free_image('s', $scfg, $base, 1, 'qcow2');

done_testing();
