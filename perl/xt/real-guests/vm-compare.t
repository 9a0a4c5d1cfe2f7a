#!/usr/bin/perl -T
# A VM's disk lifecycle through qemu-server's own API handlers (PVE::API2::Qemu, run
# in-process: create_vm, resize_vm, update_vm, snapshot, rollback, delsnapshot, template,
# clone_vm, move_vm_disk, destroy_vm; `qm disk rescan` is PVE::QemuServer::rescan, the
# function the CLI calls), once with a `dir` storage and once with a `swift` storage,
# each on a directory of the same loop-mounted XFS (reflink=1), with stopped guests.
# Each step's outcome (result, error, warnings, printed output), the guest config and
# every volume of the guest (the storage's listing, format, size, parent, qemu-img's
# metadata: virtual size, cluster size, backing file, qcow2 options, internal snapshots,
# and the guest-visible data) are compared step by step, storage ID and path normalised.
# Data written before snapshots, clones and moves is checked on each side as well.
#
# Deliberate differences, asserted by name (see %rules):
#  - raw disks on a file system with reflinks take snapshots on swift (by reflink), where
#    dir refuses a snapshot of a VM with a raw disk; the rollback and deletion that follow
#    run on swift only (its data checked), and the VM config differs by that snapshot.
# Run it with tools/check-real-guests; GUESTS_COMPARE_DEBUG=1 shows every step's output.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use RealPVEHost;
use RealGuestHost;
use GuestCompare;

no warnings 'once';

my @load_warnings = grep { !/^for my \(\.\.\.\) is experimental/ } start_guest_host();
is_deeply(\@load_warnings, [], 'the real guest layer loads with the plugin, without a warning (but perl 5.36 on PVE 9 code)');
like($INC{'PVE/API2/Qemu.pm'}, qr{/qemu-server/src/PVE/API2/Qemu\.pm$}, "PVE::API2::Qemu is qemu-server's own");

if ($> != 0) {
    fail('the VM comparison loop-mounts XFS: it must run as root');
    done_testing();
    exit(1);
}

my %path = xfs_storages();

my $node = NODE;

sub cfg { return PVE::Storage::config() }


# The step's outcome with the guests' state after it.
sub observe {
    my ($side, $name, $outcome, @vmids) = @_;
    my %obs = (outcome => $outcome, files => files_below($side->path), 'other storage files' => files_below($path{other}));
    for my $vmid (@vmids) {
        $obs{"vm $vmid"} = eval { observe_guest(cfg(), 'qemu', $vmid, $side->sid, 'gother') } // { failed => "$@" };
    }
    return $side->record($name, \%obs);
}

sub conf { my ($vmid) = @_; return PVE::QemuConfig->load_config($vmid) }

# The guest-visible data of a VM's disk is $expected (a failure to read it fails the test).
sub data_is {
    my ($vmid, $key, $expected, $name) = @_;
    my $got = eval { content(cfg(), drive_volid($vmid, $key)) } // "error: $@";
    is($got, $expected, $name);
}

# Writes into a VM's disk; returns the new content (undef if that failed, failing a test).
sub write_disk {
    my ($vmid, $key, $byte) = @_;
    my $sum = eval { write_data(cfg(), drive_volid($vmid, $key), $byte) };
    fail("write into VM $vmid $key: $@") if !defined($sum);
    return $sum;
}

