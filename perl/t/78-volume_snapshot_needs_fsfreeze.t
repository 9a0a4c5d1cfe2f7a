#!/usr/bin/perl -T
# Contract: volume_snapshot_needs_fsfreeze() is asked per class, without a storage,
# before pve-container snapshots the mount points of a running container. It answers 1:
# a raw mount point's snapshot is a reflink copy of the file as it is, so the
# container's file systems are frozen first (dir answers 0: it has no raw snapshots).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

is(PLUGIN->volume_snapshot_needs_fsfreeze(), 1, 'class method without arguments: 1');
is(PLUGIN->volume_snapshot_needs_fsfreeze({ type => 'swift', path => '/x' }, 's'), 1, 'arguments are ignored');
my @list = PLUGIN->volume_snapshot_needs_fsfreeze();
is_deeply(\@list, [1], 'one value in list context');

done_testing();
