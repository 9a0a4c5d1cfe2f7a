#!/usr/bin/perl
# storage-migrate-formats.pl
#
# PVE::Storage::storage_migrate_formats() (pve-storage from PERL5LIB) against
# what PVE::Storage::storage_migrate() itself does for the same volume, target
# and options: for every case, storage_migrate() is run with its commands
# mocked, and the format it sends must be the first one the helper returns, or
# it must refuse where the helper returns none. PVE's own types and the two of
# lib/TryUpstreamTypes.pm. TRY_PHASE=before (unmodified sources): the helper
# does not exist yet. Prints TAP.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON;
use Test::MockModule;
use Test::More;

use TryUpstreamTypes;

my $phase = $ENV{TRY_PHASE} // 'after';

if ($phase eq 'before') {
    ok(!PVE::Storage->can('storage_migrate_formats'),
        'before: PVE::Storage::storage_migrate_formats does not exist yet');
    done_testing();
    exit(0);
}

my $cfg = {
    ids => {
        'local-dir' => { type => 'dir', path => '/srv/dir', content => { images => 1 } },
        'other-dir' => { type => 'dir', path => '/srv/dir2', content => { images => 1 } },
        'local-lvm' => {
            type => 'lvmthin', vgname => 'pve', thinpool => 'data', content => { images => 1 },
        },
        'plain-lvm' => { type => 'lvm', vgname => 'vg', content => { images => 1 } },
        'local-zfs' => { type => 'zfspool', pool => 'rpool/data', content => { images => 1 } },
        'swift-store' => { type => 'swift', path => '/srv/swift', content => { images => 1 } },
        'swift-other' => { type => 'swift', path => '/srv/swift2', content => { images => 1 } },
        'opaque-store' => { type => 'opaque', path => '/srv/opaque', content => { images => 1 } },
    },
};

# [volid, target storage, with_snapshots, expected formats or qr/error/]
my @cases = (
    ['local-dir:100/vm-100-disk-0.qcow2', 'other-dir', 1, ['qcow2+size']],
    ['local-dir:100/vm-100-disk-0.qcow2', 'other-dir', 0, ['raw+size']],
    ['local-dir:100/vm-100-disk-0.raw', 'local-lvm', 0, ['raw+size']],
    ['local-lvm:vm-100-disk-0', 'local-dir', 0, ['raw+size']],
    ['local-lvm:vm-100-disk-0', 'local-zfs', 0, []],
    ['plain-lvm:vm-100-disk-0', 'plain-lvm', 0, ['raw+size']],
    ['local-zfs:vm-100-disk-0', 'local-zfs', 1, ['zfs']],
    ['local-zfs:vm-100-disk-0', 'local-lvm', 0, []],
    ['local-dir:100/vm-100-disk-0.qcow2', 'local-zfs', 1, qr/unsupported format 'qcow2'/],
    ['swift-store:100/vm-100-disk-0.qcow2', 'swift-other', 1, ['qcow2+size']],
    ['swift-store:100/vm-100-disk-0.qcow2', 'swift-store', 0, ['raw+size']],
    ['swift-store:100/vm-100-disk-0.raw', 'local-lvm', 0, ['raw+size']],
    ['swift-store:100/vm-100-disk-0.raw', 'local-zfs', 0, []],
    ['local-dir:100/vm-100-disk-0.raw', 'swift-store', 0, ['raw+size']],
    ['swift-store:100/subvol-100-disk-0.subvol', 'swift-other', 0, ['tar+size']],
    ['swift-store:100/vm-100-disk-0.raw', 'swift-other', 1, []],
    ['opaque-store:100/vm-100-disk-0.raw', 'opaque-store', 0, []],
    ['opaque-store:100/vm-100-disk-0.raw', 'swift-store', 0, []],
);

# storage_migrate() with its side effects mocked: which format does it send?
my $sent;
my $storage = Test::MockModule->new('PVE::Storage');
$storage->mock(
    activate_volumes => sub { 1 },
    volume_snapshot => sub { 1 },
    volume_snapshot_delete => sub { 1 },
    run_command => sub {
        my ($cmds, %param) = @_;
        my ($export) = grep { ref($_) eq 'ARRAY' && $_->[1] eq 'export' } @$cmds;
        my ($import) = grep { ref($_) eq 'ARRAY' && $_->[1] eq 'import' } @$cmds;
        $sent = $export->[3];
        my $log = $param{logfunc} // $param{errfunc};
        $log->("successfully imported '$import->[2]'") if $log;
        return 0;
    },
);

for my $case (@cases) {
    my ($volid, $target, $snaps, $want) = @$case;
    my $opts = { with_snapshots => $snaps };
    my $copy = JSON->new->canonical->encode($opts);
    my $name = "$volid -> $target, with_snapshots=$snaps";

    my @got = eval { PVE::Storage::storage_migrate_formats($cfg, $volid, $target, $opts) };
    my $err = $@;
    if (ref($want) eq 'Regexp') {
        like($err, $want, "$name: dies like storage_migrate");
    } else {
        is_deeply(\@got, $want, "$name: [" . join(', ', @$want) . ']')
            or diag("error: $err");
    }
    is(JSON->new->canonical->encode($opts), $copy, "$name: options left as they were");

    $sent = undef;
    eval {
        PVE::Storage::storage_migrate($cfg, $volid, undef, $target, { with_snapshots => $snaps });
    };
    my $migrate_err = $@;
    if (ref($want) eq 'Regexp') {
        like($migrate_err, $want, "$name: storage_migrate refuses the same way");
    } elsif (@$want) {
        is($sent, $want->[0], "$name: storage_migrate sends $want->[0]")
            or diag("storage_migrate: $migrate_err");
    } else {
        like($migrate_err, qr/cannot migrate from storage type/, "$name: storage_migrate refuses");
    }
}

done_testing();
