#!/usr/bin/perl -T
# Contract: a raw disk replicates between two swift storages on file systems that share
# extents (XFS, btrfs), through the stream methods as PVE's storage_migrate calls them
# for a replication job (with_snapshots 1, a snapshot, and a base snapshot for an
# incremental round):
# - storage_can_replicate($scfg, $storeid, 'raw') is 1 there, 0 for other formats and
#   on ext4; volume_has_feature(replicate) is 1 for a raw disk (current or template)
#   there, undef otherwise.
# - volume_snapshot_info gives each reflink snapshot an id and a timestamp; a snapshot
#   taken again under the same name has another id.
# - volume_export_formats (snapshot, base, with_snapshots 1) and volume_import_formats
#   (with_snapshots 1) offer ('raw+size'); without a snapshot, () as dir.
# - volume_export writes the stream; volume_import of it returns the volid and leaves
#   the target's volume in the snapshot's state and the snapshot with the same id and
#   timestamp. An incremental round sends only what changed (a resize and a discard
#   included).
# - refused before anything is written, the target as it was: a missing base, a base
#   with another id, another snapshot than named, a full stream onto an existing
#   volume, a damaged or cut stream, and an import killed halfway; the next round works.
# Needs root for the loop mounts (skipped without).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use POSIX ();
use SwiftPluginTest;

load_host();

plan(skip_all => 'loop-mounting XFS, btrfs and ext4 needs root') if $> != 0;

my $MiB = 1024 * 1024;

sub slurp_bytes {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    local $/;
    return scalar(<$fh>);
}

sub spew_bytes {
    my ($path, $bytes) = @_;
    open(my $fh, '>:raw', $path) or die "$path: $!\n";
    print $fh $bytes;
    close($fh) or die;
}

# The stream of volume_export into a file, as bytes.
sub export_stream {
    my ($scfg, $vol, $snap, $base) = @_;
    my $file = storage_dir() . '/stream';
    open(my $fh, '>:raw', $file) or die "$file: $!\n";
    local *STDERR; # the progress lines
    open(STDERR, '>', '/dev/null');
    PLUGIN->volume_export($scfg, 's', $fh, $vol, 'raw+size', $snap, $base, 1);
    close($fh);
    return slurp_bytes($file);
}

# volume_import of $bytes (from a file); returns the volid or dies.
sub import_stream {
    my ($scfg, $vol, $bytes, $snap, $base) = @_;
    my $file = storage_dir() . '/stream';
    spew_bytes($file, $bytes);
    open(my $fh, '<:raw', $file) or die "$file: $!\n";
    local *STDERR;
    open(STDERR, '>', '/dev/null');
    return PLUGIN->volume_import($scfg, 's', $fh, $vol, 'raw+size', $snap, $base, 1, 0);
}

# What the target holds: every file below images/ (hidden temporaries included) with
# its data's checksum.
sub state_of {
    my ($dir) = @_;
    my $images = "$dir/images";
    return { map { ($_ => -f "$images/$_" ? checksum("$images/$_") : 'dir') } files_below($images)->@* };
}

