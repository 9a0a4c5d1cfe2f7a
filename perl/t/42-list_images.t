#!/usr/bin/perl -T
# Contract: list_images($storeid, $scfg, $vmid, $vollist, $cache) returns an array of
# {volid, format, size, vmid, used, parent, ctime} for every non-hidden entry with a
# valid image extension in images/<owner>/ (owner: all digits, at least two), sorted by
# owner and name: size = virtual bytes, used = allocated bytes, vmid = the owner as
# written, parent = the backing file (key always present), ctime only when non-zero.
# With $vmid only that owner (string comparison); with $vollist only those volids (the
# VMID filter is then ignored). Linked clones (backing ../<digits>/<image>) get the
# <basevmid>/<basename>/<owner>/<name> volid. A file not in its extension's format is
# listed as format 'invalid' with its raw size and a warning; snapshot files and names
# the image grammar refuses are skipped. Metadata is read from the headers (no qemu-img)
# and must equal what qemu-img reports.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1, rootdir => 1 } };
my $img = "$dir/images";
mkdir($img);
mkdir("$img/$_") for qw(100 0100 5 9004 200 abc);
qemu_img('create', '-f', 'qcow2', "$img/100/vm-100-disk-0.qcow2", '64M');
qemu_img('create', '-f', 'raw', "$img/100/vm-100-disk-1.raw", '1000');
qemu_img('create', '-f', 'vmdk', "$img/100/vm-100-disk-2.vmdk", '32M');
mkdir("$img/100/subvol-100-disk-3.subvol");
qemu_img('create', '-f', 'raw', "$img/0100/vm-100-disk-0.raw", '1M');
qemu_img('create', '-f', 'raw', "$img/5/vm-5-disk-0.raw", '1M');
qemu_img('create', '-f', 'raw', "$img/abc/vm-1-disk-0.raw", '1M');
qemu_img('create', '-f', 'qcow2', "$img/9004/base-9004-disk-0.qcow2", '16M');
qemu_img('create', '-f', 'qcow2', '-F', 'qcow2', '-b', '../9004/base-9004-disk-0.qcow2', "$img/200/vm-200-disk-0.qcow2");
qemu_img('create', '-f', 'qcow2', '-u', '-F', 'raw', '-b', '../ssss/base-1-disk-0.raw', "$img/200/vm-200-disk-1.qcow2", '1M');
qemu_img('create', '-f', 'qcow2', "$img/200/snap-s1-vm-200-disk-0.qcow2", '1M');
for my $name ('.hidden.raw', 'notes.txt', 'vm-200-disk-9.RAW') { open(my $fh, '>', "$img/200/$name") or die; close($fh) }
open(my $fh, '>', "$img/200/broken.qcow2") or die;
print $fh 'x' x 1000;
close($fh);

my ($warnings, $all) = warnings_of { PLUGIN->list_images('s', $scfg, undef) };
is_deeply([map { $_->{volid} } @$all], [qw(
    s:0100/vm-100-disk-0.raw
    s:100/subvol-100-disk-3.subvol s:100/vm-100-disk-0.qcow2 s:100/vm-100-disk-1.raw s:100/vm-100-disk-2.vmdk
    s:200/broken.qcow2), (host_is_pve8() ? 's:200/snap-s1-vm-200-disk-0.qcow2' : ()), qw(
    s:9004/base-9004-disk-0.qcow2/200/vm-200-disk-0.qcow2 s:200/vm-200-disk-1.qcow2
    s:9004/base-9004-disk-0.qcow2
)], 'every image, owner then name; owners of two or more digits only; odd names (and on PVE 9 snapshot files) skipped');
is_deeply($warnings, ["image '$img/200/broken.qcow2' is not in expected format 'qcow2', querying as raw\n"], 'one warning: the broken image');

