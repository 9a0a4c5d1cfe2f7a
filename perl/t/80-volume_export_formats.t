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
use StreamTest;

load_host();

my $scfg = { type => 'swift', path => storage_dir() };
formats_matrix_ok('volume_export_formats', $scfg);
is_deeply([PLUGIN->volume_export_formats($scfg, 's', '100/vm-100-disk-1.qcow2', 'snap', undef, 1)], [], 'a snapshot: none');

done_testing();
