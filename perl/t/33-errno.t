#!/usr/bin/perl -T
# Contract: when a method fails because a system call failed, the exception comes with
# that call's errno in $! (as Perl's own file functions leave it); the message still
# says what failed. A refusal that no system call caused leaves $! as it was.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Errno qw(EEXIST);
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
open(my $fh, '>', "$dir/images") or die "cannot create $dir/images: $!\n";
close($fh);

$! = 0;
is(dies { PLUGIN->alloc_image('s', { path => $dir }, 100, 'raw', undef, 1024) },
    "mkdir $dir/images/100: File exists\n", 'the message says what failed');
is($! + 0, EEXIST, '... and $! holds the errno of mkdir');

$! = 0;
is(dies { PLUGIN->parse_volname('bogus') }, "unable to parse directory volume name 'bogus'\n", 'a refusal');
is($! + 0, 0, '... leaves $! alone');

# activate_volume looks the volume up (a stat that fails with ENOENT) and then refuses:
# the refusal is not that stat's failure, so $! stays the caller's.
$! = 0;
is(dies { PLUGIN->activate_volume('s', { path => $dir }, '100/vm-100-disk-0.raw') },
    "volume 's:100/vm-100-disk-0.raw' does not exist\n", 'a refusal after a failed lookup');
is($! + 0, 0, '... leaves $! alone too');

done_testing();
