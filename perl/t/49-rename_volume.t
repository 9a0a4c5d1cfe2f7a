#!/usr/bin/perl -T
# Contract: rename_volume($scfg, $storeid, $source_volname, $target_vmid, $target_volname)
# (API 10) moves an image to images/<target_vmid>/ under $target_volname, or under the
# next free name of the source's format, and returns the new volid *with* the storage ID
# (a linked clone keeps its base prefix). An existing target -> "target volume '<name>'
# already exists\n" (never replaced, even in a race); no path -> "no path found\n". The
# target name must be an image file name (swift refuses what would leave the directory).
# Only images are renamed: any other volume (backup, iso, vztmpl, snippets, import) is
# refused as dir refuses it, with "rename '<images>/<vmid>/<name>' to '<target>' failed -
# No such file or directory\n", and stays where it is.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $img = "$dir/images";

my $a = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
is(PLUGIN->rename_volume($scfg, 's', $a, 200, undef), 's:200/vm-200-disk-0.qcow2', 'free name in the target VMID, storeid included');
ok(!-e "$img/$a" && -f "$img/200/vm-200-disk-0.qcow2", 'moved');
ok(-d "$img/100", 'old VMID directory kept (as dir)');
my $b = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
is(PLUGIN->rename_volume($scfg, 's', $b, 200, 'vm-200-disk-7.raw'), 's:200/vm-200-disk-7.raw', 'explicit name');
my $c = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
is(dies { PLUGIN->rename_volume($scfg, 's', $c, 200, 'vm-200-disk-7.raw') }, "target volume 'vm-200-disk-7.raw' already exists\n", 'existing target');
ok(-e "$img/$c", '... source kept');
is(PLUGIN->rename_volume($scfg, 's', $c, 200, undef), 's:200/vm-200-disk-1.raw', 'numbers skip taken ones');

my $base = PLUGIN->create_base('s', $scfg, PLUGIN->alloc_image('s', $scfg, 900, 'qcow2', undef, 1024));
my $clone = PLUGIN->clone_image($scfg, 's', $base, 300);
is(PLUGIN->rename_volume($scfg, 's', $clone, 301, undef), "s:$base/301/vm-301-disk-0.qcow2", 'linked clone keeps its base prefix');
is(qemu_img_info("$img/301/vm-301-disk-0.qcow2")->{'backing-filename'}, "../900/base-900-disk-0.qcow2", '... and still finds its base');

is(dies { PLUGIN->rename_volume($scfg, 's', '100/vm-100-disk-9.raw', 200, 'vm-200-disk-9.raw') },
    "rename '$img/100/vm-100-disk-9.raw' to '$img/200/vm-200-disk-9.raw' failed - No such file or directory\n", 'missing source');
is(dies { PLUGIN->rename_volume({ type => 'swift' }, 's', $c, 200) }, "no path found\n", 'no path');
is(dies { PLUGIN->rename_volume($scfg, 's', '200/vm-200-disk-1.raw', 200, '../../escape.raw') }, "unable to parse volume filename '../../escape.raw'\n",
    'a target name cannot leave the directory');
is(dies { PLUGIN->rename_volume($scfg, 's', '200/vm-200-disk-1.raw', '2/../3', undef) }, "VMID '2/../3' contains illegal characters\n", 'target VMID digits only');

# Issue 10, item 5: other content is never moved into images/.
my %other = (
    'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst' => ["$dir/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", '100'],
    'iso/debian.iso' => ["$dir/template/iso/debian.iso", ''],
    'vztmpl/debian.tar.zst' => ["$dir/template/cache/debian.tar.zst", ''],
    'snippets/hook.pl' => ["$dir/snippets/hook.pl", ''],
    'import/disk.qcow2' => ["$dir/import/disk.qcow2", ''],
);
make_file($_->[0], 'data') for values %other;
make_file("$dir/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst.protected");
for my $volname (sort keys %other) {
    my ($path, $vmid) = $other{$volname}->@*;
    my ($name) = $path =~ m{([^/]+)$};
    is(dies { PLUGIN->rename_volume($scfg, 's', $volname, 200, 'vm-200-disk-20.raw') },
        "rename '$img/$vmid/$name' to '$img/200/vm-200-disk-20.raw' failed - No such file or directory\n", "$volname: refused as dir");
    ok(-f $path && !-e "$img/200/vm-200-disk-20.raw", "$volname: stays where it is");
}

PLUGIN->free_image('s', $scfg, "$base/301/vm-301-disk-0.qcow2", undef, 'qcow2');
PLUGIN->free_image('s', $scfg, $base, 1, 'qcow2');

done_testing();
