#!/usr/bin/perl -T
# Contract: on a file system that shares extents (XFS with reflink, btrfs), a raw disk
# image has snapshots: volume_snapshot makes <name>@<snap>, a reflink copy next to the
# volume (instant, no data copied) that no listing shows as a volume;
# volume_snapshot_rollback reflinks it back (through a temporary file and one rename);
# volume_snapshot_delete removes it; volume_snapshot_info lists them ({ id, timestamp,
# 'virtual-size', file }); volume_has_feature reports snapshot (current and snap) and
# copy (snap) for raw; path/filesystem_path/activate_volume of a snapshot name its file;
# rename_snapshot renames it (not the current state); free_image and rename_volume take
# the snapshots along; a snapshot file left without its volume keeps its disk number
# taken. On ext4 (no reflinks) raw disks are refused with dir's messages and nothing
# else changes. Needs root for the loop mounts (skipped without); as root, a file system
# that cannot be made or mounted fails the test.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

plan(skip_all => 'loop-mounting XFS, btrfs and ext4 needs root') if $> != 0;

sub used_bytes {
    my ($dir) = @_;
    local $ENV{PATH} = '/usr/bin:/bin';
    my ($line) = grep { /^\d/ } map { s/^\s+//r } split(/\n/, `/bin/df -B1 --output=used $dir`);
    $line =~ /^(\d+)/ or die "df $dir\n";
    sync();
    return $1;
}

sub sync { local $ENV{PATH} = '/usr/bin:/bin'; system('/bin/sync') }

for my $type (qw(xfs btrfs)) {
    my $dir = eval { loop_mounted_dir($type) };
    ok($dir, "a $type file system is mounted") or diag($@), next;
    my $scfg = { type => 'swift', path => $dir };
    my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 64 * 1024);
    my $path = "$dir/images/$raw";
    poke($path, 0x41, 0, 32 * 1024 * 1024);
    my $before = checksum($path);

    is(PLUGIN->volume_has_feature($scfg, $_->[0], 's', $raw, $_->[1]), 1, "$type: has $_->[0]" . ($_->[1] ? ' of a snapshot' : ''))
        for ['snapshot', undef], ['snapshot', 'snap'], ['copy', 'snap'];
    is(PLUGIN->volume_qemu_snapshot_method('s', $scfg, $raw), 'storage', "$type: the storage snapshots");

    sync();
    my $used = used_bytes($dir);
    is(PLUGIN->volume_snapshot($scfg, 's', $raw, 'first'), undef, "$type: snapshot returns undef");
    my $snap = "$path\@first";
    ok(-f $snap, "$type: <volume>\@<snap> exists");
    is(checksum($snap), $before, "$type: it holds the volume's data");
    cmp_ok(used_bytes($dir) - $used, '<', 4 * 1024 * 1024, "$type: 32 MiB of data snapshotted in under 4 MiB (shared extents)");
    is((stat($snap))[2] & 07777, (stat($path))[2] & 07777, "$type: the volume's permissions");

    poke($path, 0x42, 1024 * 1024, 4096);
    my $changed = checksum($path);
    isnt($changed, $before, "$type: the volume changed after the snapshot");
    is(checksum($snap), $before, "$type: the snapshot did not");

    my $info = PLUGIN->volume_snapshot_info($scfg, 's', $raw);
    is_deeply([sort keys %$info], ['first'], "$type: info lists it");
    is($info->{first}->{'virtual-size'}, 64 * 1024 * 1024, "$type: its size");
    is($info->{first}->{file}, $snap, "$type: its file");
    ok(abs($info->{first}->{timestamp} - time()) < 60, "$type: when it was taken");
    like($info->{first}->{id}, qr/^[0-9a-f]{32}$/, "$type: its id (what replication compares)");

    PLUGIN->volume_snapshot($scfg, 's', $raw, 'second');
    is(PLUGIN->volume_rollback_is_possible($scfg, 's', $raw, 'first', []), 1, "$type: any snapshot can be rolled back to");
    is(dies { PLUGIN->volume_rollback_is_possible($scfg, 's', $raw, 'nope', []) },
        "can't rollback, snapshot 'nope' does not exist on '$raw'\n", "$type: not a missing one");
    is(PLUGIN->volume_snapshot_rollback($scfg, 's', $raw, 'first'), undef, "$type: rollback returns undef");
    is(checksum($path), $before, "$type: rolled back: the data of the snapshot");
    PLUGIN->volume_snapshot_rollback($scfg, 's', $raw, 'second');
    is(checksum($path), $changed, "$type: forward to the second snapshot");
    is(checksum($snap), $before, "$type: the first snapshot is untouched");
    is(dies { PLUGIN->volume_snapshot_rollback($scfg, 's', $raw, 'nope') },
        "can't rollback, snapshot 'nope' does not exist on '$raw'\n", "$type: rollback to a missing snapshot");

    is(scalar(PLUGIN->path($scfg, $raw, 's', 'first')), $snap, "$type: path of a snapshot");
    is(dies { PLUGIN->activate_volume('s', $scfg, $raw, 'first', {}) }, '', "$type: activate a snapshot");
    is(dies { PLUGIN->activate_volume('s', $scfg, $raw, 'gone', {}) }, "volume 's:$raw' does not exist\n", "$type: a missing one");

    # Listings: never a volume; dir's pattern (a name ending in a format) does not match either.
    is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, 100)->@*], ["s:$raw"], "$type: list_images shows the volume only");
    unlike($_, qr/\.(raw|qcow2|vmdk|subvol)$/, "$type: '$_' is not an image name for dir")
        for grep { /@/ } files_below("$dir/images/100")->@*;

    # Rename of a snapshot.
    output_of { PLUGIN->rename_snapshot($scfg, 's', $raw, 'second', 'renamed') };
    ok(-f "$path\@renamed" && !-e "$path\@second", "$type: rename_snapshot");
    is(dies { output_of { PLUGIN->rename_snapshot($scfg, 's', $raw, 'current', 'x2') } },
        "the current state of a raw volume cannot be renamed\n", "$type: not the current state");

    # rename_volume and free_image take the snapshots along.
    my $volid = PLUGIN->rename_volume($scfg, 's', $raw, 200, undef);
    is($volid, 's:200/vm-200-disk-0.raw', "$type: renamed volume");
    is_deeply(files_below("$dir/images/200"), ['vm-200-disk-0.raw', 'vm-200-disk-0.raw@first', 'vm-200-disk-0.raw@renamed'],
        "$type: the snapshots moved with it");
    is_deeply([grep { m{^100/} } files_below("$dir/images")->@*], [], "$type: none left behind");
    PLUGIN->free_image('s', $scfg, '200/vm-200-disk-0.raw', 0, 'raw');
    is_deeply(files_below("$dir/images"), ['100'], "$type: free_image removed the snapshots too") or diag explain files_below("$dir/images");

    # A snapshot whose volume is gone keeps the disk number taken, and its name: no new
    # volume of that name (allocated, renamed to it or made a template from) inherits it.
    make_file("$dir/images/300/vm-300-disk-0.raw\@orphan", 'x');
    is(PLUGIN->find_free_diskname('s', $scfg, 300, 'raw', 1), 'vm-300-disk-1.raw', "$type: an orphaned snapshot keeps its number");
    my $left = "disk image '$dir/images/300/vm-300-disk-0.raw' has snapshot files left from an earlier volume of that name "
        . "('vm-300-disk-0.raw\@orphan'); remove them first\n";
    is(dies { PLUGIN->alloc_image('s', $scfg, 300, 'raw', 'vm-300-disk-0.raw', 1024) }, $left, "$type: not allocated by that name");
    my $other = PLUGIN->alloc_image('s', $scfg, 301, 'raw', undef, 1024);
    is(dies { PLUGIN->rename_volume($scfg, 's', $other, 300, 'vm-300-disk-0.raw') }, $left, "$type: not renamed to that name");
    ok(-e "$dir/images/$other" && !-e "$dir/images/300/vm-300-disk-0.raw", "$type: nothing moved");
    PLUGIN->volume_snapshot($scfg, 's', $other, 'before');
    is(dies { PLUGIN->create_base('s', $scfg, $other) },
        "create_base not possible while '$other' has snapshots ('before'); delete them first\n", "$type: no template with snapshots");
    PLUGIN->volume_snapshot_delete($scfg, 's', $other, 'before', 0);
    PLUGIN->free_image('s', $scfg, $other, 0, 'raw');

    # Hostile names.
    my $vol = PLUGIN->alloc_image('s', $scfg, 400, 'raw', undef, 1024);
    my $files = files_below($dir);
    like(dies { PLUGIN->volume_snapshot($scfg, 's', $vol, $_) }, qr/^invalid snapshot name /, "$type: name refused")
        for ('../x', "a\nb", 'x' x 129, "a\0b");
    like(dies { PLUGIN->path($scfg, $vol, 's', '../../x') }, qr/^invalid snapshot name /, "$type: path refuses it too");
    is_deeply(files_below($dir), $files, "$type: no file was created");

    is(dies { PLUGIN->volume_snapshot_delete($scfg, 's', $vol, 'none', 0) }, "snapshot 'none' does not exist on '$vol'\n",
        "$type: delete of a missing snapshot");
    PLUGIN->volume_snapshot($scfg, 's', $vol, 'gone');
    is(PLUGIN->volume_snapshot_delete($scfg, 's', $vol, 'gone', 1), undef, "$type: delete (also while running)");
    ok(!-e "$dir/images/$vol\@gone", "$type: the file is gone");

    # The names PVE's replication and migration give their snapshots.
    for my $name ('__replicate_400-0_1700000000__', '__migration__') {
        PLUGIN->volume_snapshot($scfg, 's', $vol, $name);
        ok(-f "$dir/images/$vol\@$name", "$type: snapshot '$name' is a file beside the volume");
    }
    is_deeply([sort keys %{ PLUGIN->volume_snapshot_info($scfg, 's', $vol) }],
        ['__migration__', '__replicate_400-0_1700000000__'], "$type: ... listed");
    PLUGIN->volume_snapshot_delete($scfg, 's', $vol, $_, 0) for ('__replicate_400-0_1700000000__', '__migration__');
    is_deeply(files_below("$dir/images/400"), [$vol =~ s{^400/}{}r], "$type: ... and deleted");
}

