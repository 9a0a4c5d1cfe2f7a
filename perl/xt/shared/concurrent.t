#!/usr/bin/perl -T
# Contract (shared storage, two nodes at once): processes on node A and on node B
# allocating disks for the same VMID on one CephFS or MooseFS at the same time. Under PVE's
# storage lock (one lock for the cluster; here a flock both nodes share) every
# allocation succeeds, no name is handed out twice, every returned volume exists with
# the format it was made with, and both nodes list exactly these volumes. Without the
# lock (not how PVE calls it) a clash can only fail ("disk image '...' already
# exists"): no volume is replaced or lost. A node listing while the other allocates
# never sees a partial volume. Notes written from both nodes at once (PVE takes no lock
# for them) are always one whole version; both nodes pruning at once remove each
# backup once, fail on none, and never touch the protected one. No temporary is left.
# Needs root; as root a rig that cannot come up fails the test (see SharedFS.pm).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use SharedFS;
use POSIX ();
use Time::HiRes ();

load_host();

my ($A, $B) = shared_storage();
PLUGIN->activate_storage('s', $_, {}) for ($A, $B);
my $results = storage_dir();
my %size = (raw => 64 * 1024, qcow2 => 128 * 1024, vmdk => 192 * 1024); # KiB, one per format

# $children processes, alternately on node A and node B, each allocating $per_child
# disks for $vmid. Returns (names, errors) as [node, text] pairs.
sub allocate_on_both_nodes {
    my ($vmid, $children, $per_child, $locked) = @_;
    my @pids;
    for my $child (1 .. $children) {
        my ($node, $scfg) = $child % 2 ? ('A', $A) : ('B', $B);
        my $pid = fork() // die "fork: $!";
        if (!$pid) {
            open(my $out, '>', "$results/$child") or die;
            for my $n (1 .. $per_child) {
                my $format = (qw(raw qcow2 vmdk))[($n + $child) % 3];
                my $alloc = sub { my @out = output_of { PLUGIN->alloc_image('s', $scfg, $vmid, $format, undef, $size{$format}) }; $out[1] };
                my $volname = eval { $locked ? PLUGIN->cluster_lock_storage('s', 1, 120, $alloc) : $alloc->() };
                print $out defined($volname) ? "ok $node $volname\n" : "err $node $@";
            }
            close($out);
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my (@names, @errors);
    for my $child (1 .. $children) {
        open(my $in, '<', "$results/$child") or die "child $child wrote nothing\n";
        for my $line (<$in>) {
            if ($line =~ /^ok (\w) (.*)$/) { push @names, [$1, $2] } else { $line =~ /^err (\w) (.*)$/s; push @errors, [$1, $2] }
        }
        unlink("$results/$child");
    }
    return (\@names, \@errors);
}

sub listed { my ($scfg, $vmid) = @_; return [sort map { $_->{volid} =~ s/^s://r } PLUGIN->list_images('s', $scfg, $vmid)->@*] }

# Each volume is whole: the format of its name, the size it was allocated with.
sub whole {
    my ($scfg, $volname) = @_;
    my ($format) = $volname =~ /\.(\w+)$/;
    my ($size, $got) = PLUGIN->volume_size_info($scfg, 's', $volname);
    my $header = qemu_img_info("$scfg->{path}/images/$volname")->{format};
    return $got eq $format && $header eq $format && $size == $size{$format} * 1024 ? '' : "$volname: $got/$header, $size";
}

# --- under the shared lock -----------------------------------------------------------------

my $started = Time::HiRes::time();
my ($names, $errors) = allocate_on_both_nodes(100, 6, 8, 1);
note(sprintf('48 locked allocations from two nodes in %.1f s', Time::HiRes::time() - $started));
is(scalar(@$names), 48, 'with the lock: all 48 allocations of both nodes succeeded');
is_deeply($errors, [], '... without an error');
is(scalar(grep { $_->[0] eq 'A' } @$names), 24, '... 24 on each node');
my %number;
$number{ $_->[1] =~ s/\.\w+$//r }++ for @$names;
is(scalar(keys %number), 48, '... no disk number was handed out twice');
my @volumes = sort map { $_->[1] } @$names;
is_deeply(listed($A, 100), \@volumes, 'node A lists exactly the volumes both nodes made');
is_deeply(listed($B, 100), \@volumes, 'node B too');
is_deeply([grep { $_ } map { whole($B, $_) } @volumes], [], 'each is whole, with its format and size, seen from B');
is_deeply([grep { !-f "$A->{path}/images/$_" } @volumes], [], "... and each file is on A's mount");

# --- without the lock ---------------------------------------------------------------------

my $before = scalar(@volumes);
($names, $errors) = allocate_on_both_nodes(100, 6, 8, 0);
is(scalar(@$names) + scalar(@$errors), 48, 'without the lock: every call answered');
my %path = (A => $A->{path}, B => $B->{path});
is_deeply([grep { $_->[1] !~ m{^disk image '\Q$path{$_->[0]}\E/images/100/vm-100-disk-\d+\.(raw|qcow2|vmdk)' already exists\n$} } @$errors], [],
    'a clash only fails, as "already exists" (' . scalar(@$errors) . ' clashes)');
my %unique;
$unique{ $_->[1] }++ for @$names;
is(scalar(grep { $_ > 1 } values %unique), 0, '... no name handed out twice');
my @all = sort(@volumes, map { $_->[1] } @$names);
is_deeply(listed($A, 100), \@all, '... A lists the earlier volumes and every success, nothing else');
is_deeply(listed($B, 100), \@all, '... B too');
is_deeply([grep { $_ } map { whole($A, $_) } @all], [], '... none replaced: each has the format and size it was made with');

# --- a node listing while the other allocates ----------------------------------------------

my $stop = "$results/stop";
my $lister = fork() // die;
if (!$lister) {
    # Node B lists VM 200 over and over; every listed volume must be whole.
    open(my $out, '>', "$results/lister") or die;
    my ($rounds, $seen) = (0, 0);
    until (-e $stop) {
        for my $item (PLUGIN->list_images('s', $B, 200)->@*) {
            $seen++;
            my ($format) = $item->{volid} =~ /\.(\w+)$/;
            print $out "partial $item->{volid} $item->{format} $item->{size}\n"
                if $item->{format} ne $format || $item->{size} != $size{$format} * 1024;
        }
        $rounds++;
    }
    print $out "rounds $rounds seen $seen\n";
    close($out);
    POSIX::_exit(0);
}
my $creator = fork() // die;
if (!$creator) {
    for my $n (1 .. 12) {
        my $format = (qw(raw qcow2 vmdk))[$n % 3];
        output_of { PLUGIN->cluster_lock_storage('s', 1, 60, sub { PLUGIN->alloc_image('s', $A, 200, $format, undef, $size{$format}) }) };
    }
    POSIX::_exit(0);
}
waitpid($creator, 0);
make_file($stop);
waitpid($lister, 0);
open(my $in, '<', "$results/lister") or die;
my @report = <$in>;
my ($rounds, $seen) = ($report[-1] // '') =~ /^rounds (\d+) seen (\d+)$/;
ok($rounds && $rounds >= 3, "B listed VM 200 $rounds times while A allocated 12 disks ($seen items seen)");
is_deeply([grep { /^partial/ } @report], [], '... and never saw a partial volume');
is(scalar(@{ listed($B, 200) }), 12, '... and lists all 12 afterwards');

# --- both nodes freeing and allocating, under the lock ------------------------------------------

my @pids;
for my $node ($A, $B) {
    my $pid = fork() // die;
    if (!$pid) {
        my $ok = eval {
            for my $round (1 .. 6) {
                my $volname = PLUGIN->cluster_lock_storage('s', 1, 60, sub { my @o = output_of { PLUGIN->alloc_image('s', $node, 300, 'raw', undef, 64) }; $o[1] });
                PLUGIN->cluster_lock_storage('s', 1, 60, sub { PLUGIN->free_image('s', $node, $volname, 0, 'raw') });
            }
            1;
        };
        print STDERR "# $@" if !$ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    push @pids, $pid;
}
my @statuses = map { waitpid($_, 0); $? } @pids;
is_deeply(\@statuses, [0, 0], 'both nodes allocated and freed VM 300\'s disks in turn');
ok(!-e "$B->{path}/images/300", '... its directory is gone (the last free removed it)');
# --- notes from both nodes at once ----------------------------------------------------------

my @backups = map { sprintf('vzdump-qemu-600-2024_01_%02d-00_00_00.vma.zst', $_) } 1 .. 8;
make_file("$A->{path}/dump/$_", 'data') for @backups;
make_file("$A->{path}/dump/" . s/\.vma\.zst$/.log/r, 'log') for @backups;
my $noted = "backup/$backups[0]";
my %versions;
@pids = ();
for my $node (['A', $A], ['B', $B]) {
    my ($name, $scfg) = @$node;
    my $pid = fork() // die;
    if (!$pid) {
        my $ok = eval {
            PLUGIN->update_volume_attribute($scfg, 's', $noted, 'notes', "$name version $_\n" . ('x' x (1000 * $_))) for 1 .. 15;
            1;
        };
        print STDERR "# $@" if !$ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    push @pids, $pid;
}
@statuses = map { waitpid($_, 0); $? } @pids;
is_deeply(\@statuses, [0, 0], 'both nodes wrote the same backup\'s notes 15 times at once');
my $notes = PLUGIN->get_volume_attribute($B, 's', $noted, 'notes');
my ($who, $version) = $notes =~ /^(A|B) version (\d+)\n/;
is($notes, defined($version) ? "$who version $version\n" . ('x' x (1000 * $version)) : 'a whole version', "the notes are one whole version (${\ ($who // '?')}'s last)");

# --- both nodes pruning at once ----------------------------------------------------------------

PLUGIN->update_volume_attribute($A, 's', $noted, 'protected', 1);
my $go = "$results/go";
@pids = ();
for my $node (['A', $A], ['B', $B]) {
    my ($name, $scfg) = @$node;
    my $pid = fork() // die;
    if (!$pid) {
        my @log;
        Time::HiRes::sleep(0.01) until -e $go;
        my $result = eval { PLUGIN->prune_backups($scfg, 's', { 'keep-last' => 1 }, 600, undef, 0, sub { push @log, "$_[0]: $_[1]" }) };
        open(my $out, '>', "$results/prune.$name") or die;
        print $out $result ? join('', map { "$_->{mark} $_->{volid}\n" } @$result) : "died $@";
        print $out "log $_\n" for @log;
        close($out);
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
make_file($go);
waitpid($_, 0) for @pids;
# Each node marks what it listed: the other may have removed some archives already.
my %marks;
for my $name ('A', 'B') {
    open(my $in, '<', "$results/prune.$name") or die;
    my @lines = <$in>;
    my @marks = grep { !/^log / } @lines;
    $marks{$_}++ for grep { /^remove / } @marks;
    is_deeply([grep { !/^remove / } @marks], ["protected s:$noted\n", "keep s:backup/$backups[7]\n"],
        "$name pruned at the same time as the other: the protected backup marked so, the newest kept");
    is_deeply([grep { /^log err/ } @lines], [], '... no error logged (an archive the other node removed first is fine)');
}
is_deeply([sort keys %marks], [map { "remove s:backup/$_\n" } @backups[1 .. 6]], 'between them, they marked every other backup for removal');
is_deeply([grep { /600/ } @{ files_below("$B->{path}/dump") }],
    [sort $backups[0], "$backups[0].notes", "$backups[0].protected", $backups[0] =~ s/\.vma\.zst$/.log/r, $backups[7], $backups[7] =~ s/\.vma\.zst$/.log/r],
    'the protected backup and the newest are left, with their companions; every other archive and log is gone');
is_deeply(temporaries_below($A->{path}), [], 'no temporary left anywhere');

done_testing();
