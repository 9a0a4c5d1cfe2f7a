#!/usr/bin/perl -T
# Contract (shared storage, two nodes, what a node's file system client keeps from it):
# the caches and the coarse clocks of the shared file system must not make one node
# act on what the other has changed. Per file system, what the client does and what
# the plugin does there:
#
# - directory entries: mfsmount keeps a directory's entry for about a second
#   (mfsdirentrycacheto): after node A removed a VMID's image directory (freeing its
#   last disk), node B's stat still finds it. B allocating a disk for that VMID at once
#   must still work (as it does on CephFS, whose clients hold capabilities instead);
# - sizes: a file node A writes and keeps open shows its old size on B (MooseFS, until
#   A's client flushes: a fraction of a second, at the latest when A closes or syncs);
#   a volume A has allocated shows its full size and allocation on B at once;
# - timestamps: MooseFS keeps whole seconds. Backup notes rewritten within one second
#   (same mtime, same size) are read anew on the other node: nothing is taken from a
#   cache keyed on the file's time.
# Needs root (see SharedFS.pm).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use SharedFS;
use Time::HiRes ();

load_host();
$ENV{TZ} = 'UTC';

my ($A, $B) = shared_storage();
my ($pa, $pb) = ($A->{path}, $B->{path});
my $fs = shared_fs_name();
my $moosefs = $fs eq 'MooseFS';
PLUGIN->activate_storage('s', $_, {}) for ($A, $B);
my $MiB = 1024 * 1024;

my sub alloc { my ($scfg, @args) = @_; my ($out, $volname) = output_of { PLUGIN->alloc_image('s', $scfg, @args) }; return $volname }

# --- a directory removed on A, still in B's cache --------------------------------------------

# B looks at VMID 500's directory (as a listing does), A frees 500's last disk (which
# removes the directory), and B at once allocates a disk for 500.
my sub removed_under_b {
    my ($vmid) = @_;
    my $volname = alloc($A, $vmid, 'raw', undef, 1024);
    my $seen = -d "$pb/images/$vmid" ? 1 : 0;
    PLUGIN->free_image('s', $A, $volname, 0, 'raw');
    return ($seen, -d "$pb/images/$vmid" ? 1 : 0);
}

my ($seen, $stale) = removed_under_b(500);
is($seen, 1, "B sees the directory of VMID 500 that A made");
is($stale, $moosefs ? 1 : 0, $moosefs
    ? "A freed its last disk, removing it; B's stat still finds it (mfsmount's directory entry cache)"
    : "A freed its last disk, removing it; B's stat no longer finds it");
my $allocated = eval { alloc($B, 500, 'raw', undef, 1024) } // "error: $@";
# The storage makes a directory by mkdir first, not by a stat that finds it: a mkdir
# revalidates the cached entry on FUSE. (dir's mkpath trusts -d, and fails here.)
is($allocated, '500/vm-500-disk-0.raw', 'B allocates a disk for 500 at once');
PLUGIN->free_image('s', $B, $allocated, 0, 'raw') if $allocated !~ /^error/;
Time::HiRes::sleep(1.5);

($seen, $stale) = removed_under_b(501);
my $renamed = eval { PLUGIN->rename_volume($B, 's', alloc($B, 502, 'raw', undef, 1024), 501, undef) } // "error: $@";
is($renamed, 's:501/vm-501-disk-0.raw', 'B renames a disk to VMID 501 at once, whose directory A removed');
Time::HiRes::sleep(1.5);
my @left = map { $_->{volid} } PLUGIN->list_images('s', $B, undef)->@*;
PLUGIN->free_image('s', $B, $_ =~ s/^s://r, 0, 'raw') for @left;
rmdir("$pb/images/502"); # a rename leaves the directory it emptied, as dir's
ok(wait_for_path(sub { !-e "$pb/images/500" && !-e "$pb/images/501" && !-e "$pb/images/502" }, 3), 'everything freed');

# --- sizes while the writer keeps the file open -------------------------------------------------

{
    mkdir("$pa/images/600");
    open(my $fh, '>', "$pa/images/600/growing") or die;
    syswrite($fh, 'x' x $MiB) == $MiB or die "write: $!\n";
    my $b_size = -s "$pb/images/600/growing" // 0;
    ok($moosefs ? ($b_size == 0 || $b_size == $MiB) : $b_size == $MiB,
        "A wrote 1 MiB and keeps the file open: B sees $b_size bytes" . ($moosefs ? ' (0 until A\'s client flushes)' : ''));
    close($fh);
    is(-s "$pb/images/600/growing", $MiB, '... and 1 MiB once A closed it');
    unlink("$pa/images/600/growing");
    rmdir("$pa/images/600");
}
my $full = alloc({ %$A, preallocation => 'full' }, 601, 'raw', undef, 8192);
my ($item) = PLUGIN->list_images('s', $B, 601)->@*;
is_deeply([@$item{qw(volid size used)}], ["s:$full", 8 * $MiB, 8 * $MiB],
    'a disk A allocated fully: B lists its whole size and allocation at once');
PLUGIN->free_image('s', $A, $full, 0, 'raw');

# --- whole seconds: notes rewritten within one second --------------------------------------------

make_file("$pa/dump/vzdump-qemu-700-2024_01_01-00_00_00.vma.zst", 'data');
my $backup = 'backup/vzdump-qemu-700-2024_01_01-00_00_00.vma.zst';
my $notes = "$pa/dump/vzdump-qemu-700-2024_01_01-00_00_00.vma.zst.notes";
my ($first, $second, $read);
for my $try (1 .. 5) {
    # Both writes in one second of the clock (the file system's own may differ by a fraction).
    my $now = Time::HiRes::time();
    Time::HiRes::sleep(1.05 - ($now - int($now))) if $now - int($now) > 0.5;
    PLUGIN->update_volume_attribute($A, 's', $backup, 'notes', 'first version');
    $first = (Time::HiRes::stat($notes))[9];
    $read = PLUGIN->get_volume_attribute($B, 's', $backup, 'notes');
    PLUGIN->update_volume_attribute($A, 's', $backup, 'notes', 'other version');
    $second = (Time::HiRes::stat($notes))[9];
    last if int($first) == int($second);
}
is($read, 'first version', 'B read the first notes');
if ($moosefs) {
    is($second, $first, "A rewrote them within the same second: the same mtime ($first, whole seconds) and size");
} else {
    isnt($second, $first, "A rewrote them: another mtime ($first, then $second: $fs keeps fractions)");
}
is(PLUGIN->get_volume_attribute($B, 's', $backup, 'notes'), 'other version', 'B reads the new notes');
is((PLUGIN->list_volumes('s', $B, 700, ['backup'])->@*)[0]->{notes}, 'other version', "... and lists them");
is_deeply(temporaries_below($pa), [], 'no temporary left');

done_testing();