my %by = map { $_->{volid} => $_ } @$all;
for my $volid (sort keys %by) {
    my $item = $by{$volid};
    is_deeply([sort keys %$item], [sort qw(volid format size vmid used parent ctime)], "$volid: keys");
    next if $item->{format} eq 'subvol' || $item->{format} eq 'invalid';
    my ($owner, $name) = $volid =~ m{(\d+)/([^/]+)$};
    my $info = qemu_img_info("$img/$owner/$name", $item->{format});
    is_deeply([@$item{qw(size used parent format)}], [@$info{qw(virtual-size actual-size backing-filename format)}],
        "$volid: size, used, parent, format as qemu-img reports them");
    is($item->{ctime}, (stat("$img/$owner/$name"))[10], "$volid: ctime");
}
is_deeply([@{ $by{'s:100/subvol-100-disk-3.subvol'} }{qw(format size used parent vmid)}], ['subvol', 0, 0, undef, '100'], 'subvol: size 0');
is_deeply([@{ $by{'s:200/broken.qcow2'} }{qw(format size parent)}], ['invalid', 1024, undef], 'not qcow2: invalid, raw size');
is($by{'s:0100/vm-100-disk-0.raw'}->{vmid}, '0100', 'owner as written');
is($by{'s:200/vm-200-disk-1.qcow2'}->{parent}, '../ssss/base-1-disk-0.raw', 'other backing: plain volid, parent kept');
is($by{'s:9004/base-9004-disk-0.qcow2/200/vm-200-disk-0.qcow2'}->{parent}, '../9004/base-9004-disk-0.qcow2', 'linked clone parent');

is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, '100')->@*],
    [qw(s:100/subvol-100-disk-3.subvol s:100/vm-100-disk-0.qcow2 s:100/vm-100-disk-1.raw s:100/vm-100-disk-2.vmdk)], 'VMID filter');
is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, '0100')->@*], ['s:0100/vm-100-disk-0.raw'], 'VMID compared as a string');
is_deeply(PLUGIN->list_images('s', $scfg, '300'), [], 'unknown VMID: empty');
is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, '100', ['s:200/vm-200-disk-1.qcow2', 's:100/vm-100-disk-1.raw', 's:none'])->@*],
    [qw(s:100/vm-100-disk-1.raw s:200/vm-200-disk-1.qcow2)], 'volume list: only those, VMID ignored');
is_deeply(PLUGIN->list_images('s', { type => 'swift', path => "$dir/missing" }, undef), [], 'no images directory: empty');
is_deeply([map { $_->{volid} } PLUGIN->list_images('s', { %$scfg, 'content-dirs' => { images => 'images/200' } }, undef)->@*], [],
    'content-dirs moves the images directory');
is(dies { PLUGIN->list_images('s', { type => 'swift' }, undef) }, "storage definition has no path\n", 'no path');

# An image that cannot be read as its format at all (not merely another format) is an error, as in dir.
open($fh, '>', "$img/200/vm-200-disk-5.vmdk") or die;
close($fh);
is(dies { PLUGIN->list_images('s', $scfg, '200') },
    "qemu-img: Could not open '$img/200/vm-200-disk-5.vmdk': File is too small, not a valid image\n", 'empty vmdk: error');

# Issue 10: a crafted qcow2 v2 header (512-byte clusters, a 600-byte backing name) is an
# error in qemu-img's words, not a crash of the process (it was SIGILL).
unlink("$img/200/vm-200-disk-5.vmdk");
my $v2 = "QFI\xfb" . pack('N', 2) . pack('Q>', 72) . pack('N', 600) . pack('N', 9) . pack('Q>', 1 << 20);
open($fh, '>:raw', "$img/200/vm-200-disk-4.qcow2") or die;
print $fh $v2 . "\0" x (72 - length($v2));
close($fh);
is(dies { PLUGIN->list_images('s', $scfg, '200') },
    "qemu-img: Could not open '$img/200/vm-200-disk-4.qcow2': Backing file name too long\n", 'crafted qcow2 v2 header: error, no crash');
is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, '100')->@*],
    [qw(s:100/subvol-100-disk-3.subvol s:100/vm-100-disk-0.qcow2 s:100/vm-100-disk-1.raw s:100/vm-100-disk-2.vmdk)],
    '... other owners still list');

done_testing();
