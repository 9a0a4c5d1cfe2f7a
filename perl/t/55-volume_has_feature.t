#!/usr/bin/perl -T
# Contract: volume_has_feature($scfg, $feature, $storeid, $volname, $snapname, $running,
# $opts) answers from dir's matrix (plugin-api.md 6.15) by feature, state (snap when a
# snapshot name is given, else base for a template's image, else current; $running
# ignored) and format: 1 if listed, else undef. clone with valid_target_formats lacking
# qcow2 -> 0. Applies to every vtype (an ISO is raw/current). Bad volnames die. Here the
# storage's directory does not exist, so raw disks gain nothing from reflinks (snapshot,
# copy of a snapshot, replicate: 79-reflink-snapshots.t, 84-replication.t).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my %matrix = (
    snapshot => { current => [qw(qcow2)], snap => [qw(qcow2)] },
    clone => { base => [qw(qcow2 raw vmdk)] },
    template => { current => [qw(qcow2 raw vmdk subvol)] },
    copy => { base => [qw(qcow2 raw vmdk)], current => [qw(qcow2 raw vmdk)], snap => [qw(qcow2)] },
    sparseinit => { base => [qw(qcow2 raw vmdk)], current => [qw(qcow2 raw vmdk)] },
    rename => { current => [qw(qcow2 raw vmdk)] },
    replicate => {},
    bogus => {},
);
my $scfg = { type => 'swift', path => '/st' };
for my $feature (sort keys %matrix) {
    for my $state (qw(current snap base)) {
        for my $format (qw(qcow2 raw vmdk subvol)) {
            my $volname = $state eq 'base' ? "100/base-100-disk-0.$format" : "100/vm-100-disk-0.$format";
            my $snap = $state eq 'snap' ? 'snap1' : undef;
            my $expected = (grep { $_ eq $format } @{ $matrix{$feature}->{$state} // [] }) ? 1 : undef;
            for my $running (0, 1) {
                is(PLUGIN->volume_has_feature($scfg, $feature, 's', $volname, $snap, $running), $expected,
                    "$feature / $state / $format / running $running");
            }
        }
    }
}
is(PLUGIN->volume_has_feature($scfg, 'clone', 's', '100/base-100-disk-0.raw', undef, 0, { valid_target_formats => ['raw'] }), 0, 'clone to raw only: 0');
is(PLUGIN->volume_has_feature($scfg, 'clone', 's', '100/base-100-disk-0.raw', undef, 0, { valid_target_formats => ['raw', 'qcow2'] }), 1, 'clone to qcow2 allowed: 1');
is(PLUGIN->volume_has_feature($scfg, 'clone', 's', 'iso/x.iso', undef, 0, { valid_target_formats => [] }), 0, 'checked before the volname');
is(PLUGIN->volume_has_feature($scfg, 'copy', 's', 'iso/x.iso'), 1, 'iso: raw/current, as dir');
is(PLUGIN->volume_has_feature($scfg, 'snapshot', 's', '9/base-9-disk-0.qcow2/100/vm-100-disk-0.qcow2'), 1, 'linked clone is current');
is(PLUGIN->volume_has_feature($scfg, 'copy', 's', '100/vm-100-disk-0.qcow2', ''), 1, 'empty snapshot name is no snapshot');
is(dies { PLUGIN->volume_has_feature($scfg, 'copy', 's', 'bogus') }, "unable to parse directory volume name 'bogus'\n", 'bad volname');

done_testing();
