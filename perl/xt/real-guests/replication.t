#!/usr/bin/perl -T
# Storage replication of raw disks without ZFS, run by PVE's own replication code:
# pve-guest-common's PVE::Replication::run_replication (a `local` job from replication.cfg,
# PVE::QemuConfig as the guest class, as `pvesr run` starts it), which calls prepare,
# find_common_replication_snapshot, replicate_volume and pve-storage's storage_migrate,
# between two nodes whose swift storages have the same ID: this node and NODE2 (the same
# machine, other directories, ssh intercepted by RealGuestHost: `pvesm export | ssh
# NODE2 pvesm import` runs volume_export here and volume_import with NODE2's storage.cfg,
# the stream counted on the way; `pvesr prepare-local-job`/`finalize-local-job` run as
# NODE2, pve-manager's own pvesr when its sources are there).
#
#  - Eligibility: storage_can_replicate per format on XFS, btrfs and ext4 (swift and dir).
#  - Refusals, compared step by step with a `dir` storage on the same file system: raw
#    and qcow2 disks on ext4, qcow2 disks on XFS: the replicate feature, the transfer
#    formats with snapshots, get_replicatable_volumes ("missing replicate feature on
#    volume ..."), `pvesr create-local-job` (pve-manager's API, when there), a replication
#    job of the VM, and qemu-server's API adding a disk to a replicated VM ("cannot add
#    non-replicatable volume to a replicated VM").
#  - Replication, on two loop-mounted XFS file systems, then two btrfs ones (one per
#    node): a stopped VM's raw disk, full then incremental rounds; after each the target's
#    volume and its snapshot are byte-identical to the source's snapshot, the snapshot IDs
#    (volume_snapshot_info) are equal, each side keeps only the latest replication
#    snapshot; ~200 KiB of scattered changes send under 1 MiB; a base snapshot the target
#    lacks, or has with another ID, fails the round with PVE's "No common base snapshot"
#    (and a direct import on that base fails) leaving the target as it was, and removing
#    the target's volume, as PVE's message says, makes the next round a full one; a stream
#    cut in the middle (the sender died), and an import killed mid-stream (SIGTERM,
#    SIGKILL), fail the round and leave the target's volume and snapshot as they were
#    (no file left behind either, but after SIGKILL the import's hidden temporary file,
#    which the next import removes), and the next round recovers incrementally.
#  - qemu-server migrates no local volume of a swift storage, replicated or not: the
#    replicated VM's migration is refused as in migrate-compare.t.
#  - pve-manager's pvesr as it is accepts only zfspool storages on the target node
#    ("storage '<id>' is not replicatable"): asserted (`pvesr create-local-job` accepts the
#    VM, but its job fails there on an unmodified PVE); the rounds above run it with that one check answered by
#    the plugin's storage_can_replicate instead ($RealGuestHost::PVESR_ZFSPOOL_ONLY).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use POSIX ();
use SwiftPluginTest;
use RealPVEHost;
use RealGuestHost;
use GuestCompare;

no warnings 'once';

if ($> != 0) {
    fail('the replication test loop-mounts XFS, btrfs and ext4: it must run as root');
    done_testing();
    exit;
}

my @load_warnings = grep { !/^for my \(\.\.\.\) is experimental/ } start_guest_host();
is_deeply(\@load_warnings, [], 'the real guest layer loads with the plugin, without a warning (but perl 5.36 on PVE 9 code)');
like($INC{'PVE/Replication.pm'}, qr{/pve-guest-common/src/PVE/Replication\.pm$}, "PVE::Replication is pve-guest-common's own");
my $pvesr = pvesr_source();
if ($pvesr eq 'pve-manager') {
    like($INC{'PVE/CLI/pvesr.pm'}, qr{/pve-manager/PVE/CLI/pvesr\.pm$}, "node2's pvesr is pve-manager's own");
} else {
    diag("pve-manager's sources are not there: node2's pvesr is RealGuestHost's stand-in");
}

use constant MB64 => 64 * 1024 * 1024;
use constant KiB => 1024;

my $node = NODE;
my $node2 = NODE2;

sub cfg { return PVE::Storage::config() }

# ---------------------------------------------------------------------------------------
# The file systems: two of each kind that shares extents (one per node), one ext4.