for my $type (qw(xfs btrfs)) {
    my ($src, $dst) = map { eval { loop_mounted_dir($type) } } 1 .. 2;
    ok($src && $dst, "$type: two file systems are mounted") or diag($@), next;
    my $a = { type => 'swift', path => $src };
    my $b = { type => 'swift', path => $dst };

    is(PLUGIN->storage_can_replicate($b, 's', 'raw'), 1, "$type: raw replicates (before any image exists)");
    is(PLUGIN->storage_can_replicate($a, 's', $_), 0, "$type: $_ does not") for qw(qcow2 vmdk subvol);

    my $vol = PLUGIN->alloc_image('s', $a, 100, 'raw', undef, 16 * 1024);
    my $path = "$src/images/$vol";
    poke($path, 0x41, 0, 4 * $MiB);
    poke($path, 0x43, 12 * $MiB, 64 * 1024);
    is(PLUGIN->volume_has_feature($a, 'replicate', 's', $vol, undef, 0), 1, "$type: a raw disk has replicate");
    is(PLUGIN->volume_has_feature($a, 'replicate', 's', '100/base-100-disk-1.raw', undef, 0), 1, "$type: so has a raw template");
    my $qcow2 = PLUGIN->alloc_image('s', $a, 100, 'qcow2', undef, 1024);
    is(PLUGIN->volume_has_feature($a, 'replicate', 's', $qcow2, undef, 0), undef, "$type: a qcow2 disk has not");

    my $s1 = '__replicate_100-0_1700000000__';
    my $s2 = '__replicate_100-0_1700000900__';
    PLUGIN->volume_snapshot($a, 's', $vol, $s1);
    my $info = PLUGIN->volume_snapshot_info($a, 's', $vol);
    like($info->{$s1}->{id}, qr/^[0-9a-f]{32}$/, "$type: the snapshot has an id");
    ok(abs($info->{$s1}->{timestamp} - time()) < 60, "$type: and the time it was taken");
    is_deeply(PLUGIN->volume_snapshot_info($b, 's', $vol), {}, "$type: the target has no snapshot yet");

    is_deeply([PLUGIN->volume_export_formats($a, 's', $vol, $s1, undef, 1)], ['raw+size'], "$type: export formats of a snapshot");
    is_deeply([PLUGIN->volume_export_formats($a, 's', $vol, $s2, $s1, 1)], ['raw+size'], "$type: ... incremental");
    is_deeply([PLUGIN->volume_import_formats($b, 's', $vol, undef, $s1, 1)], ['raw+size'], "$type: import formats");
    is_deeply([PLUGIN->volume_export_formats($a, 's', $vol, undef, undef, 1)], [], "$type: no snapshot: nothing, as dir");
    is_deeply([PLUGIN->volume_export_formats($a, 's', $qcow2, $s1, undef, 1)], [], "$type: qcow2 with a snapshot: nothing, as dir");

    # The first round: full.
    my $full = export_stream($a, $vol, $s1, undef);
    is(substr($full, 0, 8), 'PVESWREP', "$type: the stream starts with its magic");
    cmp_ok(length($full), '<', 4 * $MiB + 64 * 1024 + 64 * 1024, "$type: a full stream carries the data, not the holes");
    my $before = state_of($dst);
    is(dies { import_stream($b, $vol, $full, $s2, undef) },
        "import: the stream carries snapshot '$s1', not '$s2'\n", "$type: another snapshot than named is refused");
    is(dies { import_stream($b, $vol, $full, $s1, $s2) },
        "import: the stream is a full one, not incremental from '$s2'\n", "$type: a full stream as incremental is refused");
    my $damaged = $full;
    substr($damaged, 1000, 1) = chr(ord(substr($damaged, 1000, 1)) ^ 1); # in the data
    is(dies { import_stream($b, $vol, $damaged, $s1, undef) },
        "import: the replication stream's checksum does not match (damaged in transit)\n", "$type: a damaged stream is refused");
    is(dies { import_stream($b, $vol, substr($full, 0, length($full) - 9), $s1, undef) },
        "import: the replication stream ended early\n", "$type: a cut stream is refused");
    is_deeply(state_of($dst), $before, "$type: the target is as it was");

    is(import_stream($b, $vol, $full, $s1, undef), "s:$vol", "$type: a full import returns the volid");
    my $target = "$dst/images/$vol";
    is(checksum($target), checksum("$path\@$s1"), "$type: the target's volume is the snapshot");
    is(checksum("$target\@$s1"), checksum("$path\@$s1"), "$type: and so is its snapshot");
    my $replica = PLUGIN->volume_snapshot_info($b, 's', $vol);
    is($replica->{$s1}->{id}, $info->{$s1}->{id}, "$type: the snapshot ids match");
    is($replica->{$s1}->{timestamp}, $info->{$s1}->{timestamp}, "$type: and their timestamps");
    is(dies { import_stream($b, $vol, $full, $s1, undef) },
        "snapshot '$s1' already exists on '$vol'\n", "$type: the same stream again is refused");

    # The second round: ~200 KiB of scattered changes, a discard and a resize.
    poke($path, 0x42, $_ * 409600, 4096) for 0 .. 49;
    PLUGIN->volume_resize($a, 's', $vol, 20 * $MiB, 0);
    poke($path, 0x44, 18 * $MiB, 8192);
    PLUGIN->volume_snapshot($a, 's', $vol, $s2);
    $info = PLUGIN->volume_snapshot_info($a, 's', $vol);
    my $incremental = export_stream($a, $vol, $s2, $s1);
    cmp_ok(length($incremental), '<', 1 * $MiB, "$type: ~200 KiB of changes and a resize are sent in under 1 MiB");
    cmp_ok(length($incremental), '>=', 50 * 4096 + 8192, "$type: ... and all of them are sent");

    $before = state_of($dst);
    my $other = PLUGIN->volume_snapshot_info($b, 's', $vol)->{$s1}->{id};
    is(dies { import_stream($b, $vol, $incremental, $s2, '__replicate_100-0_1600000000__') },
        "import: base snapshot '__replicate_100-0_1600000000__' of '$vol' does not exist on this storage\n",
        "$type: a missing base is refused");
    # The base taken again under its name on the target: same name, another id.
    PLUGIN->volume_snapshot_delete($b, 's', $vol, $s1, 0);
    PLUGIN->volume_snapshot($b, 's', $vol, $s1);
    my $retaken = PLUGIN->volume_snapshot_info($b, 's', $vol)->{$s1}->{id};
    isnt($retaken, $other, "$type: a snapshot taken again has another id");
    is(dies { import_stream($b, $vol, $incremental, $s2, $s1) },
        "import: snapshot '$s1' of '$vol' is not the stream's base (id $retaken here, $info->{$s1}->{id} in the stream)\n",
        "$type: a base with another id is refused");
    my $after = state_of($dst);
    delete $_->{"100/vm-100-disk-0.raw\@$s1"} for $before, $after; # the retaken one
    is_deeply($after, $before, "$type: the target is as it was");

    # Back to the real base: the full stream again after removing the target's disk.
    PLUGIN->free_image('s', $b, $vol, 0, 'raw');
    import_stream($b, $vol, $full, $s1, undef);

    # A killed import: the stream stops halfway, the importer is stopped by SIGTERM.
    $before = state_of($dst);
    pipe(my $reader, my $writer) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($writer);
        open(STDERR, '>', '/dev/null');
        local $SIG{TERM} = sub { }; # as pvesm's worker: the stop ends the import, not the process
        my $ok = eval { PLUGIN->volume_import($b, 's', $reader, $vol, 'raw+size', $s2, $s1, 1, 0); 1 };
        POSIX::_exit($ok ? 0 : $@ =~ /^import: interrupted by signal 15\n/ ? 3 : 4);
    }
    close($reader);
    binmode($writer);
    syswrite($writer, substr($incremental, 0, int(length($incremental) / 2)));
    select(undef, undef, undef, 0.5);
    kill('TERM', $pid);
    waitpid($pid, 0);
    close($writer);
    is($? >> 8, 3, "$type: the stopped import failed: 'interrupted by signal 15'");
    my $left = state_of($dst);
    my @hidden = grep { m{/\.} } keys %$left;
    delete @$left{@hidden};
    is_deeply($left, $before, "$type: a killed import leaves the volume and its snapshots as they were");

    # The next round recovers.
    is(import_stream($b, $vol, $incremental, $s2, $s1), "s:$vol", "$type: an incremental import returns the volid");
    is(checksum($target), checksum("$path\@$s2"), "$type: the target's volume is the new snapshot");
    is(-s $target, 20 * $MiB, "$type: the resize is carried");
    is(checksum("$target\@$s1"), checksum("$path\@$s1"), "$type: the base snapshot is untouched");
    $replica = PLUGIN->volume_snapshot_info($b, 's', $vol);
    is($replica->{$s2}->{id}, $info->{$s2}->{id}, "$type: the new snapshot's ids match");
    is_deeply([grep { m{/\.} } files_below("$dst/images")->@*], [], "$type: the killed import's temporaries are reclaimed");

    # PVE deletes the old replication snapshot on both sides.
    PLUGIN->volume_snapshot_delete($_, 's', $vol, $s1, 0) for $a, $b;
    is_deeply([sort keys PLUGIN->volume_snapshot_info($b, 's', $vol)->%*], [$s2], "$type: the old snapshot is gone");

    # A third round from the remaining snapshot.
    poke($path, 0x45, 5 * $MiB, 4096);
    my $s3 = '__replicate_100-0_1700001800__';
    PLUGIN->volume_snapshot($a, 's', $vol, $s3);
    import_stream($b, $vol, export_stream($a, $vol, $s3, $s2), $s3, $s2);
    is(checksum($target), checksum("$path\@$s3"), "$type: a third round");
}