sub scenario {
    my ($side) = @_;
    my $sid = $side->sid;
    my $t = $side->type;

    # VM 100: a raw and a qcow2 disk.
    observe($side, 'create raw+qcow2', qemu_api(create_vm => { vmid => 100, scsi0 => "$sid:1",
        scsi1 => "$sid:1,format=qcow2", virtio0 => "$sid:0.5,format=raw,discard=on" }), 100);
    my %data;
    for my $key (qw(scsi0 scsi1)) {
        $data{$key} = write_disk(100, $key, 0x41);
    }
    observe($side, 'resize raw +1G', qemu_api(resize_vm => { vmid => 100, disk => 'scsi0', size => '+1G' }), 100);
    observe($side, 'resize qcow2 to 3G', qemu_api(resize_vm => { vmid => 100, disk => 'scsi1', size => '3G' }), 100);
    observe($side, 'resize shrink refused', qemu_api(resize_vm => { vmid => 100, disk => 'scsi1', size => '1G' }), 100);
    data_is(100, $_, $data{$_}, "$t: $_ keeps its data through resize") for qw(scsi0 scsi1);

    observe($side, 'add disk', qemu_api(update_vm => { vmid => 100, scsi2 => "$sid:1,format=qcow2" }), 100);
    observe($side, 'detach disk (unused)', qemu_api(update_vm => { vmid => 100, delete => 'scsi2' }), 100);
    observe($side, 'detach virtio0 (unused)', qemu_api(update_vm => { vmid => 100, delete => 'virtio0' }), 100);
    # A volume of the VM that no config references, as a failed task can leave: rescan adds it.
    my $orphan = run_step(sub { PVE::Storage::vdisk_alloc(cfg(), $sid, 100, 'qcow2', undef, 64 * 1024) });
    is($orphan->{error}, '', "$t: an unreferenced volume of VM 100");
    observe($side, 'rescan', run_step(sub { PVE::QemuServer::rescan(100) }), 100);
    observe($side, 'rescan again (nothing new)', run_step(sub { PVE::QemuServer::rescan(100) }), 100);
    observe($side, 'delete unused0', qemu_api(update_vm => { vmid => 100, delete => 'unused0' }), 100);
    my ($unused) = grep { /^unused\d+$/ } sort keys conf(100)->%*;
    observe($side, "reattach $unused", qemu_api(update_vm => { vmid => 100, scsi3 => conf(100)->{$unused} }), 100);

    # Snapshots of a VM with a raw disk: on XFS, swift takes them by reflink, dir refuses.
    my $snap = observe($side, 'raw+qcow2: snapshot', qemu_api(snapshot => { vmid => 100, snapname => 'before' }), 100);
    if ($snap->{outcome}->{error} eq '') {
        write_disk(100, $_, 0x42) for qw(scsi0 scsi1);
        observe($side, 'raw+qcow2: rollback', qemu_api(rollback => { vmid => 100, snapname => 'before' }), 100);
        data_is(100, $_, $data{$_}, "$t: rollback restores $_") for qw(scsi0 scsi1);
        observe($side, 'raw+qcow2: delete snapshot', qemu_api(delsnapshot => { vmid => 100, snapname => 'before' }), 100);
        data_is(100, $_, $data{$_}, "$t: $_ unchanged by deleting the snapshot") for qw(scsi0 scsi1);
    }

    # VM 101: qcow2 only; internal snapshots.
    observe($side, 'create qcow2', qemu_api(create_vm => { vmid => 101, scsi0 => "$sid:1,format=qcow2",
        sata0 => "$sid:1,format=qcow2" }), 101);
    my $a = write_disk(101, 'scsi0', 0x41);
    observe($side, 'qcow2: snapshot s1', qemu_api(snapshot => { vmid => 101, snapname => 's1', description => 'first' }), 101);
    my $b = write_disk(101, 'scsi0', 0x42);
    observe($side, 'qcow2: snapshot s2', qemu_api(snapshot => { vmid => 101, snapname => 's2' }), 101);
    write_disk(101, 'scsi0', 0x43);
    observe($side, 'qcow2: rollback s1', qemu_api(rollback => { vmid => 101, snapname => 's1' }), 101);
    data_is(101, 'scsi0', $a, "$t: rollback to s1 restores its data");
    observe($side, 'qcow2: rollback s2 (not the latest)', qemu_api(rollback => { vmid => 101, snapname => 's2' }), 101);
    data_is(101, 'scsi0', $b, "$t: rollback to s2 restores its data");
    observe($side, 'qcow2: delete s1', qemu_api(delsnapshot => { vmid => 101, snapname => 's1' }), 101);
    observe($side, 'qcow2: template refused with snapshots?', qemu_api(template => { vmid => 101 }), 101);
    observe($side, 'qcow2: delete s2', qemu_api(delsnapshot => { vmid => 101, snapname => 's2' }), 101);
    data_is(101, 'scsi0', $b, "$t: data kept after deleting the snapshots");

    # Template, linked and full clones.
    observe($side, 'template', qemu_api(template => { vmid => 101 }), 101);
    observe($side, 'template again', qemu_api(template => { vmid => 101 }), 101);
    observe($side, 'linked clone', qemu_api(clone_vm => { vmid => 101, newid => 102, full => 0, name => 'linked' }), 101, 102);
    data_is(102, 'scsi0', $b, "$t: the linked clone sees the template's data");
    my $c = write_disk(102, 'scsi0', 0x44);
    data_is(101, 'scsi0', $b, "$t: writing to the linked clone leaves the template");
    observe($side, 'linked clone: snapshot', qemu_api(snapshot => { vmid => 102, snapname => 'c1' }), 102);
    observe($side, 'linked clone: delete snapshot', qemu_api(delsnapshot => { vmid => 102, snapname => 'c1' }), 102);
    observe($side, 'full clone', qemu_api(clone_vm => { vmid => 101, newid => 103, full => 1, storage => $sid }), 101, 103);
    data_is(103, 'scsi0', $b, "$t: the full clone has the template's data");
    observe($side, 'full clone to raw', qemu_api(clone_vm => { vmid => 101, newid => 104, full => 1, storage => $sid, format => 'raw' }), 104);
    data_is(104, 'scsi0', $b, "$t: the raw full clone has the template's data");
    observe($side, 'destroy template refused (linked clone)', qemu_api(destroy_vm => { vmid => 101 }), 101);

    # Disk move to another storage and back.
    observe($side, 'move disk to dir storage', qemu_api(move_vm_disk => { vmid => 103, disk => 'scsi0', storage => 'gother', delete => 1 }), 103);
    data_is(103, 'scsi0', $b, "$t: moved disk keeps its data");
    observe($side, 'move disk back', qemu_api(move_vm_disk => { vmid => 103, disk => 'scsi0', storage => $sid, delete => 1 }), 103);
    data_is(103, 'scsi0', $b, "$t: moved-back disk keeps its data");
    observe($side, 'move disk back as raw', qemu_api(move_vm_disk => { vmid => 103, disk => 'sata0', storage => $sid, format => 'raw', delete => 0 }), 103);
    observe($side, 'move linked clone disk', qemu_api(move_vm_disk => { vmid => 102, disk => 'scsi0', storage => 'gother', delete => 1 }), 102);
    data_is(102, 'scsi0', $c, "$t: the moved linked clone keeps its data (now a full copy)");

    # Clean up through the API.
    for my $vmid (104, 103, 102, 101, 100) {
        observe($side, "destroy $vmid", qemu_api(destroy_vm => { vmid => $vmid, purge => 1, 'destroy-unreferenced-disks' => 1 }), $vmid);
    }
    is_deeply(files_below($side->path . '/images'), [], "$t: nothing left on the storage");
    is_deeply(files_below($path{other} . '/images'), [], "$t: nothing left on the other storage");
}

