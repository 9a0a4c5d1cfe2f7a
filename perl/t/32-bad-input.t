#!/usr/bin/perl -T
# Contract: bad input never crashes the process and never changes the storage: a
# wrong type, undef, a huge or hostile string, a cyclic or deeply nested structure,
# code and glob references all end in a Perl exception with a one-line message
# ending in "\n" (or in the method's ordinary answer).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $cyclic = { path => $dir };
$cyclic->{self} = $cyclic;
my $deep = {};
my $cursor = $deep;
$cursor = ($cursor->{x} = {}) for 1 .. 200;

my @cases = (
    [parse_volname => [{ a => 1 }], qr/^invalid volname - not a string\n$/],
    [parse_volname => [[1, 2]], qr/^invalid volname - not a string\n$/],
    [parse_volname => [sub { 1 }], qr/^unable to parse directory volume name ''\n$/],
    [parse_volname => ['x' x 10_000_000], qr/^unable to parse directory volume name 'xxxx/],
    [parse_volname => ["100/vm-100-disk-0.raw\n"], qr/^unable to parse directory volume name '100\/vm-100-disk-0.raw\n'\n$/],
    [parse_volname => ["iso/a\0b.iso"], qr/^unable to parse directory volume name 'iso\/a\\0b.iso'\n$/],
    [get_subdir => ['not a hash', 'iso'], qr/^storage configuration is not a hash\n$/],
    [get_subdir => [undef, 'iso'], qr/^storage configuration is not a hash\n$/],
    [get_subdir => [{ path => [1] }, 'iso'], qr/^storage definition has no path\n$/],
    [status => ['s', $cyclic, {}], qr/^SwiftPlugin: argument nested too deeply\n$/],
    [status => ['s', $deep, {}], qr/^SwiftPlugin: argument nested too deeply\n$/],
    [activate_storage => ['s', { path => \*STDOUT }, {}], qr/^storage definition has no path\n$/],
    [activate_storage => ['s', { path => *STDOUT }, {}], qr/^storage definition has no path\n$/],
    [activate_storage => ['s', { path => 'relative/dir' }, {}], qr/^storage path 'relative\/dir' is not an absolute path\n$/],
    [get_subdir => [{ path => 'rel' }, 'iso'], qr/^storage path 'rel' is not an absolute path\n$/],
    [filesystem_path => [{ path => $dir }, '100/vm-100-disk-0.raw', []], qr/^can't snapshot this image format\n$/],
    [check_connection => [], qr/^$/],
);
for my $case (@cases) {
    my ($method, $args, $expected) = @$case;
    my $error = dies { my @r = PLUGIN->$method(@$args) };
    like($error, $expected, "$method: " . substr(join(', ', map { defined ? (ref || $_) : 'undef' } @$args), 0, 40));
    ok($error eq '' || $error =~ /\n\z/ && $error !~ /\n./, '... one line ending in a newline') if $error !~ /\n.+\n/s;
}
opendir(my $dh, $dir) or die;
is_deeply([grep { !/^\./ } readdir($dh)], [], 'nothing was created in the storage');
ok(!-e 'relative' && !-e '*main::STDOUT', 'nothing was created in the working directory');

done_testing();
