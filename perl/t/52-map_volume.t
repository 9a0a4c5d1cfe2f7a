#!/usr/bin/perl -T
# Contract: map_volume($storeid, $scfg, $volname, $snapname, $hints) returns the volume's
# path (what path() returns first) for pve-container to loop-mount; $hints (API 13) are
# ignored; path errors ("can't snapshot this image format\n") propagate.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $scfg = { type => 'swift', path => '/st' };
is(PLUGIN->map_volume('s', $scfg, '100/vm-100-disk-0.raw', undef, { 'guest-is-windows' => 0 }), '/st/images/100/vm-100-disk-0.raw', 'raw');
is(PLUGIN->map_volume('s', $scfg, '100/vm-100-disk-0.qcow2', 'snap'), '/st/images/100/vm-100-disk-0.qcow2', 'qcow2 snapshot');
my @list = PLUGIN->map_volume('s', $scfg, '9/base-9-disk-0.raw/100/vm-100-disk-0.qcow2');
is_deeply(\@list, ['/st/images/100/vm-100-disk-0.qcow2'], 'one value, also in list context');
is(dies { PLUGIN->map_volume('s', $scfg, '100/vm-100-disk-0.raw', 'snap') }, "can't snapshot this image format\n", 'raw snapshot');

done_testing();
