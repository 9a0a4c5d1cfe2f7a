#!/usr/bin/perl -T
# Contract: on_add_hook($storeid, $scfg, %sensitive), on_update_hook($storeid,
# $update, %sensitive), on_update_hook_full($storeid, $scfg, $update, $delete,
# $sensitive) and on_delete_hook($storeid, $scfg) run inside PVE's config lock; a
# directory storage needs no preparation (activation creates its directories) and
# removing it from the configuration never touches its data: all return undef.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1, iso => 1 } };
PLUGIN->activate_storage('s', $scfg, {});
open(my $fh, '>', "$dir/template/iso/keep.iso") or die;
close($fh);

is(PLUGIN->on_add_hook('s', $scfg), undef, 'on_add_hook: undef');
is(PLUGIN->on_add_hook('s', $scfg, password => 'x'), undef, 'on_add_hook with sensitive values: undef');
is(PLUGIN->on_update_hook('s', { content => { iso => 1 } }), undef, 'on_update_hook: undef');
is(PLUGIN->on_update_hook_full('s', $scfg, { content => { iso => 1 } }, ['nodes'], {}), undef, 'on_update_hook_full: undef');
is(PLUGIN->on_delete_hook('s', $scfg), undef, 'on_delete_hook: undef');
ok(-f "$dir/template/iso/keep.iso" && -d "$dir/images", 'deleting the storage leaves its data');

done_testing();
