#!/usr/bin/perl -T
# Contract: status($storeid, $scfg, $cache) returns (total, available, used, active)
# in bytes from statvfs of the path: available is what unprivileged users may use,
# used = total - free; an unreachable or zero-sized file system gives the empty list
# (undef), which the storage layer shows as inactive, as does an is_mountpoint that is not mounted.
# No path -> die "storage definition has no path\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my @status = PLUGIN->status('s', { type => 'swift', path => $dir }, {});
is(scalar(@status), 4, 'four values');
my ($total, $avail, $used, $active) = @status;
is($active, 1, 'active');
ok($total > 0 && $avail >= 0 && $used >= 0 && $avail <= $total && $used <= $total, 'sane sizes');
like("$total$avail$used", qr/^\d+$/, 'integers');

# Compare with df's numbers for the same file system (same statvfs source).
local $ENV{PATH} = '/usr/bin:/bin';
open(my $df, '-|', '/bin/df', '-B1', '--output=size,used,avail', $dir) or die "df: $!\n";
my (undef, $line) = <$df>;
my ($df_total, $df_used, $df_avail) = split(' ', $line);
is($total, $df_total, 'total matches df');
ok(abs($avail - $df_avail) < 64 * 1024 * 1024, 'available matches df (within concurrent writes)');

is_deeply([PLUGIN->status('s', { type => 'swift', path => "$dir/missing" }, {})], [undef], 'missing path: (undef), inactive');
is_deeply([PLUGIN->status('s', { type => 'swift', path => $dir, is_mountpoint => 'yes' }, {})], [undef],
    'not mounted: (undef), inactive');
is(dies { PLUGIN->status('s', { type => 'swift' }, {}) }, "storage definition has no path\n", 'no path');

done_testing();
