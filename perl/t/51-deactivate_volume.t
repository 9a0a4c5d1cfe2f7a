#!/usr/bin/perl -T
# Contract: deactivate_volume($storeid, $scfg, $volname, $snapname, $cache) has nothing to
# release for a directory storage: it returns undef and changes nothing, for any volume.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 64);
my $before = files_below($dir);
is(PLUGIN->deactivate_volume('s', $scfg, $raw, undef, {}), undef, 'undef');
is(PLUGIN->deactivate_volume('s', $scfg, '100/vm-100-disk-9.qcow2', 'snap', {}), undef, 'missing volume, snapshot: undef');
is_deeply(files_below($dir), $before, 'nothing changed');

done_testing();