my ($dir, $swift) = run_both(\&scenario, \%path);

my %rules = (
    'raw+qcow2: snapshot' => {
        deliberate => 'swift snapshots raw disks on a file system with reflinks, dir refuses',
        check => sub {
            my ($d, $s) = @_;
            like($d->{outcome}->{error}, qr/snapshot feature is not available/, 'dir refuses the snapshot');
            is($s->{outcome}->{error}, '', 'swift takes it');
            like($s->{'vm 100'}->{config}, qr/^\[before\]$/m, 'swift: the snapshot is in the config');
        },
    },
);

for my $step ('raw+qcow2: rollback', 'raw+qcow2: delete snapshot') {
    $rules{$step} = {
        swift_only => 'follows the raw snapshot dir refuses',
        check => sub {
            my ($s) = @_;
            is($s->{outcome}->{error}, '', 'succeeds');
            is_deeply($s->{outcome}->{warnings}, [], 'without a warning');
            my $has_snapshot = $step =~ /delete/ ? 0 : 1;
            is(scalar($s->{'vm 100'}->{config} =~ /^\[before\]$/m) ? 1 : 0, $has_snapshot, 'the config has the snapshot until it is deleted');
            my @snapshot_files = grep { /before/ } $s->{files}->@*;
            is(scalar(@snapshot_files) ? 1 : 0, $has_snapshot, 'a snapshot file (reflink) exists until the snapshot is deleted')
                or diag("@snapshot_files");
        },
    };
}

compare_runs($dir, $swift, \%rules);
done_testing();
