#!/usr/bin/perl
# qemu-custom-types.pl QEMU_SERVER_SRC
#
# Migrations of VMs whose disks are on local storage of third-party types
# ('swift', 'opaque': see lib/TryUpstreamTypes.pm), run through qemu-server's
# own migration test harness (src/test/MigrationTest: PVE::QemuMigrate with the
# storage layer, QEMU and ssh mocked), with the expectation for the phase in
# TRY_PHASE: 'before' (unmodified sources) or 'after' (with our change).
# Prints TAP.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use JSON;
use Test::More;

my $src = shift // die "usage: $0 QEMU_SERVER_SRC\n";
$src = abs_path($src);
my $phase = $ENV{TRY_PHASE} // 'after';
die "TRY_PHASE must be 'before' or 'after'\n" if $phase !~ m/^(?:before|after)$/;
my $ourlib = abs_path(dirname(__FILE__) . '/lib');

my $storage_config = {
    ids => {
        'local-lvm' => {
            type => 'lvmthin',
            vgname => 'pve',
            thinpool => 'data',
            content => { images => 1 },
        },
        'swift-store' => {
            type => 'swift',
            path => '/srv/swift-store',
            content => { images => 1 },
        },
        'opaque-store' => {
            type => 'opaque',
            path => '/srv/opaque-store',
            content => { images => 1 },
        },
    },
};

sub vm {
    my ($vmid, %disks) = @_;
    return {
        bootdisk => 'scsi0',
        cores => 1,
        memory => 512,
        name => "vm$vmid",
        net0 => 'virtio=4A:A3:E4:4C:CF:F0,bridge=vmbr0',
        ostype => 'l26',
        scsihw => 'virtio-scsi-pci',
        smbios1 => 'uuid=2c00c030-0b5b-4988-a371-6ab259893f22',
        sockets => 1,
        vmgenid => '2c00c030-0b5b-4988-a371-6ab259893f22',
        snapshots => {},
        pending => {},
        %disks,
    };
}

my $vms = {
    150 => vm(
        150,
        scsi0 => 'swift-store:150/vm-150-disk-0.qcow2,size=1G',
        scsi1 => 'swift-store:150/vm-150-disk-1.raw,size=2G',
    ),
    151 => vm(
        151,
        scsi0 => 'swift-store:151/vm-151-disk-0.qcow2,size=1G',
        parent => 'snap1',
        snapshots => {
            snap1 => {
                %{ vm(151, scsi0 => 'swift-store:151/vm-151-disk-0.qcow2,size=1G') },
                snaptime => 1700000000,
            },
        },
    ),
    152 => vm(152, scsi0 => 'opaque-store:152/vm-152-disk-0.raw,size=1G'),
    153 => vm(153, scsi0 => 'swift-store:153/vm-153-disk-0.qcow2,size=1G'),
    154 => vm(154, scsi0 => 'swift-store:154/vm-154-disk-0.raw,size=1G'),
};
delete $vms->{151}->{snapshots}->{snap1}->{snapshots};
delete $vms->{151}->{snapshots}->{snap1}->{pending};

my $source_vdisks = {};
for my $vmid (sort keys %$vms) {
    for my $key (sort keys %{ $vms->{$vmid} }) {
        next if $key !~ m/^scsi\d+$/;
        my ($volid) = split(/,/, $vms->{$vmid}->{$key});
        my ($storeid) = split(/:/, $volid);
        my ($format) = $volid =~ m/\.(\w+)$/;
        push $source_vdisks->{$storeid}->@*,
            {
                volid => $volid,
                vmid => "$vmid",
                format => $format // 'raw',
                size => 1073741824,
                ctime => 1700000000,
            };
    }
}

my $running = { running => 1, runningmachine => 'pc-q35-5.0+pve0' };
my $stopped = { running => 0 };
my $online = { online => 1, 'with-local-disks' => 1 };

