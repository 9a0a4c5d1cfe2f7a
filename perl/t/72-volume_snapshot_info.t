#!/usr/bin/perl -T
# Contract: volume_snapshot_info($scfg, $storeid, $volname) returns a hash reference of the
# volume's snapshots, by name.
# - qcow2 (internal snapshots): { <name> => { timestamp => <date-sec>, 'virtual-size' =>
#   <bytes> } }, read natively from the image's snapshot table (dir runs qemu-img info and
#   reports only the timestamp); other formats: {} (raw: its reflink snapshots, see
#   79-reflink-snapshots.t). A missing file or a damaged snapshot table -> qemu-img's
#   "Could not open" message.
# - snapshot-as-volume-chain: one entry per layer of the chain, `current` (the volume file)
#   included: { order (0 for current, +1 per older layer), file, volname, volid,
#   'virtual-size', parent (the next older layer, if any), child (the next newer one) };
#   layers that are not snapshot files of this volume (a linked clone's base) end the list.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $qcow = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $path = "$dir/images/$qcow";

is_deeply(PLUGIN->volume_snapshot_info($scfg, 's', $qcow), {}, 'no snapshots: {}');
PLUGIN->volume_snapshot($scfg, 's', $qcow, 'first');
PLUGIN->volume_resize($scfg, 's', $qcow, 2 * 1024 * 1024, 0);
PLUGIN->volume_snapshot($scfg, 's', $qcow, 'second');
my $info = PLUGIN->volume_snapshot_info($scfg, 's', $qcow);
my %expected = map { $_->{name} => { timestamp => $_->{'date-sec'} } } qemu_img_info($path)->{snapshots}->@*;
is_deeply([sort keys %$info], ['first', 'second'], 'both snapshots');
is($info->{$_}->{timestamp}, $expected{$_}->{timestamp}, "$_: qemu-img's date-sec") for qw(first second);
ok(abs($info->{first}->{timestamp} - time()) < 60, 'a current timestamp');
is($info->{first}->{'virtual-size'}, 1024 * 1024, 'first: the size when it was taken');
is($info->{second}->{'virtual-size'}, 2 * 1024 * 1024, 'second: the size after the resize');
is_deeply([sort keys $info->{first}->%*], ['timestamp', 'virtual-size'], 'no other members');

# A snapshot made by qemu-img directly is seen too (the table is the truth).
qemu_img('snapshot', '-c', 'outside', $path);
ok(exists PLUGIN->volume_snapshot_info($scfg, 's', $qcow)->{outside}, 'an outside snapshot');

for my $format (qw(raw vmdk subvol)) {
    my $volume = PLUGIN->alloc_image('s', $scfg, 101, $format, undef, $format eq 'subvol' ? 0 : 1024);
    is_deeply(PLUGIN->volume_snapshot_info($scfg, 's', $volume), {}, "$format: {}");
}
is(dies { PLUGIN->volume_snapshot_info($scfg, 's', '100/vm-100-disk-9.qcow2') },
    "qemu-img: Could not open '$dir/images/100/vm-100-disk-9.qcow2': Could not open '$dir/images/100/vm-100-disk-9.qcow2': No such file or directory\n",
    "missing file: qemu-img's message, as dir");

# A damaged table: the count says 3 snapshots, the table offset points past the end.
my $bad = PLUGIN->alloc_image('s', $scfg, 102, 'qcow2', undef, 1024);
{
    open(my $fh, '+<', "$dir/images/$bad") or die;
    binmode($fh);
    seek($fh, 60, 0);
    print $fh pack('N Q>', 3, 1 << 40);
    close($fh);
}
is(dies { PLUGIN->volume_snapshot_info($scfg, 's', $bad) },
    "qemu-img: Could not open '$dir/images/$bad': Failed to read snapshot table\n", 'a table outside the file');

# Volume chains.
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
my $cq = PLUGIN->alloc_image('s', $chain, 103, 'qcow2', undef, 1024);
my $cp = "$dir/images/$cq";
is_deeply(PLUGIN->volume_snapshot_info($chain, 's', $cq), {
    current => { order => 0, file => $cp, volname => $cq, volid => "s:$cq", 'virtual-size' => 1024 * 1024 },
}, 'no snapshot: current alone');
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'sa') };
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'sb') };
my $layer = sub { my ($name) = @_; my $file = "snap-$name-vm-103-disk-0.qcow2";
    return (file => "$dir/images/103/$file", volname => "103/$file", volid => "s:103/$file", 'virtual-size' => 1024 * 1024) };
