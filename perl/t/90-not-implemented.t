#!/usr/bin/perl -T
# Contract: until its implementation lands, a storage method is still bound to
# Swift and refuses with "<method> is not implemented yet by the swift storage
# plugin\n", never falling through to PVE::Storage::Plugin's Perl.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @pending = qw(
    new_backup_provider
);
my $scfg = { type => 'swift', path => storage_dir() };
for my $method (@pending) {
    is(dies { my @r = PLUGIN->$method($scfg, 's', '100/vm-100-disk-0.raw') },
        "$method is not implemented yet by the swift storage plugin\n", "$method refuses");
}

done_testing();