# ext4 shares no extents: no replication, as for dir.
{
    my $dir = loop_mounted_dir('ext4');
    my $scfg = { type => 'swift', path => $dir };
    is(PLUGIN->storage_can_replicate($scfg, 's', 'raw'), 0, 'ext4: raw does not replicate');
    my $vol = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
    is(PLUGIN->volume_has_feature($scfg, 'replicate', 's', $vol, undef, 0), undef, 'ext4: no replicate feature');
    is_deeply([PLUGIN->volume_export_formats($scfg, 's', $vol, 'snap', undef, 1)], [], 'ext4: no export format');
    is_deeply([PLUGIN->volume_import_formats($scfg, 's', $vol, undef, undef, 1)], [], 'ext4: no import format');
    open(my $fh, '>', '/dev/null') or die;
    is(dies { PLUGIN->volume_export($scfg, 's', $fh, $vol, 'raw+size', 'snap', undef, 1) },
        "volume export format raw+size not available for PVE::Storage::Custom::SwiftPlugin\n", "ext4: export refused as dir");
    open(my $in, '<', '/dev/null') or die;
    is(dies { PLUGIN->volume_import($scfg, 's', $in, '100/vm-100-disk-1.raw', 'raw+size', 'snap', undef, 1, 0) },
        "format raw+size cannot be imported with snapshots\n", 'ext4: import refused as before');
}

done_testing();