is_deeply(PLUGIN->volume_snapshot_info($chain, 's', $cq), {
    current => { order => 0, file => $cp, volname => $cq, volid => "s:$cq", 'virtual-size' => 1024 * 1024, parent => 'sb' },
    sb => { order => 1, $layer->('sb'), parent => 'sa', child => 'current' },
    sa => { order => 2, $layer->('sa'), child => 'sb' },
}, 'two snapshots: the chain, newest first');

# A broken chain (a snapshot file gone): qemu-img's error, as dir gets it; the volume
# can then neither be renamed nor freed without its layers (dir refuses too).
{
    my $bq = PLUGIN->alloc_image('s', $chain, 106, 'qcow2', undef, 1024);
    for my $snap (qw(first second)) { output_of { PLUGIN->volume_snapshot($chain, 's', $bq, $snap) } }
    my $d = "$dir/images/106";
    rename("$d/snap-first-vm-106-disk-0.qcow2", "$d/elsewhere") or die;
    my $missing = "$d/snap-first-vm-106-disk-0.qcow2";
    my $broken = "qemu-img: Could not open '$missing': Could not open '$missing': No such file or directory\n";
    is(dies { PLUGIN->volume_snapshot_info($chain, 's', $bq) }, $broken, 'a broken chain: an error naming the missing layer');
    my $files = files_below($d);
    is(dies { PLUGIN->rename_volume($chain, 's', $bq, 107, undef) }, $broken, 'not renamed without its layers');
    is(dies { PLUGIN->free_image('s', $chain, $bq, 0, 'qcow2') }, $broken, 'not freed without its layers');
    is_deeply(files_below($d), $files, 'nothing moved or removed');
    ok(!-e "$dir/images/107", 'no target directory');
}

# Not a qcow2 file under a qcow2 name: a chain of one layer (freeing it works, as in dir).
{
    make_file("$dir/images/108/vm-108-disk-0.qcow2", 'not an image');
    my $info = PLUGIN->volume_snapshot_info($chain, 's', '108/vm-108-disk-0.qcow2');
    is_deeply([keys %$info], ['current'], 'not a qcow2: current only');
    is(dies { PLUGIN->free_image('s', $chain, '108/vm-108-disk-0.qcow2', 0, 'qcow2') }, '', 'and it can be freed');
}

# A raw volume on a chain storage without reflinks: dir's chain of one layer.
{
    my $raw = PLUGIN->alloc_image('s', $chain, 109, 'raw', undef, 1024);
    is_deeply(PLUGIN->volume_snapshot_info($chain, 's', $raw), { current => { order => 0, file => "$dir/images/$raw",
        volname => $raw, volid => "s:$raw", 'virtual-size' => 1024 * 1024 } }, 'raw on a chain storage: current only, as dir');
    is(dies { PLUGIN->volume_rollback_is_possible($chain, 's', $raw, 's1', []) },
        "can't rollback, snapshot 's1' does not exist on '$raw'\n", 'and no snapshot to roll back to, as dir');
}

# Snapshot names with dashes: the longest name before -<volume> (dir's pattern).
output_of { PLUGIN->volume_snapshot($chain, 's', $cq, 'c-d') };
is(PLUGIN->volume_snapshot_info($chain, 's', $cq)->{'c-d'}->{order}, 1, 'a name with a dash');

# A linked clone: the base below the oldest snapshot is not a layer of the volume.
my $base = PLUGIN->create_base('s', $chain, PLUGIN->alloc_image('s', $chain, 104, 'qcow2', undef, 1024));
my (undef, $clone) = warnings_of { PLUGIN->clone_image($chain, 's', $base, 105) };
output_of { PLUGIN->volume_snapshot($chain, 's', $clone, 'x1') };
my $clone_info = PLUGIN->volume_snapshot_info($chain, 's', $clone);
is_deeply([sort keys %$clone_info], ['current', 'x1'], 'a clone: its own layers only');
ok(!exists $clone_info->{x1}->{parent}, 'the oldest snapshot of a clone has no parent');
is($clone_info->{x1}->{volname}, '105/snap-x1-vm-105-disk-0.qcow2', 'volname of the layer in its own directory');
PLUGIN->free_image('s', $chain, $clone, 0, 'qcow2');
PLUGIN->free_image('s', $chain, $base, 1, 'qcow2');

done_testing();
