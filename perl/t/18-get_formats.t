#!/usr/bin/perl -T
# Contract: get_formats($scfg, $storeid) returns { default => fmt, valid => {fmt => 1} }:
# valid is dir's set (raw, qcow2, vmdk, subvol), default the 'format' option, else raw.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $valid = { raw => 1, qcow2 => 1, vmdk => 1, subvol => 1 };
is_deeply(PLUGIN->get_formats({ type => 'swift', path => '/p' }, 's'), { default => 'raw', valid => $valid }, 'default raw');
is_deeply(PLUGIN->get_formats({ type => 'swift', format => 'qcow2' }, 's'), { default => 'qcow2', valid => $valid }, 'format option');
my $first = PLUGIN->get_formats({}, 's');
$first->{valid}->{vhdx} = 1;
is_deeply(PLUGIN->get_formats({}, 's')->{valid}, $valid, 'each call returns a fresh copy');

done_testing();
