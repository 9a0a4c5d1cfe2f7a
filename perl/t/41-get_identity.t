#!/usr/bin/perl -T
# Contract: get_identity($scfg, $storeid) (API 14) returns a stable identity of the
# storage directory: a version-4 UUID kept in <path>/.swiftplugin-identity, created on
# first use (mode 0644). The same directory configured twice, under any storage ID, or
# seen by another process or node, reports the same identity; another directory another.
# PVE's dir has none (it dies); a corrupt identity file is an error, never replaced.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $id = PLUGIN->get_identity({ type => 'swift', path => $dir }, 'one');
like($id, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a version 4 UUID');
is(PLUGIN->get_identity({ type => 'swift', path => $dir, content => { iso => 1 } }, 'two'), $id, 'same directory, other storage: same identity');
my $file = "$dir/.swiftplugin-identity";
open(my $fh, '<', $file) or die;
is(scalar(<$fh>), "$id\n", 'kept in the storage directory');
is((stat($file))[2] & 07777, 0644, 'mode 0644');

my $pid = fork() // die;
if (!$pid) { open(my $o, '>', "$dir/child") or die; print $o PLUGIN->get_identity({ type => 'swift', path => $dir }, 'x'); exit 0 }
waitpid($pid, 0);
open($fh, '<', "$dir/child") or die;
is(scalar(<$fh>), $id, 'another process reads the same');

my $other = storage_dir();
isnt(PLUGIN->get_identity({ type => 'swift', path => $other }, 'one'), $id, 'another directory: another identity');

# Parallel first uses agree on one identity.
my $fresh = storage_dir();
my @pids;
for my $n (1 .. 6) {
    my $p = fork() // die;
    if (!$p) { open(my $o, '>', "$fresh/id$n") or die; print $o PLUGIN->get_identity({ type => 'swift', path => $fresh }, 's'); exit 0 }
    push @pids, $p;
}
waitpid($_, 0) for @pids;
my %seen = map { open(my $i, '<', "$fresh/id$_") or die; (scalar(<$i>) => 1) } 1 .. 6;
is(scalar(keys %seen), 1, 'concurrent first uses agree');
is_deeply([grep { /^\.tmp/ } @{ files_below($fresh) }], [], 'no temporary file left');

open($fh, '>', $file) or die;
print $fh "garbage\n";
close($fh);
is(dies { my @r = PLUGIN->get_identity({ type => 'swift', path => $dir }, 'one') }, "invalid storage identity in '$file'\n", 'a corrupt file is an error');
is(dies { my @r = PLUGIN->get_identity({ type => 'swift', path => "$dir/missing" }, 'one') },
    "unable to create storage identity '$dir/missing/.swiftplugin-identity' - No such file or directory\n", 'missing directory');
is(dies { my @r = PLUGIN->get_identity({ type => 'swift' }, 'one') }, "storage definition has no path\n", 'no path');

done_testing();
