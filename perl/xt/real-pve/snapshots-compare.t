#!/usr/bin/perl -T
# Contract (issue 8 acceptance criteria): next to PVE's real storage layer, the snapshot
# steps of a VM disk lifecycle give the same results on a `swift` storage as on PVE's
# `dir` storage on the same directory, in both snapshot modes (qcow2 internal snapshots,
# and `snapshot-as-volume-chain`), and raw disks are refused with dir's messages on ext4;
# on XFS (reflink=1) and btrfs, the swift storage snapshots, rolls back (data verified by
# checksum) and deletes raw disks where dir refuses, and dir's own listing of that
# directory still shows no snapshot file. Run it with tools/check-real-pve.
#
# Every step runs through PVE::Storage's own functions (vdisk_alloc, volume_snapshot,
# volume_snapshot_info, volume_rollback_is_possible with a blockers list,
# volume_snapshot_rollback, volume_snapshot_delete offline and running, rename_snapshot
# (also of `current` in a chain), volume_qemu_snapshot_method,
# volume_snapshot_needs_fsfreeze, volume_has_feature for snapshot and copy with and
# without a snapshot name, volume_resize with a snapshot name, qemu_blockdev_options with
# a snapshot name, vdisk_list, vdisk_free), first for a dir storage, then for a swift
# storage on the same (emptied) directory. Compared step by step: the result, the error
# (byte for byte), warnings, what the step printed (stdout, and stderr including that of
# qemu-img), the directory tree (names, kinds, modes), the qcow2 metadata of every image
# file (backing file and its format, virtual size, compat, cluster size, extended L2,
# internal snapshot names and sizes), and the guest-visible data of the disk (checksum
# of `qemu-img convert` to raw), which is also checked against the data written before
# each snapshot. After every step of the swift run, dir's own list_images of the same
# directory must equal swift's (storage ID substituted): no chain or reflink file shows
# as a volume for either.
#
# The lifecycles run on a loop-mounted ext4 (no reflinks, so raw disks take no snapshot
# on either side), the raw snapshots on loop-mounted XFS and btrfs: this needs root, and
# without root, or when a file system cannot be made or mounted, the test fails.
#
# Normalised before comparing: the storage ID, the plugin class in messages, snapshot
# timestamps (checked to be recent, then replaced). Deliberate differences, asserted as
# such (see the plugin's POD):
#  - volume_snapshot_info of an internal qcow2 snapshot also reports its 'virtual-size'
#    (checked against qemu-img's, then removed from swift's answer);
#  - chain mode: the oldest snapshot of a linked clone has no 'parent' key, where dir
#    reports parent => undef and a bogus '' entry ({ child => <oldest> });
#  - snapshot names: swift accepts only PVE's configid rule (at most 40 characters);
#    dir hands any name to qemu-img or into a file name;
#  - raw disks on a file system with reflinks take snapshots (`<volume>@<snap>`).
# On PVE 8's sources (tools/check-real-pve --pve8), which have no volume chains, the chain
# pair and its lifecycle are skipped (RealPVEHost's host_has_volume_chain); steps calling
# what PVE 8's PVE::Storage lacks (rename_snapshot, volume_qemu_snapshot_method,
# qemu_blockdev_options) are shown to fail alike and not compared. Deliberate there: PVE
# 8's dir has no volume_snapshot_info (it dies); swift answers as PVE 9's dir does (each
# internal snapshot with its timestamp, checked against the image's qcow2 metadata).
# The atomic replacement of the volume in chain mode (snapshot and rollback) is not
# visible in the results and is compared like everything else. Differences found that
# are not deliberate would be TODO tests naming them (%internal_known, %chain_known; none
# is left); the smaller deliberate ones are listed at `deliberately` below.
# SNAPSHOTS_COMPARE_DEBUG=1 prints both outcomes of every step that differs.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use RealPVEHost qw(:DEFAULT run_step write_data content slurp);
use Storable ();

no warnings 'once';

my @load_warnings = start_real_host();
is_deeply(\@load_warnings, [], 'the real PVE::Storage loads with the plugin, without a warning');
unlike($INC{'PVE/Storage.pm'}, qr{/perl/t/lib/}, "PVE::Storage is PVE's own");
require PVE::API2::Storage::Config;

if ($> != 0) {
    fail('the snapshot comparison loop-mounts ext4, XFS and btrfs file systems: it must run as root');
    done_testing();
    exit(1);
}

my $MiB = MiB;
my $cfg;

# ---------------------------------------------------------------------------------------
# Helpers

