#!/usr/bin/perl -T
# Contract: volume_export_formats($scfg, $storeid, $volname, $snapshot, $base_snapshot,
# $with_snapshots) is dir's matrix: () without a path or with a $snapshot or
# $base_snapshot; with $with_snapshots ('qcow2+size') for qcow2, ('vmdk+size') for vmdk
# (whatever the content type), () otherwise; without, ('tar+size') for a subvol,
# ('raw+size') for images, iso, snippets, vztmpl and import, () for backups (on PVE 8: raw+size for every volume but a subvol, as its dir). An
# unparsable volume name dies as parse_volname does.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $scfg = { type => 'swift', path => storage_dir() };
my @cases = (
    ['100/vm-100-disk-0.raw', 0, ['raw+size']], ['100/vm-100-disk-0.raw', 1, []],
    ['100/vm-100-disk-1.qcow2', 0, ['raw+size']], ['100/vm-100-disk-1.qcow2', 1, ['qcow2+size']],
    ['100/vm-100-disk-2.vmdk', 0, ['raw+size']], ['100/vm-100-disk-2.vmdk', 1, ['vmdk+size']],
    ['100/subvol-100-disk-3.subvol', 0, ['tar+size']], ['100/subvol-100-disk-3.subvol', 1, []],
    ['100/base-100-disk-4.qcow2/101/vm-101-disk-0.qcow2', 1, ['qcow2+size']],
    ['iso/a.iso', 0, ['raw+size']], ['iso/a.iso', 1, []],
    ['vztmpl/t.tar.zst', 0, ['raw+size']], ['snippets/s.yaml', 0, ['raw+size']],
    ['import/x.ova', 0, ['raw+size']], ['import/x.qcow2', 1, ['qcow2+size']], ['import/x.vmdk', 1, ['vmdk+size']],
    # PVE 8's dir offers raw+size for every volume but a subvol; PVE 9's not for backups.
    ['backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst', 0, host_is_pve8() ? ['raw+size'] : []],
);
for my $case (@cases) {
    my ($volname, $snaps, $expected) = @$case;
    is_deeply([PLUGIN->volume_export_formats($scfg, 's', $volname, undef, undef, $snaps)], $expected,
        "$volname, with_snapshots=$snaps");
}
is_deeply([PLUGIN->volume_export_formats($scfg, 's', '100/vm-100-disk-1.qcow2', 'snap', undef, 1)], [], 'a snapshot: none');
is_deeply([PLUGIN->volume_export_formats($scfg, 's', '100/vm-100-disk-1.qcow2', undef, 'base', 1)], [], 'incremental: none');
is_deeply([PLUGIN->volume_export_formats({ type => 'swift' }, 's', '100/vm-100-disk-0.raw', undef, undef, 0)], [],
    'no path: none');
is_deeply([PLUGIN->volume_export_formats({ type => 'swift' }, 's', 'nonsense', undef, undef, 0)], [],
    'no path: the name is not even parsed');
is(dies { PLUGIN->volume_export_formats($scfg, 's', 'nonsense', undef, undef, 0) },
    "unable to parse directory volume name 'nonsense'\n", 'unparsable name');
my @list = PLUGIN->volume_export_formats($scfg, 's', '100/vm-100-disk-0.raw', undef, undef, 0);
is(scalar(@list), 1, 'a list in list context');

done_testing();
