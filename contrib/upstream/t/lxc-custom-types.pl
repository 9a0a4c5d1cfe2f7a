#!/usr/bin/perl
# lxc-custom-types.pl
#
# Migrations of containers whose volumes are on local storage of third-party
# types ('swift', 'opaque': see lib/TryUpstreamTypes.pm) and, for comparison,
# of PVE's own 'dir': PVE::LXC::Migrate->migrate() from pve-container on PERL5LIB,
# with cluster, ssh and the storage layer's data movement mocked (pve-container
# has no migration test harness of its own). Expectations per TRY_PHASE
# ('before': unmodified sources, 'after': with our change). Prints TAP.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON;
use Storable qw(dclone);
use Test::MockModule;
use Test::More;

use TryUpstreamTypes;
use PVE::LXC::Migrate;

my $phase = $ENV{TRY_PHASE} // 'after';
die "TRY_PHASE must be 'before' or 'after'\n" if $phase !~ m/^(?:before|after)$/;

my $storage_config = {
    ids => {
        'local-dir' => { type => 'dir', path => '/srv/local-dir', content => { rootdir => 1 } },
        'swift-store' => { type => 'swift', path => '/srv/swift', content => { rootdir => 1 } },
        'swift-other' => { type => 'swift', path => '/srv/swift2', content => { rootdir => 1 } },
        'opaque-store' => { type => 'opaque', path => '/srv/opaque', content => { rootdir => 1 } },
    },
};

sub ct {
    my (%keys) = @_;
    return {
        arch => 'amd64',
        hostname => 'ct',
        memory => 512,
        ostype => 'debian',
        snapshots => {},
        %keys,
    };
}

my $cts = {
    200 => ct(rootfs => 'swift-store:200/vm-200-disk-0.raw,size=4G',
        mp0 => 'swift-store:200/subvol-200-disk-1.subvol,mp=/data,size=1G'),
    201 => ct(rootfs => 'swift-store:201/vm-201-disk-0.raw,size=4G', parent => 'snap1',
        snapshots => { snap1 => { rootfs => 'swift-store:201/vm-201-disk-0.raw,size=4G',
            snaptime => 1700000000, arch => 'amd64', hostname => 'ct', ostype => 'debian' } }),
    202 => ct(rootfs => 'opaque-store:202/vm-202-disk-0.raw,size=4G'),
    203 => ct(rootfs => 'local-dir:203/vm-203-disk-0.raw,size=4G'),
};

my $tests = [
    {
        name => 'ct_swift_offline',
        what => 'stopped container, rootfs and a subvol mount point on swift',
        vmid => 200,
        before => { die => "storage type 'swift' not supported" },
        after => {
            migrated => {
                'swift-store:200/vm-200-disk-0.raw' => 'swift-store with_snapshots=0',
                'swift-store:200/subvol-200-disk-1.subvol' => 'swift-store with_snapshots=0',
            },
        },
    },
    {
        name => 'ct_swift_to_other_swift',
        what => 'the same, mapped to another swift storage',
        vmid => 200,
        opts => { storagemap => 'swift-store:swift-other' },
        before => { die => "storage type 'swift' not supported" },
        after => {
            migrated => {
                'swift-store:200/vm-200-disk-0.raw' => 'swift-other with_snapshots=0',
                'swift-store:200/subvol-200-disk-1.subvol' => 'swift-other with_snapshots=0',
            },
        },
    },
    {
        name => 'ct_swift_snapshot_refused',
        what => 'a raw rootfs with a snapshot: like dir, no format carries it',
        vmid => 201,
        before => { die => 'non-migratable snapshot exists' },
        after => {
            die => "no transfer format in common: storage 'swift-store' (type 'swift')"
                . " cannot export it with its snapshots",
        },
    },
    {
        name => 'ct_opaque_refused',
        what => 'a type that offers no format its target imports',
        vmid => 202,
        before => { die => "storage type 'opaque' not supported" },
        after => { die => "no transfer format in common: storage 'opaque-store' (type 'opaque')" },
    },
    {
        name => 'ct_dir_unchanged',
        what => "PVE's own dir storage, as before",
        vmid => 203,
        before => { migrated => { 'local-dir:203/vm-203-disk-0.raw' => 'local-dir with_snapshots=0' } },
        after => { migrated => { 'local-dir:203/vm-203-disk-0.raw' => 'local-dir with_snapshots=0' } },
    },
];

