#!/usr/bin/perl -T
# Contract: prune_backups($scfg, $storeid, $keep, $vmid, $type, $dryrun, $logfunc)
# marks the storage's backups (its backup listing, VMID-filtered) per guest and type
# group by keep-all/-last/-hourly/-daily/-weekly/-monthly/-yearly, and returns
# [{volid, type, ctime, mark, vmid?}] in listing order with marks keep, remove,
# protected, renamed (non-standard names), leaving out other types. A real run
# removes each 'remove' archive with its .log and .notes, logging "removing backup
# '<volid>'" (level info) through $logfunc (default: print); a failed removal is
# logged (level err) and, after all, dies "error pruning backups - check log\n".
# Protected archives are never removed, nor one whose protection cannot be ruled out
# (anything at <archive>.protected, a dangling symlink too: the removal then fails and is
# logged). All 28 vectors of prune.md pass.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();
$ENV{TZ} = 'UTC';
no warnings qw(once);

my $data = prune_vectors();
is(scalar($data->{cases}->@*), 28, 'all 28 prune vectors found');
for my $case ($data->{cases}->@*) {
    my $list = $case->{backups} // $data->{backup_lists}->{ $case->{list} };
    my $dir = storage_dir();
    for my $backup (@$list) {
        my ($name) = $backup->{volid} =~ m!^[^:]+:backup/(.+)$!;
        make_file("$dir/dump/$name");
        make_file("$dir/dump/$name.protected") if $backup->{protected};
    }
    # A backup without a standard name has its file's ctime, which the vector's listing gives.
    my @expected = map {
        my %entry = %$_;
        my $name = $entry{volid} =~ s!^[^:]+:backup/!!r;
        $entry{ctime} = (stat("$dir/dump/$name"))[10]
            if $name !~ /^vzdump-(?:qemu|lxc|openvz)-[1-9][0-9]{2,8}-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\./;
        \%entry;
    } $case->{expected}->@*;
    my $result = PLUGIN->prune_backups({ type => 'swift', path => $dir }, $data->{storeid}, $case->{keep},
        $case->{vmid}, $case->{type}, 1);
    is_deeply([sort { $a->{volid} cmp $b->{volid} } @$result], \@expected, "$case->{id}: $case->{label}");
}

# A real run on a directory: what is removed, what stays, what is logged.
my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
for my $day (1 .. 4) {
    my $stem = "vzdump-qemu-100-2024_03_0${day}-02_00_00";
    make_file("$dir/dump/$stem.vma.zst", 'data');
    make_file("$dir/dump/$stem.log", 'log');
    make_file("$dir/dump/$stem.vma.zst.notes", 'notes');
}
make_file("$dir/dump/vzdump-qemu-100-2024_03_01-02_00_00.vma.zst.protected");
make_file("$dir/dump/vzdump-lxc-100-2024_03_01-02_00_00.tar.gz");
make_file("$dir/dump/vzdump-qemu-100-handmade.vma");
sub listing { opendir(my $dh, "$dir/dump") or die; return [sort grep { !/^\.\.?$/ } readdir($dh)] }
my $before = listing();

my @log;
my $dry = PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, undef, undef, 1, sub { push @log, [@_] });
is_deeply({ map { $_->{volid} => $_->{mark} } @$dry }, {
    'st:backup/vzdump-qemu-100-2024_03_01-02_00_00.vma.zst' => 'protected',
    'st:backup/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst' => 'remove',
    'st:backup/vzdump-qemu-100-2024_03_03-02_00_00.vma.zst' => 'remove',
    'st:backup/vzdump-qemu-100-2024_03_04-02_00_00.vma.zst' => 'keep',
    'st:backup/vzdump-lxc-100-2024_03_01-02_00_00.tar.gz' => 'keep',
    'st:backup/vzdump-qemu-100-handmade.vma' => 'renamed',
}, 'dry run: the marks per group');
is_deeply(listing(), $before, 'dry run: nothing removed');
is_deeply(\@log, [], 'dry run: nothing logged');

my $qemu = PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, 100, 'qemu', 0, sub { push @log, [@_] });
is(scalar(@$qemu), 5, 'the type filter leaves the lxc backup out');
is_deeply(\@log, [
    ['info', "removing backup 'st:backup/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst'"],
    ['info', "removing backup 'st:backup/vzdump-qemu-100-2024_03_03-02_00_00.vma.zst'"],
], 'each removal is logged');
is_deeply(listing(), [sort grep { !/2024_03_0[23]/ } @$before], 'archives, logs and notes of removed backups are gone; protected stays');

my $out = '';
{
    open(my $fh, '>', \$out) or die;
    my $old = select($fh);
    make_file("$dir/dump/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst");
    PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, 100, 'qemu', 0);
    select($old);
}
is($out, "removing backup 'st:backup/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst'\n", 'the default log function prints');

SKIP: {
    # An immutable archive cannot be unlinked, not even by root.
    local $ENV{PATH} = '/usr/bin:/bin';
    my $victim = "$dir/dump/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst";
    make_file($victim);
    skip 'chattr +i not available here', 3 if system('chattr', '+i', $victim) != 0;
    @log = ();
    my $err = dies { PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, 100, 'qemu', 0, sub { push @log, [@_] }) };
    system('chattr', '-i', $victim);
    is($err, "error pruning backups - check log\n", 'a failed removal fails the prune');
    is_deeply($log[1], ['err', "error when removing backup 'st:backup/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst' - "
        . "removing archive $victim failed: Operation not permitted\n\n"], 'the failure is logged as an error, with dir\'s message');
    ok(-e $victim, 'the archive is still there');
}

# Issue 10, item 6: a dangling symlink as the protection marker never lets prune delete the backup.
{
    my $guarded = "$dir/dump/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst";
    make_file($guarded, 'data');
    symlink("$dir/nowhere", "$guarded.protected") or die;
    @log = ();
    my $err = dies { PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, 100, 'qemu', 0, sub { push @log, [@_] }) };
    is($err, "error pruning backups - check log\n", 'dangling marker symlink: the prune fails');
    is_deeply($log[1], ['err', "error when removing backup 'st:backup/vzdump-qemu-100-2024_03_02-02_00_00.vma.zst' - "
        . "cannot remove protected archive '$guarded'\n\n"], '... and logs why');
    ok(-f $guarded, '... the backup is still there');
    unlink("$guarded.protected", $guarded);
}

is(dies { PLUGIN->prune_backups($scfg, 'st', { 'keep-last' => 1 }, 200, undef, 1) }, '', 'no backups of a guest: nothing to do');
make_file("$dir/dump/vzdump-qemu-300-2024_01_01-00_00_00.vma");
make_file("$dir/dump/x-300-vzdump-qemu-300-2024_01_01-00_00_00.vma");
is_deeply([map { $_->{mark} } PLUGIN->prune_backups($scfg, 'st', { 'keep-all' => 1 }, 300, undef, 1)->@*],
    ['keep', 'renamed'], 'keep-all');

done_testing();
