#!/usr/bin/perl -T
# Contract: find_free_diskname($storeid, $scfg, $vmid, $fmt, $add_fmt_suffix) returns
# vm-<vmid>-disk-<n>[.<fmt>] (subvol-... for subvol) for the smallest n in 0..1023 that
# no listed image of the VMID uses; because the storage holds subvols, an image blocks
# its number whatever its prefix (vm, base, subvol, basevol) or extension. All taken ->
# die "unable to allocate an image name for VM <vmid> in storage '<storeid>'\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $images = "$dir/images/100";

# A real image for qcow2/vmdk names (an empty .vmdk is an error for listing, as in dir), else an empty file.
sub touch {
    my ($path) = @_;
    return qemu_img('create', '-f', $1, $path, '1M') if $path =~ /\.(qcow2|vmdk)$/;
    open(my $fh, '>', $path) or die "$path: $!";
    close($fh);
}
mkdir("$dir/images");
mkdir($images);

is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 1), 'vm-100-disk-0.raw', 'no disks: 0, with suffix');
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 0), 'vm-100-disk-0', 'without suffix');
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'subvol', 1), 'subvol-100-disk-0.subvol', 'subvol prefix');

touch("$images/vm-100-disk-0.qcow2");
touch("$images/vm-100-disk-2.raw");
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'qcow2', 1), 'vm-100-disk-1.qcow2', 'spec example: 0 and 2 taken');
mkdir("$images/subvol-100-disk-1.subvol");
touch("$images/base-100-disk-3.vmdk");
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 1), 'vm-100-disk-4.raw', 'any prefix and extension blocks a number');
touch("$images/vm-100-disk-04.raw");
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 1), 'vm-100-disk-4.raw', "a number written '04' does not block 4 (as dir)");
touch("$images/.vm-100-disk-4.raw");
touch("$images/vm-100-disk-4.txt");
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 1), 'vm-100-disk-4.raw', 'hidden and unlisted files do not count');
mkdir("$dir/images/200");
touch("$dir/images/200/vm-100-disk-4.raw");
is(PLUGIN->find_free_diskname('s', $scfg, 100, 'raw', 1), 'vm-100-disk-4.raw', "another VMID's directory does not count");

my $full = storage_dir();
mkdir("$full/images");
mkdir("$full/images/101");
touch("$full/images/101/vm-101-disk-$_.raw") for 0 .. 1023;
is(dies { my @r = PLUGIN->find_free_diskname('full', { type => 'swift', path => $full }, 101, 'raw', 1) },
    "unable to allocate an image name for VM 101 in storage 'full'\n", 'all 1024 taken');
is(dies { my @r = PLUGIN->find_free_diskname('s', $scfg, '../1', 'raw', 1) }, "VMID '../1' contains illegal characters\n", 'VMID must be digits');
is(dies { my @r = PLUGIN->find_free_diskname('s', { type => 'swift' }, 100, 'raw', 1) }, "storage definition has no path\n", 'no path');

done_testing();