my %mounted;
$mounted{xfs} = [map { loop_mounted_dir('xfs') } 1, 2];
my $btrfs = -x '/sbin/mkfs.btrfs' || -x '/usr/sbin/mkfs.btrfs';
$mounted{btrfs} = [map { loop_mounted_dir('btrfs') } 1, 2] if $btrfs;
$mounted{ext4} = [loop_mounted_dir('ext4')];

# Storage ID => [type, this node's directory, NODE2's directory].
my %storages = (
    rxfs => ['swift', "$mounted{xfs}[0]/swift", "$mounted{xfs}[1]/swift"],
    dxfs => ['dir', "$mounted{xfs}[0]/dir", "$mounted{xfs}[1]/dir"],
    sext4 => ['swift', "$mounted{ext4}[0]/swift", "$mounted{ext4}[0]/swift2"],
    dext4 => ['dir', "$mounted{ext4}[0]/dir", "$mounted{ext4}[0]/dir2"],
    ($btrfs ? (rbtrfs => ['swift', "$mounted{btrfs}[0]/swift", "$mounted{btrfs}[1]/swift"]) : ()),
);
for my $sid (sort keys %storages) {
    my ($type, $path, $path2) = $storages{$sid}->@*;
    mkdir($_) or die "mkdir $_: $!\n" for $path, $path2;
    is(api_create($type, $sid, $path, { content => 'images,rootdir' })->{error}, '', "pvesm add $type $sid");
    $NODE2_PATH{$sid} = $path2;
}

# ---------------------------------------------------------------------------------------
# Helpers.

# replication.cfg: one `local` job per VM given, to NODE2.
sub write_jobs {
    my @vmids = @_;
    write_file("$RealPVEHost::CFS_DIR/replication.cfg", join('', map { "local: $_-0\n\ttarget $node2\n\n" } @vmids));
}

# `pvesr create-local-job <vmid>-0 NODE2`: pve-manager's API handler (its sources there).
sub create_job {
    my ($vmid) = @_;
    return caught(sub { PVE::API2::ReplicationConfig->create({ id => "$vmid-0", target => $node2, type => 'local' }) });
}

my $clock = time() - 3600;

# One run of the job as `pvesr run` does it: PVE::Replication::run_replication with the
# job's configuration, its start time a second after the last one. Returns what it did:
# the outcome (run_step), its log, the streams and remote commands, the job state.
sub run_job {
    my ($jobid, $fault) = @_;
    my $start = ++$clock;
    @STREAMS = ();
    @REMOTE_COMMANDS = ();
    local $RealGuestHost::STREAM_FAULT = $fault;
    my $jobcfg = PVE::ReplicationConfig->new()->{ids}->{$jobid} or die "no job $jobid in replication.cfg\n";
    # The IPCC stand-in reads replication.cfg with Perl (tainted); what pmxcfs answers
    # through the XS is not tainted, and the job's guest ID goes into a lock file's name.
    $jobcfg = { map { ($_ => untaint($jobcfg->{$_})) } keys %$jobcfg };
    my @log;
    my $outcome = run_step(sub {
        PVE::Replication::run_replication('PVE::QemuConfig', $jobcfg, $start, $start, sub { push @log, $_[0] });
    });
    my $state = PVE::ReplicationState::read_job_state($jobcfg);
    return {
        snap => scalar(PVE::ReplicationState::replication_snapshot_name($jobid, $start)), start => $start,
        outcome => $outcome, log => \@log, streams => [@STREAMS],
        remote => [map { "$_->[0] $_->[1]" } @REMOTE_COMMANDS], # the commands, not their arguments
        state => { map { ($_ => $state->{$_}) } qw(last_sync fail_count error) },
    };
}

# Writes $count blocks of $size random bytes into a raw image, at aligned offsets spread
# over all of it (one block in each of $count equal stretches); returns the bytes written.
sub scribble {
    my ($path, $count, $size) = @_;
    open(my $fh, '+<', $path) or die "$path: $!\n";
    open(my $random, '<', '/dev/urandom') or die "/dev/urandom: $!\n";
    binmode($_) for $fh, $random;
    my $stretch = int((-s $path) / $size / $count);
    for my $i (0 .. $count - 1) {
        read($random, my $data, $size) == $size or die "/dev/urandom: short read\n";
        seek($fh, ($i * $stretch + int(rand($stretch))) * $size, 0) or die "seek $path: $!\n";
        print {$fh} $data or die "write $path: $!\n";
    }
    close($fh) or die "close $path: $!\n";
    return $count * $size;
}

