#!/usr/bin/perl -T
# Contract: volume_rollback_is_possible($scfg, $storeid, $volname, $snap, $blockers)
# returns 1 when the volume can be rolled back to $snap, and dies otherwise.
# - Internal qcow2 snapshots (and formats without snapshots, as dir): always 1.
# - snapshot-as-volume-chain: $snap must exist ("can't rollback, snapshot '<snap>' does
#   not exist on '<volname>'\n") and be the most recent; the newer snapshots are pushed
#   onto @$blockers (oldest first) before "can't rollback, '<snap>' is not most recent
#   snapshot on '<volname>'\n". $blockers may be undef.
# - Raw reflink snapshots are independent copies: 1 when the snapshot exists (see
#   79-reflink-snapshots.t).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
PLUGIN->volume_snapshot($scfg, 's', $qcow, $_) for qw(s1 s2);

my @blockers;
is(PLUGIN->volume_rollback_is_possible($scfg, 's', $qcow, 's1', \@blockers), 1, 'internal: older snapshot, 1');
is(PLUGIN->volume_rollback_is_possible($scfg, 's', $qcow, 'none', \@blockers), 1, 'internal: even an unknown one, as dir');
is(PLUGIN->volume_rollback_is_possible($scfg, 's', $raw, 'x1'), 1, 'raw without reflinks: 1, as dir');
is_deeply(\@blockers, [], 'no blockers');

my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 101, 'qcow2', undef, 1024);
for my $snap (qw(s1 s2 s3)) { output_of { PLUGIN->volume_snapshot($chain, 's', $cq, $snap) } }
is(PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 's3', \@blockers), 1, 'chain: the most recent, 1');
is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 's1', \@blockers) },
    "can't rollback, 's1' is not most recent snapshot on '$cq'\n", 'chain: an older one');
is_deeply(\@blockers, ['s2', 's3'], 'the newer snapshots were pushed, oldest first');
my @more = ('kept');
is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 's2', \@more) },
    "can't rollback, 's2' is not most recent snapshot on '$cq'\n", 'the middle one');
is_deeply(\@more, ['kept', 's3'], 'pushed onto what the caller had');
is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 's1', undef) },
    "can't rollback, 's1' is not most recent snapshot on '$cq'\n", 'no blockers array');
is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 'nope', \@blockers) },
    "can't rollback, snapshot 'nope' does not exist on '$cq'\n", 'chain: unknown snapshot');
is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $cq, 'current', \@blockers) },
    "can't rollback, snapshot 'current' does not exist on '$cq'\n", 'current is no snapshot');

done_testing();
