#!/usr/bin/perl -T
# Contract: activate_volume($storeid, $scfg, $volname, $snapname, $cache, $hints) checks
# that the volume (or the qcow2 file holding its snapshot) exists: otherwise "volume
# '<storeid>:<volname>' does not exist\n"; a snapshot of a non-qcow2 volume -> "can't
# snapshot this image format\n". $hints (API 13) are accepted and ignored.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 64);
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 64);
is(dies { PLUGIN->activate_volume('s', $scfg, $raw, undef, {}, { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 0 }) }, '', 'existing, with hints');
is(dies { PLUGIN->activate_volume('s', $scfg, $raw) }, '', 'without cache and hints');
is(dies { PLUGIN->activate_volume('s', $scfg, $qcow, 'snap1', {}) }, '', 'qcow2 snapshot');
is(dies { PLUGIN->activate_volume('s', $scfg, '100/vm-100-disk-9.raw', undef, {}) }, "volume 's:100/vm-100-disk-9.raw' does not exist\n", 'missing');
is(dies { PLUGIN->activate_volume('s', $scfg, $raw, 'snap1', {}) }, "can't snapshot this image format\n", 'raw snapshot');
is(dies { PLUGIN->activate_volume('s', { %$scfg, 'snapshot-as-volume-chain' => 1 }, $qcow, 'snap1', {}) },
    "volume 's:$qcow' does not exist\n", 'chain mode: the snapshot file must exist');
my $subvol = PLUGIN->alloc_image('s', $scfg, 100, 'subvol', undef, 0);
is(dies { PLUGIN->activate_volume('s', $scfg, $subvol, undef, {}) }, '', 'subvol directory');
is(dies { PLUGIN->activate_volume('s', { type => 'swift' }, $raw, undef, {}) }, "storage definition has no path\n", 'no path');

done_testing();