# A side's volume: its data, its snapshots (volume_snapshot_info) with each one's data, the
# VM's volumes the storage lists, and the files of the VM's image directory.
sub volume_state {
    my ($cfg, $volid, $vmid) = @_;
    my $path = PVE::Storage::path($cfg, $volid);
    my $info = PVE::Storage::volume_snapshot_info($cfg, $volid);
    my ($sid) = PVE::Storage::parse_volume_id($volid);
    my $dir = PVE::Storage::get_image_dir($cfg, $sid, $vmid);
    return {
        volumes => [sort map { $_->{volid} } (PVE::Storage::vdisk_list($cfg, $sid, $vmid)->{$sid} // [])->@*],
        data => -f $path ? checksum($path) : undef,
        snapshots => $info,
        'snapshot data' => { map { ($_ => -f "$path\@$_" ? checksum("$path\@$_") : 'no file') } keys %$info },
        files => files_below($dir),
    };
}

sub snapshot_ids {
    my ($info) = @_;
    return { map { ($_ => $info->{$_}->{id}) } keys %$info };
}

# ---------------------------------------------------------------------------------------
# Eligibility: storage_can_replicate, on both nodes' views.

my %can = map { ($_ => { raw => 0, qcow2 => 0, vmdk => 0, subvol => 0 }) } keys %storages;
$can{$_}->{raw} = 1 for grep { exists $can{$_} } qw(rxfs rbtrfs);
for my $sid (sort keys %storages) {
    for my $cfg ([cfg(), $node], [node2_cfg(), $node2]) {
        my %got = map { ($_ => scalar(PVE::Storage::storage_can_replicate($cfg->[0], $sid, $_))) } sort keys $can{$sid}->%*;
        is_deeply(\%got, $can{$sid}, "$sid ($storages{$sid}->[0]) on $cfg->[1]: storage_can_replicate "
            . join(', ', map { "$_ $can{$sid}->{$_}" } sort keys $can{$sid}->%*));
    }
}

# ---------------------------------------------------------------------------------------
# Refusals, dir and swift on the same file system, compared step by step. A VM per disk
# format (the same VM IDs in both runs: the observations hold volume IDs).

sub refusal {
    my ($side, @vms) = @_;
    my $sid = $side->sid;
    for my $vm (@vms) {
        my ($vmid, $format) = @$vm;
        my $jobid = "$vmid-0";
        is(qemu_api(create_vm => { vmid => $vmid, scsi0 => "$sid:0.0625,format=$format" })->{error}, '',
            $side->type . ": VM $vmid with a $format disk on $sid");
        my $volid = drive_volid($vmid, 'scsi0');
        $side->record("$format: replicate feature", caught(sub { PVE::Storage::volume_has_feature(cfg(), 'replicate', $volid) }));
        $side->record("$format: transfer formats with snapshots", caught(sub {
            return {
                export => [PVE::Storage::volume_export_formats(cfg(), $volid, '__replicate_1_1__', undef, 1)],
                'export incremental' => [PVE::Storage::volume_export_formats(cfg(), $volid, 'b', 'a', 1)],
                import => [PVE::Storage::volume_import_formats(node2_cfg(), $volid, '__replicate_1_1__', undef, 1)],
                transfer => [PVE::Storage::volume_transfer_formats(cfg(), $volid, $volid, '__replicate_1_1__', undef, 1)],
            };
        }));
        my $conf = PVE::QemuConfig->load_config($vmid);
        $side->record("$format: get_replicatable_volumes",
            caught(sub { PVE::QemuConfig->get_replicatable_volumes(cfg(), $vmid, $conf, 0, 0) }));
        $side->record("$format: get_replicatable_volumes (noerr)",
            caught(sub { PVE::QemuConfig->get_replicatable_volumes(cfg(), $vmid, $conf, 0, 1) }));
        if ($pvesr eq 'pve-manager') {
            my $created = create_job($vmid);
            $created->{'replication.cfg'} = slurp("$RealPVEHost::CFS_DIR/replication.cfg");
            $side->record("$format: pvesr create-local-job", $created);
        }
        write_jobs($vmid);
        my $run = run_job($jobid);
        $run->{"files on $node2"} = files_below($NODE2_PATH{$sid});
        delete $run->{$_} for qw(snap start);
        $side->record("$format: replication job", $run);
        $side->record("$format: add a $format disk to the replicated VM",
            qemu_api(update_vm => { vmid => $vmid, scsi1 => "$sid:0.0625,format=$format" }));
        write_jobs();
        is(qemu_api(destroy_vm => { vmid => $vmid, purge => 1 })->{error}, '', $side->type . ": VM $vmid destroyed");
    }
}

my @comparisons = (
    ['ext4, raw and qcow2', 'dext4', 'sext4', [700, 'raw'], [701, 'qcow2']],
    ['XFS, qcow2', 'dxfs', 'rxfs', [701, 'qcow2']],
);
for my $comparison (@comparisons) {
    my ($title, $dsid, $ssid, @vms) = @$comparison;
    my %sides;
    for my $sid ($dsid, $ssid) {
        my $type = $storages{$sid}->[0];
        $sides{$type} = side(sid => $sid, type => $type, path => $storages{$sid}->[1],
            also => { $NODE2_PATH{$sid} => '<node2 path>' });
        subtest "$title: $type run" => sub { refusal($sides{$type}, @vms) };
    }
    compare_runs($sides{dir}, $sides{swift}, {});

    # What dir answers (and swift with it, compared above), value by value.
    my %dir = map { ($_->[0] => GuestCompare::normalised($sides{dir}, $_->[1])) } $sides{dir}->{steps}->@*;
    for my $vm (@vms) {
        my ($vmid, $format) = @$vm;
        my $volid = "<storeid>:$vmid/vm-$vmid-disk-0.$format";
        my $refusal = "missing replicate feature on volume '$volid'\n";
        is_deeply($dir{"$format: replicate feature"}, { result => [undef], error => '', warnings => [] },
            "$title: dir: no replicate feature on a $format disk");
        is_deeply($dir{"$format: transfer formats with snapshots"}->{result}, [{ export => [], 'export incremental' => [],
            import => $format eq 'qcow2' ? ['qcow2+size'] : [], transfer => [] }],
            "$title: dir: no format to send a $format disk's snapshot in");
        is($dir{"$format: get_replicatable_volumes"}->{error}, $refusal, "$title: dir: get_replicatable_volumes: $refusal");
        is_deeply([map { $dir{"$format: pvesr create-local-job"}->{$_} } 'error', 'replication.cfg'], [$refusal, ''],
            "$title: dir: pvesr create-local-job refuses the VM with it") if $pvesr eq 'pve-manager';
        is_deeply($dir{"$format: get_replicatable_volumes (noerr)"}->{result}, [{}], "$title: dir: no replicatable volume (noerr)");
        my $job = $dir{"$format: replication job"};
        is($job->{outcome}->{error}, $refusal, "$title: dir: the replication job fails with it");
        is_deeply([$job->{log}->[-1], $job->{state}->{fail_count}, $job->{state}->{error}, $job->{remote}, $job->{streams}],
            ["end replication job with error: " . ($refusal =~ s/\n$//r), 1, $refusal =~ s/\n$//r, [], []],
            "$title: dir: logged and in the job state, nothing run on $node2");
        is($dir{"$format: add a $format disk to the replicated VM"}->{error},
            "cannot add non-replicatable volume to a replicated VM\n", "$title: dir: qemu-server refuses a $format disk for a replicated VM");
    }
}

# ---------------------------------------------------------------------------------------
# Replication rounds.

# pve-manager's pvesr as it is: the target node refuses the storage.
sub pvesr_as_is {
    my ($sid, $vmid) = @_;
    my $jobid = "$vmid-0";
    my $run = run_job($jobid);
    my $message = "storage '$sid' is not replicatable";
    like($run->{outcome}->{error}, qr/\Acommand '\/usr\/bin\/ssh .* -- pvesr prepare-local-job \Q$jobid\E .*' failed: exit code 255\n\z/s,
        "pvesr as it is: the job fails on ${node2}'s prepare-local-job");
    ok((grep { $_ eq "(remote_prepare_local_job) $message" } $run->{log}->@*), "pvesr as it is: it says \"$message\"")
        or diag(explain($run->{log}));
    is_deeply([$run->{streams}, PVE::Storage::volume_snapshot_info(cfg(), "$sid:$vmid/vm-$vmid-disk-0.raw")],
        [[], {}], 'pvesr as it is: nothing sent, no snapshot taken on the source');
}

# After a successful round: what ran, what was sent, both sides' snapshots and data.
sub check_round {
    my ($t, $run, $volid, $vmid, $base) = @_;
    my $snap = $run->{snap};
    is($run->{outcome}->{error}, '', "$t: the job succeeds") or diag(explain($run->{log}));
    my $line = defined($base) ? "incremental sync '$volid' ($base => $snap)" : "full sync '$volid' ($snap)";
    ok((grep { $_ eq $line } $run->{log}->@*), "$t: logged: $line") or diag(explain($run->{log}));
    is_deeply($run->{remote}, ['pvesr prepare-local-job', 'pvesm import', 'pvesr finalize-local-job'],
        "$t: on $node2: prepare-local-job, import, finalize-local-job");
    my @streams = map { my %s = %$_; delete $s{bytes}; \%s } $run->{streams}->@*;
    is_deeply(\@streams, [{ volid => $volid, format => 'raw+size', snapshot => $snap, base => $base, with_snapshots => 1 }],
        "$t: one raw+size stream with snapshots, " . (defined($base) ? "based on $base" : 'no base'));
    my ($path, $path2) = (scalar(PVE::Storage::path(cfg(), $volid)), scalar(PVE::Storage::path(node2_cfg(), $volid)));
    is_deeply([map { -f $_ ? 1 : 0 } $path2, "$path\@$snap", "$path2\@$snap"], [1, 1, 1],
        "$t: the files of the target's volume and of the snapshot on both sides exist");
    my $source = volume_state(cfg(), $volid, $vmid);
    my $target = volume_state(node2_cfg(), $volid, $vmid);
    is_deeply([sort keys $source->{snapshots}->%*], [$snap], "$t: the source keeps the new snapshot only");
    is_deeply([sort keys $target->{snapshots}->%*], [$snap], "$t: the target has the new snapshot only");
    my $id = $source->{snapshots}->{$snap}->{id};
    ok(defined($id) && !ref($id) && $id ne '', "$t: the snapshot has an ID");
    is($target->{snapshots}->{$snap}->{id}, $id, "$t: the same ID on both sides");
    is($target->{data}, $source->{'snapshot data'}->{$snap}, "$t: the target's volume is byte-identical to the source's snapshot");
    is($target->{'snapshot data'}->{$snap}, $source->{'snapshot data'}->{$snap}, "$t: so is the target's snapshot");
    is_deeply($target->{files}, ["vm-$vmid-disk-0.raw", "vm-$vmid-disk-0.raw\@$snap"], "$t: the target's files: the volume and its snapshot");
    is_deeply($run->{state}, { last_sync => $run->{start}, fail_count => 0, error => undef }, "$t: the job state records the sync");
    return $run;
}

# After a failed round: the target as it was (data, snapshots and their IDs and data, and
# files unless $files is false), the source back to its last snapshot.
sub check_failed_round {
    my ($t, $run, $volid, $vmid, $target_before, $source_snapshots, %opts) = @_;
    my $target = volume_state(node2_cfg(), $volid, $vmid);
    my ($now, $then) = ({ %$target }, { %$target_before });
    delete $_->{files} for $now, $then;
    is_deeply($now, $then, "$t: the target's volume and snapshots (data, IDs) are as they were");
    if (!$opts{sigkill}) {
        is_deeply($target->{files}, $target_before->{files}, "$t: no file added or removed on the target");
    } else {
        # SIGKILL cannot be caught: the import's temporary file stays until the next import
        # (check_round's file list after the next round asserts it is gone then).
        my %before = map { ($_ => 1) } $target_before->{files}->@*;
        my %now = map { ($_ => 1) } $target->{files}->@*;
        my @added = grep { !$before{$_} } $target->{files}->@*;
        is_deeply([[grep { !$now{$_} } $target_before->{files}->@*], [grep { !m{(?:^|/)\.[^/]+\z} } @added], @added <= 1 ? 1 : 0],
            [[], [], 1], "$t: no file removed on the target, no file added but at most one hidden (temporary) file");
        note("$t: left on the target until the next import: " . (join(', ', @added) || 'nothing'));
    }
    is_deeply(snapshot_ids(PVE::Storage::volume_snapshot_info(cfg(), $volid)), $source_snapshots,
        "$t: the source keeps its last snapshot only (the new one removed)");
    is($run->{state}->{fail_count}, ($opts{fail_count} // 1), "$t: the job state counts the failure");
}

sub rounds {
    my ($fs, $sid, $vmid) = @_;
    my $jobid = "$vmid-0";
    my $volid = "$sid:$vmid/vm-$vmid-disk-0.raw";
    is(qemu_api(create_vm => { vmid => $vmid, scsi0 => "$sid:0.0625" })->{error}, '', "$fs: VM $vmid with a raw disk on $sid");
    is(drive_volid($vmid, 'scsi0'), $volid, "$fs: its disk is $volid");
    my $path = PVE::Storage::path(cfg(), $volid);

    is(scalar(PVE::Storage::volume_has_feature(cfg(), 'replicate', $volid)), 1, "$fs: the raw disk has the replicate feature");
    is_deeply(PVE::QemuConfig->get_replicatable_volumes(cfg(), $vmid, PVE::QemuConfig->load_config($vmid), 0, 0),
        { $volid => 1 }, "$fs: get_replicatable_volumes lists it");
    is_deeply({
        export => [PVE::Storage::volume_export_formats(cfg(), $volid, 'b', undef, 1)],
        'export incremental' => [PVE::Storage::volume_export_formats(cfg(), $volid, 'b', 'a', 1)],
        import => [PVE::Storage::volume_import_formats(node2_cfg(), $volid, 'b', undef, 1)],
        'import incremental' => [PVE::Storage::volume_import_formats(node2_cfg(), $volid, 'b', 'a', 1)],
        transfer => [PVE::Storage::volume_transfer_formats(cfg(), $volid, $volid, 'b', 'a', 1)],
    }, { map { ($_ => ['raw+size']) } 'export', 'export incremental', 'import', 'import incremental', 'transfer' },
        "$fs: raw+size with snapshots, full and incremental, both ways");
    is_deeply(PVE::Storage::volume_snapshot_info(node2_cfg(), $volid), {}, "$fs: a volume $node2 does not have yet has no snapshots");

    # Snapshot IDs: a snapshot taken again under the same name is another snapshot.
    PVE::Storage::volume_snapshot(cfg(), $volid, '__migration__');
    is(scalar(PVE::Storage::path(cfg(), $volid, '__migration__')), "$path\@__migration__", "$fs: a snapshot is <volume>\@<name>");
    my $first = PVE::Storage::volume_snapshot_info(cfg(), $volid)->{__migration__};
    PVE::Storage::volume_snapshot_delete(cfg(), $volid, '__migration__');
    PVE::Storage::volume_snapshot(cfg(), $volid, '__migration__');
    my $again = PVE::Storage::volume_snapshot_info(cfg(), $volid)->{__migration__};
    ok(defined($first->{id}) && defined($again->{id}) && $first->{id} ne $again->{id},
        "$fs: the same name taken again has another ID ($first->{id}, $again->{id})");
    PVE::Storage::volume_snapshot_delete(cfg(), $volid, '__migration__');
    is_deeply(PVE::Storage::volume_snapshot_info(cfg(), $volid), {}, "$fs: deleted");

    if ($pvesr eq 'pve-manager') {
        is(create_job($vmid)->{error}, '', "$fs: pvesr create-local-job $vmid-0 $node2 (pve-manager's API) accepts the VM");
        is_deeply([map { PVE::ReplicationConfig->new()->{ids}->{$jobid}->{$_} } qw(type target source guest)],
            ['local', $node2, $node, $vmid], "$fs: the job is in replication.cfg");
        local $RealGuestHost::PVESR_ZFSPOOL_ONLY = 1;
        pvesr_as_is($sid, $vmid);
    } else {
        write_jobs($vmid);
    }
    local $RealGuestHost::PVESR_ZFSPOOL_ONLY = 0;

    # Full, then incremental.
    my $written = scribble($path, 64, 128 * KiB);
    my $full = check_round("$fs: full", run_job($jobid), $volid, $vmid, undef);
    cmp_ok($full->{streams}->[0]->{bytes}, '>=', $written, "$fs: full: the stream carries the 8 MiB written at least");
    note("$fs: full stream: $full->{streams}->[0]->{bytes} bytes (64 MiB disk, 8 MiB written)");
    my $full_id = PVE::Storage::volume_snapshot_info(cfg(), $volid)->{$full->{snap}}->{id};

    $written = scribble($path, 50, 4 * KiB);
    my $incremental = check_round("$fs: incremental", run_job($jobid), $volid, $vmid, $full->{snap});
    my $bytes = $incremental->{streams}->[0]->{bytes};
    cmp_ok($bytes, '<', 1024 * KiB, "$fs: incremental: 200 KiB changed in 50 places sent in under 1 MiB ($bytes bytes)");
    cmp_ok($bytes, '>=', $written, "$fs: incremental: the stream carries the 200 KiB changed at least");
    isnt(PVE::Storage::volume_snapshot_info(cfg(), $volid)->{$incremental->{snap}}->{id}, $full_id,
        "$fs: incremental: the new snapshot's ID is not the old one's");
    my $last = $incremental;

    # The target's base snapshot taken again (another ID), then missing.
    my $no_base = "No common base snapshot on volume(s) $volid\nPlease remove the problematic volume(s) from the replication "
        . "target or delete and re-create the whole job $jobid\n";
    for my $case ('taken again on the target (another ID)', 'missing on the target') {
        my $t = "$fs: base $case";
        PVE::Storage::volume_snapshot_delete(node2_cfg(), $volid, $last->{snap});
        PVE::Storage::volume_snapshot(node2_cfg(), $volid, $last->{snap}) if $case =~ /again/;
        my $source_ids = snapshot_ids(PVE::Storage::volume_snapshot_info(cfg(), $volid));
        my $before = volume_state(node2_cfg(), $volid, $vmid);
        isnt(($before->{snapshots}->{$last->{snap}} // {})->{id}, $source_ids->{$last->{snap}}, "$t: the IDs differ");
        scribble($path, 50, 4 * KiB);

        # pvesm export | pvesm import based on it, by hand: refused before writing.
        PVE::Storage::volume_snapshot(cfg(), $volid, 'by-hand');
        my $stream = RealPVEHost::scratch() . '/by-hand';
        my $export = run_step(sub { # (its progress line captured)
            open(my $out, '>', $stream) or die "$stream: $!\n";
            PVE::Storage::volume_export(cfg(), $out, $volid, 'raw+size', 'by-hand', $last->{snap}, 1);
            close($out) or die "$stream: $!\n";
        });
        is($export->{error}, '', "$t: pvesm export by hand, based on it");
        my $import = run_step(sub {
            open(my $in, '<', $stream) or die "$stream: $!\n";
            PVE::Storage::volume_import(node2_cfg(), $in, $volid, 'raw+size', 'by-hand', $last->{snap}, 1, 0);
        });
        unlink($stream);
        PVE::Storage::volume_snapshot_delete(cfg(), $volid, 'by-hand');
        isnt($import->{error}, '', "$t: an import based on it fails");
        note("$t: the import says: $import->{error}");
        is_deeply(volume_state(node2_cfg(), $volid, $vmid), $before, "$t: and leaves the target as it was");

        my $run = run_job($jobid);
        is($run->{outcome}->{error}, $no_base, "$t: the job fails: No common base snapshot ...");
        is_deeply([$run->{streams}, $run->{remote}], [[], ['pvesr prepare-local-job']], "$t: nothing sent");
        check_failed_round($t, $run, $volid, $vmid, $before, $source_ids, fail_count => $case =~ /again/ ? 1 : 2);
    }
    # As PVE's message says: the problematic volume removed from the target.
    PVE::Storage::vdisk_free(node2_cfg(), $volid);
    $last = check_round("$fs: after removing the target's volume", run_job($jobid), $volid, $vmid, undef);

    # A stream cut in the middle, an import killed in the middle: each followed by a round
    # that recovers.
    for my $fault ({ truncate => 0.5 }, { signal => 'TERM', after => 0.5 }, { signal => 'KILL', after => 0.5 }) {
        my $t = "$fs: " . ($fault->{truncate} ? 'stream cut in the middle' : "import killed (SIG$fault->{signal}) in the middle");
        my $source_ids = snapshot_ids(PVE::Storage::volume_snapshot_info(cfg(), $volid));
        my $before = volume_state(node2_cfg(), $volid, $vmid);
        $written = scribble($path, 64, 128 * KiB);
        my $run = run_job($jobid, $fault);
        my $sent = $run->{streams}->[0] // {};
        cmp_ok($sent->{bytes} // 0, '>=', $written, "$t: the stream would carry the 8 MiB changed");
        like($run->{outcome}->{error}, qr/\Acommand 'set -o pipefail && pvesm export .* -snapshot \Q$run->{snap}\E -base \Q$last->{snap}\E \| \/usr\/bin\/ssh .* -- pvesm import .*' failed: exit code 255\n\z/s,
            "$t: the job fails as the pipeline did");
        if ($fault->{signal}) {
            my $killed = $sent->{killed} // {};
            is_deeply([$killed->{alive}, POSIX::WIFSIGNALED($killed->{status} // 0) ? POSIX::WTERMSIG($killed->{status}) : 'no signal'],
                [1, $fault->{signal} eq 'TERM' ? 15 : 9], "$t: the import was running when the signal ended it");
            note("$t: killed after $killed->{sent} of $sent->{bytes} bytes");
        } else {
            my @said = grep { !/^(?:export|import): \d+ bytes/ } $run->{log}->@*;
            note("$t: the log: " . join(' | ', @said));
        }
        check_failed_round($t, $run, $volid, $vmid, $before, $source_ids, sigkill => ($fault->{signal} // '') eq 'KILL');
        $last = check_round("$t: the next round", run_job($jobid), $volid, $vmid, $last->{snap});
    }

    # Migrating the replicated VM: qemu-server lists the storage types whose local volumes
    # it migrates, replicated or not, and swift is not among them (as in migrate-compare.t).
    @STREAMS = ();
    @REMOTE_COMMANDS = ();
    my $migrate = qemu_api(migrate_vm => { vmid => $vmid, target => $node2 });
    like($migrate->{stdout}, qr/^.*can't migrate '\Q$volid\E' - storage type 'swift' not supported$/m,
        "$fs: qemu-server refuses to migrate the replicated VM: can't migrate '$volid' - storage type 'swift' not supported");
    is_deeply([$migrate->{error} ne '' ? 1 : 0, -f "$RealPVEHost::CFS_DIR/nodes/$node/qemu-server/$vmid.conf" ? 1 : 0, [@STREAMS],
        [map { "@$_" } @REMOTE_COMMANDS]], [1, 1, [], ['/bin/true']], "$fs: the migration fails, the VM stays, nothing replicated or sent");

    # qemu-server's API on a replicated VM: a disk the storage replicates may be added.
    is(qemu_api(update_vm => { vmid => $vmid, scsi1 => "$sid:0.0625,format=qcow2" })->{error},
        "cannot add non-replicatable volume to a replicated VM\n", "$fs: qemu-server refuses a qcow2 disk for the replicated VM");
    is(qemu_api(update_vm => { vmid => $vmid, scsi1 => "$sid:0.0625" })->{error}, '', "$fs: and adds a raw one");
    is_deeply(PVE::QemuConfig->get_replicatable_volumes(cfg(), $vmid, PVE::QemuConfig->load_config($vmid), 0, 0),
        { $volid => 1, "$sid:$vmid/vm-$vmid-disk-1.raw" => 1 }, "$fs: both raw disks are replicated");

    write_jobs();
    is(qemu_api(destroy_vm => { vmid => $vmid, purge => 1 })->{error}, '', "$fs: VM $vmid destroyed");
    PVE::Storage::vdisk_free(node2_cfg(), $volid);
}

subtest 'XFS: replication' => sub { rounds('XFS', 'rxfs', 600) };
if ($btrfs) {
    subtest 'btrfs: replication' => sub { rounds('btrfs', 'rbtrfs', 610) };
} else {
    fail('btrfs: mkfs.btrfs is missing (btrfs-progs; tools/check-real-guests installs it)');
}

done_testing();
