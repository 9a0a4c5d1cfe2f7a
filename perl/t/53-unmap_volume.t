#!/usr/bin/perl -T
# Contract: unmap_volume($storeid, $scfg, $volname, $snapname) returns 1: a directory
# storage maps nothing.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

is(PLUGIN->unmap_volume('s', { type => 'swift', path => '/st' }, '100/vm-100-disk-0.raw'), 1, 'returns 1');
is(PLUGIN->unmap_volume('s', { type => 'swift', path => '/st' }, '100/vm-100-disk-0.qcow2', 'snap'), 1, '1 for a snapshot');

done_testing();