# The qcow2 metadata of every image file below $root that is a qcow2 file.
sub image_infos {
    my ($root) = @_;
    my %infos;
    for my $rel (files_below($root)->@*) {
        my $file = "$root/$rel";
        next if !-f $file;
        open(my $fh, '<', $file) or next;
        binmode($fh);
        read($fh, my $magic, 4);
        close($fh);
        next if ($magic // '') ne "QFI\xfb";
        my $info = qemu_img_info($file, 'qcow2');
        my $data = ($info->{'format-specific'} // {})->{data} // {};
        $infos{$rel} = {
            map({ ($_ => $info->{$_}) } grep { defined($info->{$_}) }
                qw(virtual-size cluster-size backing-filename full-backing-filename backing-filename-format dirty-flag)),
            map({ ("spec-$_" => ref($data->{$_}) ? "$data->{$_}" : $data->{$_}) } grep { defined($data->{$_}) && !ref($data->{$_}) }
                qw(compat lazy-refcounts refcount-bits corrupt extended-l2 compression-type)),
            snapshots => [map { "$_->{name} vm-state-size=$_->{'vm-state-size'} icount=" . ($_->{icount} // '-') }
                ($info->{snapshots} // [])->@*],
        };
    }
    return \%infos;
}

sub without_class {
    my ($value) = @_;
    return { map { ($_ => without_class($value->{$_})) } keys %$value } if ref($value) eq 'HASH';
    return [map { without_class($_) } @$value] if ref($value) eq 'ARRAY';
    return $value if !defined($value) || ref($value);
    return $value =~ s/PVE::Storage::(?:DirPlugin|Custom::SwiftPlugin)/<class>/gr;
}

# Snapshot timestamps: recent, then replaced.
sub without_timestamps {
    my ($value) = @_;
    if (ref($value) eq 'HASH') {
        my %copy;
        for my $key (keys %$value) {
            if (($key eq 'timestamp' || $key eq 'ctime') && defined($value->{$key}) && !ref($value->{$key})) {
                $copy{$key} = abs($value->{$key} - time()) < 600 ? 'RECENT' : "OLD($value->{$key})";
            } else {
                $copy{$key} = without_timestamps($value->{$key});
            }
        }
        return \%copy;
    }
    return [map { without_timestamps($_) } @$value] if ref($value) eq 'ARRAY';
    return $value;
}

# volume_has_feature for snapshot and copy: current, a snapshot, a missing one; running or not.
sub features {
    my @answers;
    for my $volid (@_) {
        for my $feature (qw(snapshot copy)) {
            for my $snap (undef, 's3', 'nope') {
                push @answers, map { PVE::Storage::volume_has_feature($cfg, $feature, $volid, $snap, $_) } (0, 1);
            }
        }
    }
    return @answers;
}

# volume_rollback_is_possible with a blockers list: [result, blockers].
sub rollback_possible {
    my ($volid, $snap) = @_;
    my $blockers = [];
    my $ok = eval { PVE::Storage::volume_rollback_is_possible($cfg, $volid, $snap, $blockers) };
    my $error = $@;
    return ({ result => $ok, blockers => $blockers, error => $error });
}

# Runs the steps for one storage; a step is [name, code, options]; options:
# data => the key of %$data the disk's content must equal after the step (the volid in
# options->{volid}); record => a key to store the content under after the step.
sub run_lifecycle {
    my ($sid, $path, $steps, $data, $partner) = @_;
    my @outcomes;
    for my $step (@$steps) {
        my ($name, $code) = @$step;
        my $outcome = without_timestamps(without_class(normalise(run_step($code), $sid)));
        my $listing = $partner ? listings_agree($sid, $partner) : undef;
        push @outcomes, [$name, $outcome, tree("$path/images"), image_infos("$path/images"), $listing];
    }
    return @outcomes;
}

# dir's own vdisk_list of the directory of swift storage $sid, against swift's.
sub listings_agree {
    my ($sid, $dir_sid) = @_;
    my $swift = normalise(PVE::Storage::vdisk_list($cfg, $sid), $sid)->{'<storeid>'};
    my $dir = normalise(PVE::Storage::vdisk_list($cfg, $dir_sid), $dir_sid)->{'<storeid>'};
    $_ = without_ctime($_) for ($swift, $dir);
    return { swift => $swift, dir => $dir };
}

sub without_ctime {
    my ($list) = @_;
    return [map { my %c = %$_; $c{ctime} = 'CTIME' if exists $c{ctime}; \%c } @$list];
}

my $comparisons = 0;

# qemu-img's own output on stdout ("Formatting ...", "Image committed.", "Image resized."),
# which dir's run_command passes on to the task log.
my $QEMU_IMG_OUTPUT = qr/^(?:Formatting '.*|Image committed\.|Image resized\.)\n/m;

sub compare_runs {
    my ($mode, $dir, $swift, $deliberate, $known) = @_;
    is(scalar(@$swift), scalar(@$dir), "$mode: the same number of steps");
    for my $index (0 .. $#$dir) {
        my ($name, $expected, $expected_tree, $expected_images) = @{ $dir->[$index] };
        my (undef, $got, $got_tree, $got_images, $listing) = @{ $swift->[$index] };
        if (my $adjust = $deliberate->{$name}) {
            ($got, $expected) = $adjust->($got, $expected, "$mode: $name", $got_images);
        }
        # A step calling what this release's storage layer lacks (PVE 8: rename_snapshot,
        # volume_qemu_snapshot_method, qemu_blockdev_options) fails alike; nothing to compare.
        my $missing = missing_storage_function($expected);
        my %qemu_output;
        for my $outcome ($got, $expected) {
            # What reaches the task log on stderr: dir's run_command prints qemu-img's
            # stderr there; swift passes it on as a Perl warning (also stderr in a worker).
            $outcome->{log} = [sort map { split(/(?<=\n)/, $_) } $outcome->{stderr}, delete($outcome->{warnings})->@*];
            delete $outcome->{stderr};
            $outcome->{log} = [grep { !/^Use of uninitialized value/ } $outcome->{log}->@*];
            $outcome->{warnings} = [];
            $qemu_output{$outcome} = [$outcome->{stdout} =~ /$QEMU_IMG_OUTPUT/g];
            $outcome->{stdout} =~ s/$QEMU_IMG_OUTPUT//g;
        }
        TODO: {
            local $TODO = $known->{$name} ? "known difference: $known->{$name}" : undef;
            if ($missing) {
                is($got->{error}, $expected->{error}, "$mode: $name: fails alike: PVE " . host_release() . " has no PVE::Storage::$missing");
                SKIP: { skip("$mode: $name: PVE " . host_release() . "'s storage layer has no PVE::Storage::$missing", 1) }
            } else {
                same($got, $expected, "$mode: $name: the same outcome as dir")
                    or !$ENV{SNAPSHOTS_COMPARE_DEBUG} or diag(explain({ dir => $expected, swift => $got }));
            }
            $TODO = undef if $name !~ /^broken: (?:rename the volume|free)$/;
            is_deeply($got_tree, $expected_tree, "$mode: $name: the same directory tree as dir");
            is_deeply($got_images, $expected_images, "$mode: $name: the same image files (qcow2 metadata) as dir");
        }
        is_deeply($listing->{dir}, $listing->{swift}, "$mode: $name: dir's list_images of the directory agrees with swift's");
        is_deeply($qemu_output{$got}, $qemu_output{$expected}, "$mode: $name: qemu-img's output printed as by dir")
            if $qemu_output{$expected}->@* || $qemu_output{$got}->@*;
        $comparisons += 4;
        note("$mode: $name: " . describe({ %$expected, warnings => $expected->{log} }) . ($expected->{stdout} ne '' ? " [prints: $expected->{stdout}]" : ''));
    }
}

sub fresh_images_dir {
    my ($path) = @_;
    remove_tree("$path/images");
    mkdir("$path/images") or die "mkdir $path/images: $!\n";
}

# ---------------------------------------------------------------------------------------
# Storages: on a loop-mounted ext4, one pair per mode.

my $ext4 = eval { loop_mounted_dir('ext4') };
ok($ext4, 'an ext4 file system is loop-mounted') or diag($@);
if (!$ext4) { done_testing(); exit(1) }
my %fs = map { my @f = split(' '); ($f[1] => $f[2]) } split(/\n/, slurp('/proc/mounts'));
is($fs{ mount_point_of($ext4) }, 'ext4', 'the lifecycles run on ext4');

my %pairs = (
    internal => { path => "$ext4/internal", dir => 'snapdir', swift => 'snapswift', opts => {} },
    # PVE 8 has no volume chains: no chain pair there.
    (host_has_volume_chain()
        ? (chain => { path => "$ext4/chain", dir => 'chaindir', swift => 'chainswift', opts => { 'snapshot-as-volume-chain' => 1 } })
        : ()),
);
for my $mode (sort keys %pairs) {
    my $pair = $pairs{$mode};
    for my $type (qw(dir swift)) {
        my $outcome = api_create($type, $pair->{$type}, taint($pair->{path}), { content => 'images', %{ $pair->{opts} } });
        is($outcome->{error}, '', "$mode: $type storage created on $pair->{path}") or diag(explain($outcome));
    }
}
$cfg = PVE::Storage::config();
SKIP: {
    skip(no_volume_chain() . ': no chain pair', 2) if !host_has_volume_chain();
    is($cfg->{ids}->{chainswift}->{'snapshot-as-volume-chain'}, 1, 'chain: swift has snapshot-as-volume-chain');
    is($cfg->{ids}->{chaindir}->{'snapshot-as-volume-chain'}, 1, 'chain: dir has snapshot-as-volume-chain');
}

# ---------------------------------------------------------------------------------------
# Internal qcow2 snapshots.

sub internal_steps {
    my ($sid, $data) = @_;
    my $vol = "$sid:100/vm-100-disk-0.qcow2";
    my $raw = "$sid:100/vm-100-disk-1.raw";
    my $check = sub { my ($key) = @_; return { content => content($cfg, $vol) eq $data->{$key} ? "= $key" : 'DIFFERENT' } };
    my $store = sub { my ($key, $byte) = @_; $data->{$key} = write_data($cfg, $vol, $byte); return 'written' };
    return (
        ['alloc qcow2' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', undef, 4096) }],
        ['alloc raw' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', undef, 4096) }],
        ['write A' => sub { $store->('A', 0x41) }],
        ['snapshot s1' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's1') }],
        ['write B' => sub { $store->('B', 0x42) }],
        ['snapshot s2' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's2') }],
        ['write C' => sub { $store->('C', 0x43) }],
        ['snapshot s3' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's3') }],
        ['write D' => sub { $store->('D', 0x44) }],
        ['info' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['snapshot an existing name' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's1') }],
        ['rollback possible, oldest' => sub { rollback_possible($vol, 's1') }],
        ['rollback possible, missing' => sub { rollback_possible($vol, 'nope') }],
        ['rollback to s2' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 's2') }],
        ['data after rollback to s2' => sub { $check->('B') }],
        ['rollback to s1' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 's1') }],
        ['data after rollback to s1' => sub { $check->('A') }],
        ['rollback to a missing snapshot' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 'nope') }],
        ['delete s2 running' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's2', 1) }],
        ['info after running delete' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['delete middle (s2)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's2', 0) }],
        ['delete first (s1)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's1') }],
        ['data after deletes' => sub { $check->('A') }],
        ['delete a missing snapshot' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 'nope', 0) }],
        ['info after deletes' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['rename snapshot' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's3', 's9') }],
        ['rename current' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 'current', 's9') }],
        ['rename without a target' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's3', undef) }],
        ['qemu snapshot method' => sub { map { PVE::Storage::volume_qemu_snapshot_method($cfg, $_) } ($vol, $raw) }],
        ['features' => sub { features($vol, $raw) }],
        ['resize a snapshot' => sub { PVE::Storage::volume_resize($cfg, $vol, 8 * $MiB, 0, 's3') }],
        ['resize a snapshot, running' => sub { PVE::Storage::volume_resize($cfg, $vol, 8 * $MiB, 1, 's3') }],
        ['blockdev, current' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', {}) }],
        ['blockdev, snapshot' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', { 'snapshot-name' => 's3' }) }],
        ['path of a snapshot' => sub { [PVE::Storage::path($cfg, $vol, 's3')] }],
        ['list' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        raw_refusals($raw),
        ['delete last (s3)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's3', 0) }],
        ['info after deleting the last' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['snapshot before free' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's4') }],
        ['free with a snapshot' => sub { PVE::Storage::vdisk_free($cfg, $vol) }],
        ['free raw' => sub { PVE::Storage::vdisk_free($cfg, $raw) }],
        ['info of a freed volume' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['list at the end' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
    );
}

# A raw disk on ext4: the same refusals on both sides.
sub raw_refusals {
    my ($raw) = @_;
    return (
        ['raw: snapshot' => sub { PVE::Storage::volume_snapshot($cfg, $raw, 's1') }],
        ['raw: info' => sub { PVE::Storage::volume_snapshot_info($cfg, $raw) }],
        ['raw: rollback possible' => sub { rollback_possible($raw, 's1') }],
        ['raw: rollback' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $raw, 's1') }],
        ['raw: delete' => sub { PVE::Storage::volume_snapshot_delete($cfg, $raw, 's1', 0) }],
        ['raw: delete running' => sub { PVE::Storage::volume_snapshot_delete($cfg, $raw, 's1', 1) }],
        ['raw: rename snapshot' => sub { PVE::Storage::rename_snapshot($cfg, $raw, 's1', 's2') }],
        ['raw: path of a snapshot' => sub { [PVE::Storage::path($cfg, $raw, 's1')] }],
        ['raw: blockdev of a snapshot' => sub { PVE::Storage::qemu_blockdev_options($cfg, $raw, '10.0+pve1', { 'snapshot-name' => 's1' }) }],
        ['raw: resize a snapshot' => sub { PVE::Storage::volume_resize($cfg, $raw, 8 * $MiB, 0, 's1') }],
        ['raw: fsfreeze' => sub { PVE::Storage::volume_snapshot_needs_fsfreeze($cfg, $raw) }],
    );
}

# The data steps' results carry the check; the snapshot info of internal snapshots has
# swift's deliberate 'virtual-size'.
my %internal_deliberate;
for my $name ('info', 'info after running delete', 'info after deletes', 'info after deleting the last') {
    $internal_deliberate{$name} = sub {
        my ($got, $expected, $label) = @_;
        my %copy = %$got;
        my ($info) = ($copy{result} // [])->@*;
        if (ref($info) eq 'HASH' && %$info) {
            my @sizes = map { $info->{$_}->{'virtual-size'} } sort keys %$info;
            is_deeply(\@sizes, [map { 4 * $MiB } @sizes], "$label: deliberate: swift reports each snapshot's virtual-size");
            $comparisons++;
            $copy{result} = [{ map { my %s = %{ $info->{$_} }; delete $s{'virtual-size'}; ($_ => \%s) } keys %$info }];
        }
        return (\%copy, $expected);
    };
}

# Deliberate differences that need no more than a name: each asserts what swift does and
# then counts the two outcomes as the same.
#  - volume_snapshot_needs_fsfreeze answers 1 (issue 8: raw container mount points are
#    snapshotted by reflink, so pve-container freezes them first); dir answers 0;
#  - where dir's qemu-img info fails, dir also warns the failed command; swift reads the
#    headers itself, runs no command and gives the same error without that warning;
#  - chain mode, a missing snapshot: dir says 'volume  is missing at .../Plugin.pm line N.'
#    (an undefined path and Perl's location); swift names the snapshot file;
#  - chain mode, a running delete whose file is gone: dir's message ends in two newlines;
#  - chain mode, a running delete in list context: dir returns an empty list, swift undef
#    (PVE calls it in scalar or void context: the same undef);
#  - a chain snapshot whose overlay cannot be made: dir renames the volume file back
#    ('rename <snap> to <volume>') and warns an extra " \n"; swift removes the second
#    link it made (the volume file never moved).
sub deliberately {
    my ($what, $check) = @_;
    return sub {
        my ($got, $expected, $label) = @_;
        $check->($got, $expected, "$label: deliberate: $what");
        $comparisons++;
        return ($got, Storable::dclone($got));
    };
}
my $no_command_warning = sub {
    my ($got, $expected, $label) = @_;
    my @dir_log = grep { !/^command '\/usr\/bin\/qemu-img info / } map { split(/(?<=\n)/, $_) } $expected->{stderr}, $expected->{warnings}->@*;
    is_deeply([map { split(/(?<=\n)/, $_) } $got->{stderr}, $got->{warnings}->@*], \@dir_log,
        "$label (no command was run, so no warning of it)");
    is_deeply($got->{result}, $expected->{result}, "$label: the same result");
    is($got->{error}, $expected->{error}, "$label: the same error");
};
my $fsfreeze = deliberately('volume_snapshot_needs_fsfreeze answers 1, dir 0', sub {
    my ($got, $expected, $label) = @_;
    is_deeply([$got->{result}, $expected->{result}], [[1], [0]], $label);
});
$internal_deliberate{'raw: fsfreeze'} = $fsfreeze;
$internal_deliberate{'info of a freed volume'} = deliberately("qemu-img's error without dir's command warning", $no_command_warning);
# PVE 8's dir has no volume_snapshot_info (Plugin.pm's stub dies "volume_snapshot_info is
# not implemented for <class> at ... line N."). Deliberate: swift answers on every release
# as PVE 9's dir does: each internal snapshot qemu-img lists in the volume's file (taken
# from the qcow2 metadata of the step), with its timestamp; a raw disk has none; a missing
# file gives qemu-img's error.
if (host_release() < 9) {
    my $not_implemented = qr/^volume_snapshot_info is not implemented for <class> at \S+ line \d+\.\n\z/;
    my $as_pve9 = sub {
        my ($file) = @_;
        return sub {
            my ($got, $expected, $label, $images) = @_;
            like($expected->{error}, $not_implemented, "$label: PVE " . host_release() . "'s dir has no volume_snapshot_info");
            my @names = map { (split(' ', $_))[0] } (($images->{$file} // {})->{snapshots} // [])->@*;
            $comparisons++;
            return ($got, { %$expected, error => '', result => [{ map { ($_ => { timestamp => 'RECENT' }) } @names }] });
        };
    };
    for my $case (['info', '100/vm-100-disk-0.qcow2'], ['info after running delete', '100/vm-100-disk-0.qcow2'],
        ['info after deletes', '100/vm-100-disk-0.qcow2'], ['info after deleting the last', '100/vm-100-disk-0.qcow2'],
        ['raw: info', '100/vm-100-disk-1.raw']) {
        my ($name, $file) = @$case;
        my $pve9 = $as_pve9->($file);
        my $then = $internal_deliberate{$name};
        $internal_deliberate{$name} = sub {
            my ($got, $expected, @rest) = @_;
            ($got, $expected) = $pve9->($got, $expected, @rest);
            return $then ? $then->($got, $expected, @rest) : ($got, $expected);
        };
    }
    $internal_deliberate{'info of a freed volume'} = deliberately("PVE 8's dir has no volume_snapshot_info, swift gives qemu-img's error as PVE 9's dir", sub {
        my ($got, $expected, $label) = @_;
        like($expected->{error}, $not_implemented, "$label: dir has none");
        like($got->{error}, qr{^qemu-img: Could not open '/\S+/100/vm-100-disk-0\.qcow2': .*No such file or directory\n\z}, "$label: swift: qemu-img's error");
    });
}

my %chain_extra = (
    'needs fsfreeze' => $fsfreeze,
    'raw: fsfreeze' => $fsfreeze,
    (map { ($_ => deliberately("qemu-img's error without dir's command warning", $no_command_warning)) }
        'info with a renamed backing file', 'broken: info', 'broken: rollback possible', 'broken: delete s1',
        'broken: rename the volume', 'broken: free'),
    'delete a missing snapshot' => deliberately('the missing snapshot file is named', sub {
        my ($got, $expected, $label) = @_;
        like($expected->{error}, qr/^volume  is missing at /, "$label: dir's message names no file");
        like($got->{error}, qr{^volume /\S+/snap-\S+ is missing\n$}, "$label: swift's names the snapshot file");
    }),
    'delete running, missing file' => deliberately('one newline at the end', sub {
        my ($got, $expected, $label) = @_;
        is($got->{error} . "\n", $expected->{error}, $label);
    }),
    'delete s6 running' => deliberately('undef in list context', sub {
        my ($got, $expected, $label) = @_;
        is_deeply([$got->{result}, $expected->{result}], [[undef], []], $label);
    }),
    'broken: snapshot' => deliberately('the link is removed, the volume never moved', sub {
        my ($got, $expected, $label) = @_;
        is($got->{error}, $expected->{error}, "$label: the same error");
        like($expected->{stdout}, qr/^rename .*\nrename /s, "$label: dir renamed the volume away and back");
        unlike($got->{stdout}, qr/\nrename /, "$label: swift did not move the volume");
    }),
);
my %internal_known;
my %chain_known;

my %data;
my $pair = $pairs{internal};
my @dir_run = run_lifecycle($pair->{dir}, $pair->{path}, [internal_steps($pair->{dir}, \%data)]);
my %dir_data = %data;
fresh_images_dir($pair->{path});
%data = ();
my @swift_run = run_lifecycle($pair->{swift}, $pair->{path}, [internal_steps($pair->{swift}, \%data)], \%data, $pair->{dir});
compare_runs('internal', \@dir_run, \@swift_run, \%internal_deliberate, \%internal_known);
is_deeply(\%data, \%dir_data, 'internal: the same data written on both sides');
for my $run (['dir', \@dir_run], ['swift', \@swift_run]) {
    my %by_name = map { ($_->[0] => $_->[1]) } $run->[1]->@*;
    is_deeply($by_name{"data after rollback to s$_->[0]"}->{result}, [{ content => "= $_->[1]" }],
        "internal: $run->[0]: rollback to s$_->[0] restores the data of $_->[1]") for [2, 'B'], [1, 'A'];
}

# ---------------------------------------------------------------------------------------
# Volume chains.

sub chain_steps {
    my ($sid, $data) = @_;
    my $vol = "$sid:100/vm-100-disk-0.qcow2";
    my $raw = "$sid:100/vm-100-disk-1.raw";
    my $base = "$sid:100/base-100-disk-2.qcow2";
    my $clone = "$sid:100/base-100-disk-2.qcow2/200/vm-200-disk-0.qcow2";
    my $check = sub { my ($key, $volid) = @_; return { content => content($cfg, $volid // $vol) eq $data->{$key} ? "= $key" : 'DIFFERENT' } };
    my $store = sub { my ($key, $byte, $volid) = @_; $data->{$key} = write_data($cfg, $volid // $vol, $byte); return 'written' };
    my $qemu_img = sub { my @args = @_; run_quiet('/usr/bin/qemu-img', @args) or die "qemu-img @args failed: $?\n"; return 'done' };
    my $file = sub { scalar(PVE::Storage::path($cfg, $vol, $_[0])) };
    return (
        ['alloc qcow2' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', undef, 4096) }],
        ['alloc raw' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', undef, 4096) }],
        ['info without snapshots' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['write A' => sub { $store->('A', 0x41) }],
        ['snapshot s1' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's1') }],
        ['write B' => sub { $store->('B', 0x42) }],
        ['snapshot s2' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's2') }],
        ['write C' => sub { $store->('C', 0x43) }],
        ['snapshot s3' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's3') }],
        ['write D' => sub { $store->('D', 0x44) }],
        ['info' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['list' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['list VMID 100' => sub { PVE::Storage::vdisk_list($cfg, $sid, 100) }],
        ['size info' => sub { my @r = PVE::Storage::volume_size_info($cfg, $vol); [@r[0 .. 3]] }],
        ['snapshot an existing name' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's2') }],
        ['rollback possible, oldest' => sub { rollback_possible($vol, 's1') }],
        ['rollback possible, middle' => sub { rollback_possible($vol, 's2') }],
        ['rollback possible, newest' => sub { rollback_possible($vol, 's3') }],
        ['rollback possible, missing' => sub { rollback_possible($vol, 'nope') }],
        ['rollback to the oldest' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 's1') }],
        ['rollback to the newest' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 's3') }],
        ['data after rollback' => sub { $check->('C') }],
        ['write E' => sub { $store->('E', 0x45) }],
        ['rollback again' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 's3') }],
        ['data after the second rollback' => sub { $check->('C') }],
        ['rollback to a missing snapshot' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol, 'nope') }],
        ['qemu snapshot method' => sub { map { PVE::Storage::volume_qemu_snapshot_method($cfg, $_) } ($vol, $raw) }],
        ['needs fsfreeze' => sub { PVE::Storage::volume_snapshot_needs_fsfreeze($cfg, $vol) }],
        ['features' => sub { features($vol, $raw) }],
        ['blockdev, current' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', {}) }],
        ['blockdev, snapshot' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', { 'snapshot-name' => 's2' }) }],
        ['blockdev, snapshot current' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', { 'snapshot-name' => 'current' }) }],
        ['blockdev, missing snapshot' => sub { PVE::Storage::qemu_blockdev_options($cfg, $vol, '10.0+pve1', { 'snapshot-name' => 'nope' }) }],
        ['path of a snapshot' => sub { [PVE::Storage::path($cfg, $vol, 's2')] }],
        ['resize a snapshot' => sub { PVE::Storage::volume_resize($cfg, $vol, 8 * $MiB, 0, 's3') }],
        ['resize a snapshot, running' => sub { PVE::Storage::volume_resize($cfg, $vol, 16 * $MiB, 1, 's3') }],
        ['resize a missing snapshot' => sub { PVE::Storage::volume_resize($cfg, $vol, 8 * $MiB, 0, 'nope') }],
        ['info after resize' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['rename onto an existing snapshot' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's3', 's2') }],
        ['rename current' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 'current', 's4') }],
        ['list while current is renamed' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['rename back to current' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's4', 'current') }],
        ['rename a missing snapshot' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 'nope', 's5') }],
        ['rename the newest snapshot' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's3', 's5') }],
        ['info with a renamed backing file' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['rename it back' => sub { PVE::Storage::rename_snapshot($cfg, $vol, 's5', 's3') }],
        ['data after renames' => sub { $check->('C') }],
        ['delete middle (s2)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's2', 0) }],
        ['info after deleting the middle' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['data after deleting the middle' => sub { $check->('C') }],
        ['snapshot s4' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's4') }],
        ['write F' => sub { $store->('F', 0x46) }],
        ['delete first (s1)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's1', 0) }],
        ['info after deleting the first' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['data after deleting the first' => sub { $check->('F') }],
        ['delete last (s4)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's4', 0) }],
        ['info after deleting the last' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['data after deleting the last' => sub { $check->('F') }],
        ['delete a missing snapshot' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 'nope', 0) }],
        ['snapshot s6' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's6') }],
        ['write G' => sub { $store->('G', 0x47) }],
        # What QEMU's block-stream does to a running VM before the storage drops the file.
        ['stream s6 into current (as QEMU would)' => sub {
            $qemu_img->('rebase', '-f', 'qcow2', '-F', 'qcow2', '-b', 'snap-s3-vm-100-disk-0.qcow2', $file->());
        }],
        ['delete s6 running' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's6', 1) }],
        ['info after the running delete' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['data after the running delete' => sub { $check->('G') }],
        ['delete running, missing file' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's6', 1) }],
        ['delete the only snapshot (s3)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's3', 0) }],
        ['info, none left' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['data with no snapshot left' => sub { $check->('G') }],
        raw_refusals($raw),
        ['snapshot s7' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's7') }],
        ['snapshot s8' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's8') }],
        ['rename a volume with snapshots' => sub { PVE::Storage::rename_volume($cfg, $vol, 300) }],
        ['free a chain' => sub { PVE::Storage::vdisk_free($cfg, $vol) }],
        ['free raw' => sub { PVE::Storage::vdisk_free($cfg, $raw) }],
        # A linked clone: its chain ends at the base image.
        ['alloc a base' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', 'base-100-disk-2.qcow2', 4096) }],
        ['write the base' => sub { $store->('T', 0x41, $base) }],
        ['clone' => sub { PVE::Storage::vdisk_clone($cfg, $base, 200) }],
        ['info of a clone' => sub { PVE::Storage::volume_snapshot_info($cfg, $clone) }],
        ['write the clone' => sub { $store->('K', 0x42, $clone) }],
        ['snapshot the clone' => sub { PVE::Storage::volume_snapshot($cfg, $clone, 's1') }],
        ['write the clone again' => sub { $store->('L', 0x43, $clone) }],
        ['info of a clone with a snapshot' => sub { PVE::Storage::volume_snapshot_info($cfg, $clone) }],
        ['clone: rollback possible' => sub { rollback_possible($clone, 's1') }],
        ['clone: rollback' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $clone, 's1') }],
        ['clone: data after rollback' => sub { $check->('K', $clone) }],
        ['clone: snapshot s2' => sub { PVE::Storage::volume_snapshot($cfg, $clone, 's2') }],
        ['clone: delete first (s1)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $clone, 's1', 0) }],
        ['clone: data after delete' => sub { $check->('K', $clone) }],
        ['clone: info after delete' => sub { PVE::Storage::volume_snapshot_info($cfg, $clone) }],
        ['list with a clone with a snapshot' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['clone: delete the last (s2)' => sub { PVE::Storage::volume_snapshot_delete($cfg, $clone, 's2', 0) }],
        ['clone: data after deleting the last' => sub { $check->('K', $clone) }],
        ['list with a clone' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['free the base with a clone' => sub { PVE::Storage::vdisk_free($cfg, $base) }],
        ['clone: snapshot s3' => sub { PVE::Storage::volume_snapshot($cfg, $clone, 's3') }],
        ['free a clone with a snapshot' => sub { PVE::Storage::vdisk_free($cfg, $clone) }],
        ['free the base' => sub { PVE::Storage::vdisk_free($cfg, $base) }],
        ['list at the end' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        # A chain whose snapshot file went missing (renamed away by hand).
        ['broken: alloc' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', undef, 4096) }],
        ['broken: snapshot s1' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's1') }],
        ['broken: snapshot s2' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's2') }],
        ['broken: move s2 away' => sub { rename($file->('s2'), "$ext4/moved.qcow2") or die "rename: $!\n"; 'moved' }],
        ['broken: info' => sub { PVE::Storage::volume_snapshot_info($cfg, $vol) }],
        ['broken: list' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['broken: rollback possible' => sub { rollback_possible($vol, 's1') }],
        ['broken: snapshot' => sub { PVE::Storage::volume_snapshot($cfg, $vol, 's3') }],
        ['broken: delete s1' => sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, 's1', 0) }],
        ['broken: rename the volume' => sub { PVE::Storage::rename_volume($cfg, $vol, 300) }],
        ['broken: free' => sub { PVE::Storage::vdisk_free($cfg, $vol) }],
        ['broken: clean up' => sub {
            unlink("$ext4/moved.qcow2");
            map { my $f = $_; unlink(untaint($f)) } glob("$ext4/chain/images/*/*");
            rmdir(untaint($_)) for glob("$ext4/chain/images/*");
            'cleaned'
        }],
    );
}

