#!/usr/bin/perl -T
# Contract: api() reports the host's PVE::Storage::APIVER capped at 15 (the newest
# version implemented), and never below APIVER - APIAGE, so the plugin loads on PVE 8
# (10/1, 11/2) and PVE 9 (12/3 .. 15/6) and keeps loading on a future host (16/7).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @pairs = ([10, 1, 10], [11, 2, 11], [12, 3, 12], [13, 4, 13], [14, 5, 14], [15, 6, 15], [16, 7, 15], [20, 2, 18]);
for my $pair (@pairs) {
    my ($apiver, $apiage, $expected) = @$pair;
    no warnings 'redefine';
    local *PVE::Storage::APIVER = sub () { $apiver };
    local *PVE::Storage::APIAGE = sub () { $apiage };
    is(PLUGIN->api(), $expected, "APIVER $apiver, APIAGE $apiage: api() is $expected");
}

{
    no warnings 'redefine';
    local *PVE::Storage::APIVER;
    local *PVE::Storage::APIAGE;
    undef &PVE::Storage::APIVER;
    is(PLUGIN->api(), 15, 'without a host version: the newest implemented');
}

# The loader accepts it on every generation; only a host newer than the plugin gets
# PVE's "older storage API" notice, which is the truth there.
SKIP: {
    skip 'needs the stand-in PVE host (its version knobs)', 3 if $INC{'PVE/Storage.pm'} !~ m{perl/t/lib/};
    my $older = qq{Plugin "${\PLUGIN}" is implementing an older storage API, an upgrade is recommended\n};
    for my $case (['8', undef, undef, 11, ''], ['9', 10, 1, 10, ''], ['9', 16, 7, 15, $older]) {
        my ($generation, $apiver, $apiage, $api, $warning) = @$case;
        local $ENV{PATH} = '/usr/bin:/bin';
        delete local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
        local $ENV{PVE_STANDIN_GENERATION} = $generation;
        local $ENV{PVE_STANDIN_APIVER} = $apiver;
        local $ENV{PVE_STANDIN_APIAGE} = $apiage;
        delete local $ENV{PVE_STANDIN_APIVER} if !defined($apiver);
        delete local $ENV{PVE_STANDIN_APIAGE} if !defined($apiage);
        my @inc = map { ('-I', untaint($_)) } grep { !ref($_) } @INC;
        my $program = 'my @w; BEGIN { $SIG{__WARN__} = sub { push @w, @_ } } use PVE::Storage; '
            . 'print PVE::Storage::Plugin->lookup("swift")->api(), ":", @w';
        open(my $child, '-|', untaint($^X), '-T', @inc, '-e', $program) or die "cannot run perl: $!\n";
        my $output = do { local $/; <$child> };
        close($child);
        is($output, "$api:$warning", "PVE $generation host, APIVER " . ($apiver // 'default') . ": registered as $api");
    }
}

done_testing();