# ext4: no reflinks; dir's refusals.
my $dir = eval { loop_mounted_dir('ext4') };
ok($dir, 'an ext4 file system is mounted') or diag($@);
if ($dir) {
    my $scfg = { type => 'swift', path => $dir };
    my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
    is(PLUGIN->volume_has_feature($scfg, 'snapshot', 's', $raw), undef, 'ext4: no snapshot feature for raw');
    is(PLUGIN->volume_has_feature($scfg, 'copy', 's', $raw, 'snap'), undef, 'ext4: no copy of a snapshot');
    my $files = files_below($dir);
    is(dies { PLUGIN->volume_snapshot($scfg, 's', $raw, 'snap') }, "can't snapshot this image format\n", 'ext4: snapshot refused');
    is(dies { PLUGIN->volume_snapshot_rollback($scfg, 's', $raw, 'snap') }, "can't rollback snapshot this image format\n",
        'ext4: rollback refused');
    is(dies { PLUGIN->volume_snapshot_delete($scfg, 's', $raw, 'snap', 0) }, "can't delete snapshot for this image format\n",
        'ext4: delete refused');
    is(dies { PLUGIN->path($scfg, $raw, 's', 'snap') }, "can't snapshot this image format\n", 'ext4: no snapshot path');
    is_deeply(PLUGIN->volume_snapshot_info($scfg, 's', $raw), {}, 'ext4: no snapshots');
    is_deeply(files_below($dir), $files, 'ext4: nothing was created (the probe cleaned up after itself)');
}

done_testing();