# The oldest layer of a linked clone (its chain ends at the base image, no snapshot of
# the volume): dir reports parent => undef for it and a bogus '' entry ({ child => it }).
my %chain_deliberate;
for my $name ('info of a clone', 'info of a clone with a snapshot', 'clone: info after delete') {
    $chain_deliberate{$name} = sub {
        my ($got, $expected, $label) = @_;
        my %copy = %$expected;
        my ($info) = ($copy{result} // [])->@*;
        my ($swift_info) = ($got->{result} // [])->@*;
        my $oldest = ref($info) eq 'HASH' && ref($info->{''}) eq 'HASH' ? $info->{''}->{child} : undef;
        ok(defined($oldest) && exists($info->{$oldest}->{parent}) && !defined($info->{$oldest}->{parent}),
            "$label: dir reports parent => undef for the oldest layer, and a '' entry naming it");
        ok(ref($swift_info) eq 'HASH' && !exists($swift_info->{''}) && defined($oldest) && !exists($swift_info->{$oldest}->{parent}),
            "$label: deliberate: swift has no '' entry and no parent key for the oldest layer");
        $comparisons += 2;
        if (defined($oldest)) {
            my %fixed = %$info;
            delete($fixed{''});
            $fixed{$oldest} = { %{ $fixed{$oldest} } };
            delete $fixed{$oldest}->{parent};
            $copy{result} = [\%fixed];
        }
        return ($got, \%copy);
    };
}

# A consequence of dir's '' entry: it counts as a snapshot newer than the clone's oldest,
# so dir refuses to roll a linked clone back to its oldest snapshot; swift rolls back.
# The data then differs until the clone is written again.
$chain_deliberate{'clone: rollback possible'} = sub {
    my ($got, $expected, $label) = @_;
    is_deeply($expected->{result}, [{ result => undef, blockers => [''],
        error => "can't rollback, 's1' is not most recent snapshot on '100/base-100-disk-2.qcow2/200/vm-200-disk-0.qcow2'\n" }],
        "$label: dir refuses, its '' entry is the blocker");
    is_deeply($got->{result}, [{ result => 1, blockers => [], error => '' }], "$label: deliberate: swift can roll back");
    $comparisons += 2;
    return ($got, $got);
};
$chain_deliberate{'clone: rollback'} = sub {
    my ($got, $expected, $label) = @_;
    is($expected->{error}, "can't rollback, 's1' is not most recent snapshot on '100/base-100-disk-2.qcow2/200/vm-200-disk-0.qcow2'\n",
        "$label: dir refuses");
    is($got->{error}, '', "$label: deliberate: swift rolls back");
    $comparisons += 2;
    return ($got, $got);
};
# dir's free_image then also "frees" the '' entry: it unlinks the volume file a second time.
$chain_deliberate{'free a clone with a snapshot'} = sub {
    my ($got, $expected, $label) = @_;
    my %copy = %$expected;
    my $twice = "unlink '" . PVE::Storage::path($cfg, 'chaindir:200/vm-200-disk-0.qcow2') . "' failed - No such file or directory\n";
    is_deeply([grep { $_ eq $twice } $copy{warnings}->@*], [$twice], "$label: dir warns that it cannot unlink the volume twice");
    $copy{warnings} = [grep { $_ ne $twice } $copy{warnings}->@*];
    $comparisons++;
    return ($got, \%copy);
};
# After the rollback only swift made, the clone's files hold other data: other sizes.
for my $name ('list with a clone with a snapshot', 'list with a clone') {
    $chain_deliberate{$name} = sub {
        my ($got, $expected) = @_;
        my $without_used = sub {
            my ($outcome) = @_;
            my @lists = map { my $r = $_; +{ map { ($_ => [map { my %i = %$_; delete $i{used}; \%i } $r->{$_}->@*]) } keys %$r } }
                $outcome->{result}->@*;
            return { %$outcome, result => \@lists };
        };
        return ($without_used->($got), $without_used->($expected));
    };
}
for my $name ('clone: data after rollback', 'clone: data after delete', 'clone: data after deleting the last') {
    $chain_deliberate{$name} = sub {
        my ($got, $expected, $label) = @_;
        is_deeply($expected->{result}, [{ content => 'DIFFERENT' }], "$label: dir: not rolled back");
        is_deeply($got->{result}, [{ content => '= K' }], "$label: deliberate: swift: the data of the snapshot");
        $comparisons += 2;
        return ($got, $got);
    };
}

if (!$pairs{chain}) {
    SKIP: { skip(no_volume_chain() . ': the volume-chain lifecycle does not run', 1) }
} else {
    %data = ();
    $pair = $pairs{chain};
    @dir_run = run_lifecycle($pair->{dir}, $pair->{path}, [chain_steps($pair->{dir}, \%data)]);
    %dir_data = %data;
    fresh_images_dir($pair->{path});
    %data = ();
    @swift_run = run_lifecycle($pair->{swift}, $pair->{path}, [chain_steps($pair->{swift}, \%data)], \%data, $pair->{dir});
    %chain_deliberate = (%chain_deliberate, %chain_extra);
    compare_runs('chain', \@dir_run, \@swift_run, \%chain_deliberate, \%chain_known);
    is_deeply(\%data, \%dir_data, 'chain: the same data written on both sides');
    for my $run (['dir', \@dir_run], ['swift', \@swift_run]) {
        my %by_name = map { ($_->[0] => $_->[1]) } $run->[1]->@*;
        my @checks = grep { /^(?:clone: )?data / && !($run->[0] eq 'dir' && /^clone: /) } map { $_->[0] } $run->[1]->@*;
        for my $check (@checks) {
            like($by_name{$check}->{result}->[0]->{content} // '', qr/^= [A-Z]$/, "chain: $run->[0]: $check: the data expected");
        }
    }
}

# ---------------------------------------------------------------------------------------
# Snapshot names: the names PVE's own code passes (replication, migration, vzdump) and
# others dir takes, the same on both; deliberate: swift refuses what could leave the
# volume's directory or break PVE's line-based files, which dir hands on.

for my $mode (sort keys %pairs) {
    my $pair = $pairs{$mode};
    my %outcome;
    my @names = ('__replicate_100-0_1700000000__', '__migration__', 'vzdump', 'x', '1abc', 'with space', 'a' x 41);
    my @refused = ("a\nb", 'a' x 129);
    for my $type (qw(dir swift)) {
        fresh_images_dir($pair->{path});    # dir leaves files of names it cannot delete
        my $sid = $pair->{$type};
        my $vol = PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', undef, 1024);
        for my $name (@names, @refused) {
            $outcome{$type}->{$name} = run_step(sub { PVE::Storage::volume_snapshot($cfg, $vol, $name) });
            $outcome{$type}->{"$name files"} = files_below("$pair->{path}/images");
            run_step(sub { PVE::Storage::volume_snapshot_delete($cfg, $vol, $name, 0) });
            $outcome{$type}->{"$name after delete"} = files_below("$pair->{path}/images");
        }
        PVE::Storage::vdisk_free($cfg, $_->{volid}) for PVE::Storage::vdisk_list($cfg, $sid)->{$sid}->@*;
    }
    for my $name (@names) {
        is($outcome{swift}->{$name}->{error}, $outcome{dir}->{$name}->{error}, "$mode: snapshot '$name': the same outcome as dir");
        is($outcome{swift}->{$name}->{error}, '', "$mode: ... which is success");
        is_deeply($outcome{swift}->{"$name files"}, $outcome{dir}->{"$name files"}, "$mode: ... the same files");
        is_deeply($outcome{swift}->{"$name after delete"}, ['100', '100/vm-100-disk-0.qcow2'], "$mode: ... and deleted");
        $comparisons += 4;
    }
    for my $name (@refused) {
        (my $shown = $name) =~ s/\n/\\x0a/;
        $shown = substr($shown, 0, 60) . '...' if length($shown) > 60;
        like($outcome{swift}->{$name}->{error}, qr/^invalid snapshot name '\Q$shown\E' - /,
            "$mode: deliberate: swift refuses the snapshot name '$shown' (dir: " . ($outcome{dir}->{$name}->{error} || 'taken') . ")");
        is_deeply($outcome{swift}->{"$name files"}, ['100', '100/vm-100-disk-0.qcow2'], "$mode: ... and creates no file");
        $comparisons += 2;
    }
}

# ---------------------------------------------------------------------------------------
# Raw snapshots by reflink: XFS and btrfs. dir refuses; swift snapshots, rolls back, deletes.

for my $type (qw(xfs btrfs)) {
    my $mount = eval { loop_mounted_dir($type) };
    ok($mount, "a $type file system is loop-mounted") or diag($@), next;
    %fs = map { my @f = split(' '); ($f[1] => $f[2]) } split(/\n/, slurp('/proc/mounts'));
    is($fs{ mount_point_of($mount) }, $type, "$type: the storage is on $type");
    my %sid = (dir => "${type}dir", swift => "${type}swift");
    for my $t (qw(dir swift)) {
        my $outcome = api_create($t, $sid{$t}, taint($mount), { content => 'images' });
        is($outcome->{error}, '', "$type: $t storage created");
    }
    $cfg = PVE::Storage::config();
    my $volname = PVE::Storage::vdisk_alloc($cfg, $sid{swift}, 100, 'raw', undef, 64 * 1024);
    (my $name = $volname) =~ s/^[^:]+://;
    my %vol = map { ($_ => "$sid{$_}:$name") } qw(dir swift);
    my $path = PVE::Storage::path($cfg, $vol{swift});
    is(PVE::Storage::path($cfg, $vol{dir}), $path, "$type: both storages see the same file");
    my $A = write_data($cfg, $vol{swift}, 0x41);
    my $label = "$type, raw";
    my $pair_same = sub {
        my ($what, $code) = @_;
        my %o = map { my $t = $_; ($t => without_class(normalise(run_step(sub { $code->($vol{$t}) }), $sid{$t}))) } qw(dir swift);
        if (my $missing = missing_storage_function($o{dir})) {
            is($o{swift}->{error}, $o{dir}->{error}, "$label: $what: fails alike: PVE " . host_release() . " has no PVE::Storage::$missing");
            $comparisons++;
            return \%o;
        }
        same($o{swift}, $o{dir}, "$label: $what: the same outcome as dir");
        $comparisons++;
        return \%o;
    };
    $pair_same->('volume_qemu_snapshot_method', sub { PVE::Storage::volume_qemu_snapshot_method($cfg, $_[0]) });
    $pair_same->('copy feature', sub { PVE::Storage::volume_has_feature($cfg, 'copy', $_[0], undef, 0) });

    my %snap = map { my $t = $_; ($t => run_step(sub { PVE::Storage::volume_snapshot($cfg, $vol{$t}, 's1') })) } qw(dir swift);
    is($snap{dir}->{error}, "can't snapshot this image format\n", "$label: dir refuses the snapshot");
    is($snap{swift}->{error}, '', "$label: deliberate: swift snapshots it");
    ok(-f "$path\@s1", "$label: as <volume>\@s1");
    is(checksum("$path\@s1"), checksum($path), "$label: holding the volume's data");
    my %feature = map { ($_ => PVE::Storage::volume_has_feature($cfg, 'snapshot', $vol{$_}, undef, 0)) } qw(dir swift);
    is($feature{dir}, undef, "$label: dir: no snapshot feature");
    is($feature{swift}, 1, "$label: deliberate: swift: the snapshot feature");
    $comparisons += 6;

    my $B = write_data($cfg, $vol{swift}, 0x42);
    isnt($B, $A, "$label: the disk changed");
    is(run_step(sub { PVE::Storage::volume_snapshot($cfg, $vol{swift}, 's2') })->{error}, '', "$label: swift: second snapshot");

    # Listings: the snapshot files are no volumes, for dir's listing too.
    my $listing = listings_agree($sid{swift}, $sid{dir});
    is_deeply($listing->{dir}, $listing->{swift}, "$label: dir's list_images of the directory agrees with swift's");
    is_deeply([map { $_->{volid} } $listing->{dir}->@*], ["<storeid>:$name"], "$label: dir lists the volume only, no snapshot file");
    my $volumes = normalise([PVE::Storage::Plugin->lookup('dir')->list_volumes($sid{dir}, $cfg->{ids}->{$sid{dir}}, undef, ['images'])], $sid{dir});
    is_deeply([map { $_->{volid} } map { @$_ } @$volumes], ["<storeid>:$name"], "$label: dir's list_volumes too");
    $comparisons += 3;

    my $info = PVE::Storage::volume_snapshot_info($cfg, $vol{swift});
    is_deeply([sort keys %$info], ['s1', 's2'], "$label: swift: info lists both");
    is_deeply([map { $info->{$_}->{'virtual-size'} } qw(s1 s2)], [64 * $MiB, 64 * $MiB], "$label: swift: their sizes");
    my $dir_info = run_step(sub { PVE::Storage::volume_snapshot_info($cfg, $vol{dir}) });
    if (host_release() < 9) {
        like($dir_info->{error}, qr/^volume_snapshot_info is not implemented for PVE::Storage::DirPlugin /,
            "$label: PVE " . host_release() . "'s dir has no volume_snapshot_info");
    } else {
        is_deeply($dir_info->{result}, [{}], "$label: dir: no snapshots (qemu-img knows none)");
    }
    $comparisons += 3;

    my %rollback = map { my $t = $_; ($t => run_step(sub { PVE::Storage::volume_snapshot_rollback($cfg, $vol{$t}, 's1') })) } qw(dir swift);
    is($rollback{dir}->{error}, "can't rollback snapshot this image format\n", "$label: dir refuses the rollback");
    is($rollback{swift}->{error}, '', "$label: swift rolls back to s1");
    is(content($cfg, $vol{swift}), $A, "$label: rolled back: the checksum of s1's data");
    PVE::Storage::volume_snapshot_rollback($cfg, $vol{swift}, 's2');
    is(content($cfg, $vol{swift}), $B, "$label: forward to s2: its data");
    PVE::Storage::volume_snapshot_rollback($cfg, $vol{swift}, 's1');
    is(content($cfg, $vol{swift}), $A, "$label: back to s1 again: s1's file was untouched by the rollbacks");
    PVE::Storage::volume_snapshot_rollback($cfg, $vol{swift}, 's2');
    $comparisons += 5;

    my %delete = map { my $t = $_; ($t => run_step(sub { PVE::Storage::volume_snapshot_delete($cfg, $vol{$t}, 's1', 0) })) } qw(dir swift);
    is($delete{dir}->{error}, "can't delete snapshot for this image format\n", "$label: dir refuses the delete");
    is($delete{swift}->{error}, '', "$label: swift deletes s1");
    ok(!-e "$path\@s1" && -e "$path\@s2", "$label: s1's file is gone, s2's is there");
    is(run_step(sub { PVE::Storage::volume_snapshot_delete($cfg, $vol{swift}, 's2', 1) })->{error}, '', "$label: delete while running");
    ok(!-e "$path\@s2", "$label: s2's file is gone");
    is(content($cfg, $vol{swift}), $B, "$label: the volume keeps its data");
    $comparisons += 6;

    PVE::Storage::volume_snapshot($cfg, $vol{swift}, 's3');
    PVE::Storage::vdisk_free($cfg, $vol{swift});
    is_deeply(files_below("$mount/images"), [], "$label: free removes the volume and its snapshots");
    $comparisons++;
}

note("comparisons: $comparisons");
done_testing();