my $tests = [
    {
        name => 'swift_offline',
        what => 'stopped VM, two disks on a local swift storage',
        vmid => 150,
        vm_status => $stopped,
        before => { die => "storage type 'swift' not supported" },
        after => {
            target_volids => [
                'swift-store:150/vm-150-disk-0.qcow2', 'swift-store:150/vm-150-disk-1.raw',
            ],
        },
    },
    {
        name => 'swift_running_with_local_disks',
        what => 'running VM, its disks mirrored to the same swift storage on the target',
        vmid => 150,
        vm_status => $running,
        opts => $online,
        before => { die => "storage type 'swift' not supported" },
        after => {
            target_volids => [
                'swift-store:150/vm-150-disk-10.qcow2', 'swift-store:150/vm-150-disk-11.raw',
            ],
        },
    },
    {
        name => 'swift_offline_with_snapshot',
        what => 'stopped VM, a qcow2 disk with an internal snapshot (sent as qcow2+size)',
        vmid => 151,
        vm_status => $stopped,
        before => { die => "storage type 'swift' not supported" },
        after => { target_volids => ['swift-store:151/vm-151-disk-0.qcow2'] },
    },
    {
        name => 'swift_raw_offline_to_lvmthin',
        what => 'stopped VM, a raw disk sent to an lvmthin storage (raw+size in common)',
        vmid => 154,
        vm_status => $stopped,
        opts => { targetstorage => 'local-lvm' },
        storage_migrate_map => { 'swift-store:154/vm-154-disk-0.raw' => 'vm-154-disk-0' },
        before => { die => "storage type 'swift' not supported" },
        after => { target_volids => ['local-lvm:vm-154-disk-0'] },
    },
    {
        name => 'swift_qcow2_offline_to_lvmthin_refused',
        what => 'stopped VM, a qcow2 disk to lvmthin, which cannot hold qcow2',
        vmid => 153,
        vm_status => $stopped,
        opts => { targetstorage => 'local-lvm' },
        before => { die => "storage type 'swift' not supported" },
        after => { die => "cannot move it to storage 'local-lvm': unsupported format 'qcow2'" },
    },
    {
        name => 'opaque_offline_refused',
        what => 'stopped VM on a type that offers no format its target imports',
        vmid => 152,
        vm_status => $stopped,
        before => { die => "storage type 'opaque' not supported" },
        after => {
            die => "no transfer format in common: storage 'opaque-store' (type 'opaque')"
                . " cannot export it in a format that storage 'opaque-store'",
        },
    },
    {
        name => 'opaque_running_mirrored',
        what => 'running VM on that type: QEMU mirrors the disk, no transfer format needed',
        vmid => 152,
        vm_status => $running,
        opts => $online,
        before => { die => "storage type 'opaque' not supported" },
        after => { target_volids => ['opaque-store:152/vm-152-disk-10.raw'] },
    },
];

my $base = tempdir('qemu-custom-types-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub put {
    my ($path, $data) = @_;
    open(my $fh, '>', $path) or die "$path: $!\n";
    print $fh (ref($data) ? to_json($data) : $data);
    close($fh);
}

sub get {
    my ($path) = @_;
    open(my $fh, '<', $path) or return undef;
    local $/;
    my $text = <$fh>;
    close($fh);
    return $text;
}

my $only = shift;

for my $test (@$tests) {
    my $name = $test->{name};
    next if defined($only) && $name ne $only;
    my $expect = $test->{$phase};
    my $dir = "$base/$name";
    make_path($dir);

    my $opts = { %{ $test->{opts} // {} } };
    my $migrate_params = { target => 'pve1', vmid => $test->{vmid}, opts => $opts };
    if (my $map = $opts->{targetstorage}) {
        # as the API does: the map goes to PVE::QemuMigrate parsed
        require PVE::JSONSchema;
        $opts->{storagemap} = PVE::JSONSchema::parse_idmap($map, 'pve-storage-id');
    }
    my $source_volids = {
        map { $_->{vmid} eq $test->{vmid} ? ($_->{volid} => 1) : () }
            map { @$_ } values %$source_vdisks
    };

    put("$dir/replication_config", { ids => {}, order => {} });
    put("$dir/storage_config", $storage_config);
    put("$dir/source_vdisks", $source_vdisks);
    put("$dir/nbd_info", {});
    put("$dir/source_volids", $source_volids);
    put("$dir/target_volids", {});
    put("$dir/vm_config", $vms->{ $test->{vmid} });
    put("$dir/vm_status", $test->{vm_status});
    put("$dir/expected_calls", {});
    put("$dir/fail_config", {});
    put("$dir/storage_migrate_map", $test->{storage_migrate_map} // {});
    put("$dir/migrate_params", $migrate_params);

    local $ENV{RUN_DIR_PATH} = $dir;
    local $ENV{QM_LIB_PATH} = $src;
    # the target's 'qm start' is a separate perl process: it needs the types too
    local $ENV{PERL5LIB} = join(':', $ourlib, $ENV{PERL5LIB} // ());
    local $ENV{PERL5OPT} = join(' ', '-MTryUpstreamTypes', $ENV{PERL5OPT} // ());

    my $out = `/usr/bin/perl -I$src -I$src/test $src/test/MigrationTest/QemuMigrateMock.pm 2>&1`;
    my $failed = $? != 0;
    my $log = get("$dir/log") // '';
    my $target = decode_json(get("$dir/target_volids") // '{}');
    my $left = decode_json(get("$dir/source_volids") // '{}');

    my $label = "$name ($phase: "
        . ($expect->{die} ? 'refused' : 'migrates') . ") - $test->{what}";
    if (my $want = $expect->{die}) {
        my $matched = grep { m/^(?:err|warn):.*\Q$want\E/ } split(/\n/, $log);
        ok($failed && $matched, $label)
            or diag("wanted a refusal with: $want\nlog:\n$log\n$out");
        my ($line) = grep { m/\Q$want\E/ } split(/\n/, $log);
        note("  $line") if $line;
    } else {
        my $want_target = { map { $_ => 1 } @{ $expect->{target_volids} } };
        my $canon = JSON->new->canonical;
        my $ok = !$failed && !scalar(keys %$left)
            && $canon->encode($target) eq $canon->encode($want_target);
        ok($ok, $label)
            or diag("wanted success, on the target: "
                . join(', ', sort keys %$want_target) . "\ngot: "
                . join(', ', sort keys %$target) . "; left on the source: "
                . join(', ', sort keys %$left) . "\nlog:\n$log\n$out");
    }
}

done_testing();
