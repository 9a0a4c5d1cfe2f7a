#!/usr/bin/perl -T
# Contract: storage_can_replicate($scfg, $storeid, $format) is true only where
# PVE's replication works (ZFS); a directory storage answers 0 for every format.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

is(PLUGIN->storage_can_replicate({ path => '/p' }, 's', $_), 0, "$_: 0") for qw(raw qcow2 vmdk subvol zfs);

done_testing();
