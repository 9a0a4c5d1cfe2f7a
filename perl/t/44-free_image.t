#!/usr/bin/perl -T
# Contract: free_image($storeid, $scfg, $volname, $isBase, $format) removes a volume of any
# content type and returns undef: a backup with a <archive>.protected marker is refused
# ("cannot remove protected volume '<volname>' on '<storeid>'\n"); a base image first
# loses the immutable flag create_base set; a subvol's directory tree is removed; a file
# (or symlink) is unlinked, a missing one only warns "disk image '<path>' does not exist";
# then the parent directory is removed if it became empty. Nothing outside the volume is
# touched (a symlink is removed, not its target). In snapshot-as-volume-chain mode the
# volume's snapshot files go with it.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1, backup => 1, iso => 1 } };
PLUGIN->activate_storage('s', $scfg, {});
my $img = "$dir/images";

my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
is(PLUGIN->free_image('s', $scfg, $raw, undef, 'raw'), undef, 'returns undef');
ok(!-e "$img/$raw", 'raw removed');
ok(-d "$img/100", 'directory kept while not empty');
PLUGIN->free_image('s', $scfg, $qcow, undef, 'qcow2');
ok(!-e "$img/100", 'last image: the VMID directory goes too');

my $subvol = PLUGIN->alloc_image('s', $scfg, 101, 'subvol', undef, 0);
mkdir("$img/$subvol/etc");
open(my $fh, '>', "$img/$subvol/etc/hostname") or die;
close($fh);
symlink('/etc/hostname', "$img/$subvol/link") or die;
PLUGIN->free_image('s', $scfg, $subvol, undef, 'subvol');
ok(!-e "$img/101", 'subvol tree removed, and its directory');
ok(-e '/etc/hostname', 'symlink target untouched');

my $base = PLUGIN->create_base('s', $scfg, PLUGIN->alloc_image('s', $scfg, 102, 'raw', undef, 1024));
ok(!-w "$img/$base" || $> == 0, 'base is read-only');
my ($warnings) = warnings_of { PLUGIN->free_image('s', $scfg, $base, 1, 'raw') };
is_deeply($warnings, [], 'base: immutable flag cleared without warning (ext4)');
ok(!-e "$img/$base", 'base image removed');

my ($missing) = warnings_of { is(PLUGIN->free_image('s', $scfg, '103/vm-103-disk-0.raw', undef, 'raw'), undef, 'missing: undef') };
is_deeply($missing, ["disk image '$img/103/vm-103-disk-0.raw' does not exist\n"], 'missing: warning only');

mkdir("$img/104");
symlink("$dir/outside.raw", "$img/104/vm-104-disk-0.raw") or die;
open($fh, '>', "$dir/outside.raw") or die;
close($fh);
PLUGIN->free_image('s', $scfg, '104/vm-104-disk-0.raw', undef, 'raw');
ok(!-l "$img/104/vm-104-disk-0.raw" && -e "$dir/outside.raw", 'a symlink is removed, its target kept');

# Other content types: the file, then the empty directory (dump/ too, as dir).
my $backup = 'vzdump-qemu-100-2024_01_01-00_00_00.vma.zst';
for my $name ($backup, "$backup.protected") { open($fh, '>', "$dir/dump/$name") or die; close($fh) }
is(dies { PLUGIN->free_image('s', $scfg, "backup/$backup", undef, 'raw') }, "cannot remove protected volume 'backup/$backup' on 's'\n", 'protected backup refused');
ok(-e "$dir/dump/$backup", '... and kept');
unlink("$dir/dump/$backup.protected");
PLUGIN->free_image('s', $scfg, "backup/$backup", undef, 'raw');
ok(!-e "$dir/dump", 'backup removed, then the empty dump directory');
open($fh, '>', "$dir/template/iso/a.iso") or die;
close($fh);
open($fh, '>', "$dir/template/iso/b.iso") or die;
close($fh);
PLUGIN->free_image('s', $scfg, 'iso/a.iso', undef, 'raw');
ok(!-e "$dir/template/iso/a.iso" && -d "$dir/template/iso", 'iso removed, directory not empty');
mkdir("$dir/template/iso/dir.iso");
my ($dirwarn) = warnings_of { PLUGIN->free_image('s', $scfg, 'iso/dir.iso', undef, 'raw') };
is_deeply($dirwarn, ["disk image '$dir/template/iso/dir.iso' does not exist\n"], 'a directory is not a file');

is(dies { PLUGIN->free_image('s', $scfg, '../x', undef, 'raw') }, "unable to parse directory volume name '../x'\n", 'bad volname');

# snapshot-as-volume-chain: the snapshot files below the volume are removed too.
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
mkdir("$img/105");
qemu_img('create', '-f', 'qcow2', "$img/105/snap-a-vm-105-disk-0.qcow2", '1M');
qemu_img('create', '-f', 'qcow2', '-F', 'qcow2', '-b', 'snap-a-vm-105-disk-0.qcow2', "$img/105/snap-b-vm-105-disk-0.qcow2");
qemu_img('create', '-f', 'qcow2', '-F', 'qcow2', '-b', 'snap-b-vm-105-disk-0.qcow2', "$img/105/vm-105-disk-0.qcow2");
qemu_img('create', '-f', 'qcow2', "$img/105/snap-a-vm-105-disk-1.qcow2", '1M');
PLUGIN->free_image('s', $chain, '105/vm-105-disk-0.qcow2', undef, 'qcow2');
is_deeply(files_below("$img/105"), ['snap-a-vm-105-disk-1.qcow2'], 'chain mode: volume and its snapshots removed, others kept');

# A snapshot killed after linking the volume file under its snapshot name left a second
# name of the volume: freed with it; a snapshot file of another volume is not touched.
mkdir("$img/106");
qemu_img('create', '-f', 'qcow2', "$img/106/vm-106-disk-0.qcow2", '1M');
link("$img/106/vm-106-disk-0.qcow2", "$img/106/snap-killed-vm-106-disk-0.qcow2") or die;
qemu_img('create', '-f', 'qcow2', "$img/106/snap-other-vm-106-disk-0.qcow2", '1M');
PLUGIN->free_image('s', $chain, '106/vm-106-disk-0.qcow2', undef, 'qcow2');
is_deeply(files_below("$img/106"), ['snap-other-vm-106-disk-0.qcow2'], 'chain mode: a leftover link of the volume is removed too');

done_testing();
