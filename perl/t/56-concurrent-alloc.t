#!/usr/bin/perl -T
# Contract (concurrent allocation): PVE serialises alloc_image with the storage lock
# (cluster_lock_storage, a flock per storage); parallel processes allocating for the same
# VMID through the Perl class never get the same name and never lose a volume: every
# returned volname exists, is distinct, and is listed. Without the lock, a name clash can
# only fail ("already exists"), never overwrite or hand out a name twice: the rename that publishes an image does
# not replace.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();

load_host();

my $dir = storage_dir();
$ENV{PVE_STORAGE_LOCK_DIR} = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1 } };
PLUGIN->activate_storage('s', $scfg, {});

sub allocate_in_children {
    my ($children, $per_child, $locked) = @_;
    my @pids;
    for my $child (1 .. $children) {
        my $pid = fork() // die "fork: $!";
        if (!$pid) {
            open(my $out, '>', "$dir/result.$child") or die;
            for my $n (1 .. $per_child) {
                my $format = (qw(raw qcow2 vmdk))[$n % 3];
                my $alloc = sub { PLUGIN->alloc_image('s', $scfg, 100, $format, undef, 64) };
                my $volname = eval { $locked ? PLUGIN->cluster_lock_storage('s', 0, 30, $alloc) : $alloc->() };
                print $out defined($volname) ? "ok $volname\n" : "err $@";
            }
            close($out);
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my (@names, @errors);
    for my $child (1 .. $children) {
        open(my $in, '<', "$dir/result.$child") or die;
        for my $line (<$in>) { $line =~ /^ok (.*)$/ ? push(@names, $1) : push(@errors, $line =~ s/^err //r) }
        unlink("$dir/result.$child");
    }
    return (\@names, \@errors);
}

my ($names, $errors) = allocate_in_children(6, 8, 1);
is(scalar(@$names), 48, 'with the storage lock: every allocation succeeded');
is_deeply($errors, [], '... without an error');
my %seen;
$seen{ s/\.\w+$//r }++ for @$names;
is(scalar(grep { $_ > 1 } values %seen), 0, '... no disk number was handed out twice');
is((grep { -e "$dir/images/$_" } @$names), 48, '... every returned volume exists');
is_deeply([sort map { $_->{volid} =~ s/^s://r } PLUGIN->list_images('s', $scfg, 100)->@*], [sort @$names], '... and is listed, nothing else');

# Without the lock (not how PVE calls it): clashes fail cleanly; nothing is lost or replaced.
my $before = scalar(@$names);
($names, $errors) = allocate_in_children(6, 8, 0);
is(scalar(@$names) + scalar(@$errors), 48, 'without the lock: every call answered');
like($_, qr/^disk image '.*' already exists\n$/, 'a clash is refused') for @$errors;
my %unique;
$unique{$_}++ for @$names;
is(scalar(grep { $_ > 1 } values %unique), 0, '... no name handed out twice (a number may be, with another format)');
is(scalar(PLUGIN->list_images('s', $scfg, 100)->@*), $before + scalar(@$names), '... every success is a distinct volume');
is_deeply([grep { /\.tmp\./ } @{ files_below($dir) }], [], 'no temporary files left');

done_testing();
