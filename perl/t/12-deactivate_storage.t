#!/usr/bin/perl -T
# Contract: deactivate_storage($storeid, $scfg, $cache) undoes activation where that
# means something; for a directory it is a no-op that leaves all data in place.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1 } };
PLUGIN->activate_storage('s', $scfg, {});
is(dies { PLUGIN->deactivate_storage('s', $scfg, {}) }, '', 'succeeds');
ok(-d "$dir/images", 'leaves the storage as it was');
is(scalar(PLUGIN->deactivate_storage('s', {}, undef)), undef, 'returns undef, even without a path');

done_testing();
