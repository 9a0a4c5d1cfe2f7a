#!/usr/bin/perl
# preconditions.pl
#
# What the migration preconditions (GET /nodes/{node}/qemu/{vmid}/migrate and
# .../lxc/{vmid}/migrate, which the web UI asks before it offers a migration)
# report for guests on local third-party storage. qemu-server and pve-container
# from PERL5LIB, cluster and guest state mocked. Expectations per TRY_PHASE
# ('before': unmodified sources, 'after': with our change). Prints TAP.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON;
use Test::MockModule;
use Test::More;

use TryUpstreamTypes;
use PVE::API2::Qemu;
use PVE::API2::LXC;

my $phase = $ENV{TRY_PHASE} // 'after';
die "TRY_PHASE must be 'before' or 'after'\n" if $phase !~ m/^(?:before|after)$/;

my $storage_config = {
    ids => {
        'local-lvm' => {
            type => 'lvmthin',
            vgname => 'pve',
            thinpool => 'data',
            content => { images => 1, rootdir => 1 },
        },
        'swift-store' => {
            type => 'swift',
            path => '/srv/swift',
            content => { images => 1, rootdir => 1 },
        },
        'opaque-store' => {
            type => 'opaque',
            path => '/srv/opaque',
            content => { images => 1, rootdir => 1 },
        },
    },
};

my $vm = {
    memory => 512,
    ostype => 'l26',
    scsihw => 'virtio-scsi-pci',
    scsi0 => 'swift-store:300/vm-300-disk-0.qcow2,size=1G',
    scsi1 => 'opaque-store:300/vm-300-disk-1.raw,size=1G',
    scsi2 => 'local-lvm:vm-300-disk-2,size=1G',
    snapshots => {},
    pending => {},
};
my $ct = {
    arch => 'amd64',
    hostname => 'ct',
    ostype => 'debian',
    rootfs => 'swift-store:301/vm-301-disk-0.raw,size=4G',
    mp0 => 'opaque-store:301/vm-301-disk-1.raw,mp=/data,size=1G',
    mp1 => 'local-lvm:vm-301-disk-2,mp=/more,size=1G',
    snapshots => {},
};
my $running = 0;
our @keep_mocks;

package TryRPCEnv {
    sub new { bless {}, shift }
    sub get_user { 'root@pam' }
}

package main;

my $rpcenv = Test::MockModule->new('PVE::RPCEnvironment');
$rpcenv->mock(get => sub { TryRPCEnv->new() });
my $cluster = Test::MockModule->new('PVE::Cluster');
$cluster->mock(
    check_cfs_quorum => sub { 1 },
    get_nodelist => sub { ['pve0', 'pve1'] },
    cfs_read_file => sub { {} },
);
my $inotify = Test::MockModule->new('PVE::INotify');
$inotify->mock(nodename => sub { 'pve0' });
my $storage = Test::MockModule->new('PVE::Storage');
$storage->mock(config => sub { $storage_config });
my $ha = Test::MockModule->new('PVE::HA::Config');
$ha->mock(vm_is_ha_managed => sub { 0 });
for my $kind (qw(PCI USB Dir)) {
    my $m = Test::MockModule->new("PVE::Mapping::$kind");
    $m->mock(config => sub { {} });
    push @main::keep_mocks, $m;
}
my $qemu_config = Test::MockModule->new('PVE::QemuConfig');
$qemu_config->mock(load_config => sub { JSON::decode_json(JSON::encode_json($vm)) });
my $qemu_server = Test::MockModule->new('PVE::QemuServer');
$qemu_server->mock(check_running => sub { $running });
my $lxc_config = Test::MockModule->new('PVE::LXC::Config');
$lxc_config->mock(load_config => sub { JSON::decode_json(JSON::encode_json($ct)) });
my $lxc_mod = Test::MockModule->new('PVE::LXC');
$lxc_mod->mock(check_running => sub { 0 });

my $qemu_res = PVE::API2::Qemu->migrate_vm_precondition({ node => 'pve0', vmid => 300 });
my %disk = map { $_->{volid} => $_ } $qemu_res->{local_disks}->@*;
my ($swift, $opaque, $lvm) = @disk{
    'swift-store:300/vm-300-disk-0.qcow2', 'opaque-store:300/vm-300-disk-1.raw',
    'local-lvm:vm-300-disk-2',
};

ok($swift && $opaque && $lvm, "qemu ($phase): the three local disks are listed");
ok(!defined($swift->{'migration-blocker'}), "qemu ($phase): no blocker for the swift disk");
ok(!defined($lvm->{'migration-blocker'}), "qemu ($phase): no blocker for the lvmthin disk");
if ($phase eq 'before') {
    ok(!defined($opaque->{'migration-blocker'}),
        "qemu (before): the opaque disk is not reported: the UI offers a migration that fails");
} else {
    like($opaque->{'migration-blocker'} // '', qr/no transfer format in common/,
        "qemu (after): the opaque disk is reported with 'migration-blocker'");
    note("  $opaque->{'migration-blocker'}") if $opaque->{'migration-blocker'};
}

$running = 1;
$qemu_res = PVE::API2::Qemu->migrate_vm_precondition({ node => 'pve0', vmid => 300 });
%disk = map { $_->{volid} => $_ } $qemu_res->{local_disks}->@*;
ok(!defined($disk{'opaque-store:300/vm-300-disk-1.raw'}->{'migration-blocker'}),
    "qemu ($phase): running, the attached opaque disk would be mirrored: no blocker");
$running = 0;

my $lxc_res = PVE::API2::LXC->migrate_vm_precondition({ node => 'pve0', vmid => 301 });
if ($phase eq 'before') {
    ok(!exists($lxc_res->{'local-volumes'}),
        "lxc (before): local volumes are not reported at all");
} else {
    my %vol = map { $_->{volid} => $_ } ($lxc_res->{'local-volumes'} // [])->@*;
    ok(scalar(keys %vol) == 3, "lxc (after): the three local volumes are listed");
    ok(
        !defined($vol{'swift-store:301/vm-301-disk-0.raw'}->{'migration-blocker'})
            && !defined($vol{'local-lvm:vm-301-disk-2'}->{'migration-blocker'}),
        "lxc (after): no blocker for the swift and lvmthin volumes",
    );
    like($vol{'opaque-store:301/vm-301-disk-1.raw'}->{'migration-blocker'} // '',
        qr/no transfer format in common/, "lxc (after): the opaque volume is reported");
}

done_testing();