# --- mocks -----------------------------------------------------------------

my ($conf, $log, $migrated, $freed, $moved);

my $cfs_read_file = sub {
    my ($file) = @_;
    return {} if $file eq 'datacenter.cfg';
    return { ids => {}, order => {} } if $file eq 'replication.cfg';
    die "cfs_read_file (mocked): $file\n";
};

my $cluster = Test::MockModule->new('PVE::Cluster');
$cluster->mock(cfs_read_file => $cfs_read_file, check_cfs_quorum => sub { 1 });
my $repl_cfg = Test::MockModule->new('PVE::ReplicationConfig');
$repl_cfg->mock(cfs_read_file => $cfs_read_file);
my $inotify = Test::MockModule->new('PVE::INotify');
$inotify->mock(nodename => sub { 'pve0' });
my $sshinfo = Test::MockModule->new('PVE::SSHInfo');
$sshinfo->mock(get_ssh_info => sub { { ip => '127.0.0.2', name => $_[0], network => $_[1] } });
my $tools = Test::MockModule->new('PVE::Tools');
$tools->mock(
    run_command => sub {
        my ($cmd) = @_;
        return 0 if ref($cmd) eq 'ARRAY' && $cmd->[0] =~ m@(?:^|/)ssh$@;
        die "run_command (mocked): @$cmd\n";
    },
);

my $lxc_config = Test::MockModule->new('PVE::LXC::Config');
$lxc_config->mock(
    load_config => sub { dclone($conf) },
    write_config => sub { $conf = dclone($_[2]) },
    lock_config => sub { my ($class, $vmid, $code, @param) = @_; $code->(@param) },
    move_config_to_node => sub { $moved = $_[2] },
    remove_lock => sub { delete $conf->{lock} },
);
my $lxc = Test::MockModule->new('PVE::LXC');
$lxc->mock(check_running => sub { 0 }, umount_all => sub { });
my $storage = Test::MockModule->new('PVE::Storage');
$storage->mock(
    config => sub { $storage_config },
    activate_volumes => sub { 1 },
    deactivate_volumes => sub { 1 },
    get_bandwidth_limit => sub { undef },
    vdisk_free => sub { $freed->{ $_[1] } = 1 },
    storage_migrate => sub {
        my ($cfg, $volid, $sshinfo, $target_storeid, $opts) = @_;
        $migrated->{$volid} = "$target_storeid with_snapshots=" . ($opts->{with_snapshots} ? 1 : 0);
        my (undef, $volname) = PVE::Storage::parse_volume_id($volid);
        return "$target_storeid:$volname";
    },
);
my $migrate = Test::MockModule->new('PVE::LXC::Migrate');
$migrate->mock(
    log => sub { my ($self, $level, $msg) = @_; chomp($msg); $log .= "$level: $msg\n" },
    transfer_replication_state => sub { },
    switch_replication_job_target => sub { },
);

# --- run -------------------------------------------------------------------

for my $test (@$tests) {
    my $expect = $test->{$phase};
    ($conf, $log, $migrated, $freed, $moved) = (dclone($cts->{ $test->{vmid} }), '', {}, {}, undef);

    my $opts = { %{ $test->{opts} // {} } };
    $opts->{storagemap} = PVE::JSONSchema::parse_idmap($opts->{storagemap}, 'pve-storage-id')
        if $opts->{storagemap};

    eval { PVE::LXC::Migrate->migrate('pve1', undef, $test->{vmid}, $opts) };
    my $err = $@;

    my $label = "$test->{name} ($phase: " . ($expect->{die} ? 'refused' : 'migrates')
        . ") - $test->{what}";
    if (my $want = $expect->{die}) {
        my ($line) = grep { m/\Q$want\E/ } split(/\n/, $log);
        ok($err && $line && !scalar(keys %$migrated), $label)
            or diag("wanted a refusal with: $want\nerror: $err\nlog:\n$log");
        note("  $line") if $line;
    } else {
        my $canon = JSON->new->canonical;
        my $ok = !$err && ($moved // '') eq 'pve1'
            && $canon->encode($migrated) eq $canon->encode($expect->{migrated});
        ok($ok, $label)
            or diag("wanted: " . $canon->encode($expect->{migrated}) . "\ngot: "
                . $canon->encode($migrated) . "\nerror: $err\nlog:\n$log");
    }
}

done_testing();
