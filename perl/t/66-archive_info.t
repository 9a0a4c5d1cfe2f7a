#!/usr/bin/perl -T
# Contract: what a backup's name says, as PVE's archive_info reads it, is what the
# backup listing reports. list_volumes($storeid, $scfg, undef, ['backup']) gives each
# archive of every shared archive_info vector its subtype (the guest type), vmid and
# format (the extension) from the name and, for a standard name
# (vzdump-<type>-<vmid>-YYYY_MM_DD-hh_mm_ss.<ext>), the name's timestamp as ctime, read as
# local time in the zone TZ names when list_volumes is called; a name archive_info
# refuses (or one whose date does not exist) is not a backup, or one of subtype
# 'unknown' with the file's own ctime. A timestamp means what Time::Local's timelocal
# makes of it (as in PVE), also in the gaps and repeated hours of daylight saving changes.
# (archive_info is PVE::Storage's helper, not a plugin method: the library does not
# export it. The rest of its answer, and its error messages, are checked in Swift on the
# same vectors: Tests/SwiftPluginTests/ArchiveInfoTests.swift.)
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();
use Time::Local ();

load_host();
$ENV{TZ} = 'UTC';

# dir's backup extensions (PVE::Storage's BACKUP_EXT_RE_2): the names a backup listing shows.
my $BACKUP_EXTENSION = qr/\.(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2))?)$/;

# The backup items of a storage at $dir, by file name.
sub backups {
    my ($dir) = @_;
    my $scfg = { type => 'swift', path => $dir, content => { backup => 1 } };
    my $items = PLUGIN->list_volumes('st', $scfg, undef, ['backup']);
    return { map { ($_->{volid} =~ m{^st:backup/(.*)\z}s)[0] => $_ } @$items };
}

sub file_ctime { (stat($_[0]))[10] }

# The shared vectors, one archive each in a dump directory (only the file name counts).
my @vectors = vectors('archive_info');
ok(@vectors >= 16, 'shared vectors found');
{
    my $dir = storage_dir();
    my %name_of;
    for my $vector (@vectors) {
        my $name = untaint($vector->{input}->{archive} =~ s{.*/}{}sr);
        $name_of{$vector->{id}} = $name;
        make_file("$dir/dump/$name");
    }
    my $listed = backups($dir);
    for my $vector (@vectors) {
        my $name = $name_of{$vector->{id}};
        my $item = $listed->{$name};
        if (exists $vector->{expect}->{die}) {
            if ($name !~ $BACKUP_EXTENSION) {
                ok(!$item, "$vector->{id}: not a backup: $vector->{label}");
            } else {
                is_deeply($item && [$item->{subtype}, $item->{ctime}], ['unknown', file_ctime("$dir/dump/$name")],
                    "$vector->{id}: a backup of unknown type, with the file's time: $vector->{label}");
            }
            next;
        }
        my $info = $vector->{expect}->{ok};
        my ($format) = $name =~ $BACKUP_EXTENSION;
        is_deeply($item, {
            volid => "st:backup/$name", format => $format, size => 0, content => 'backup',
            subtype => $info->{type}, vmid => $info->{vmid}, ctime => $info->{ctime},
        }, "$vector->{id}: $vector->{label}");
    }
}

{
    my $dir = storage_dir();
    make_file("$dir/dump/vzdump-qemu-100-manual.vma");
    make_file("$dir/dump/vzdump-lxc-100-2024_01_01-12_00_00.tgz");
    make_file("$dir/dump/vzdump-qemu-100-2020_02_30-00_00_00.vma");
    my $listed = backups($dir);
    is_deeply($listed->{'vzdump-qemu-100-manual.vma'}, {
        volid => 'st:backup/vzdump-qemu-100-manual.vma', format => 'vma', size => 0, content => 'backup',
        subtype => 'qemu', vmid => 100, ctime => file_ctime("$dir/dump/vzdump-qemu-100-manual.vma"),
    }, "a non-standard vzdump name: its type, the vmid between dashes, the file's time");
    is_deeply([@{ $listed->{'vzdump-qemu-100-2020_02_30-00_00_00.vma'} }{qw(subtype ctime)}],
        ['unknown', file_ctime("$dir/dump/vzdump-qemu-100-2020_02_30-00_00_00.vma")],
        'a standard name of a day that does not exist: unknown, the file\'s time (archive_info dies)');
    is($listed->{'vzdump-lxc-100-2024_01_01-12_00_00.tgz'}->{ctime}, 1704110400, 'timestamp as local time (TZ=UTC)');
    local $ENV{TZ} = 'Europe/Vienna';
    is(backups($dir)->{'vzdump-lxc-100-2024_01_01-12_00_00.tgz'}->{ctime}, 1704106800,
        'timestamp as local time (TZ=Europe/Vienna, read when list_volumes is called)');
}

# Around daylight saving changes (an hour, or Lord Howe's half hour, forward or back),
# every quarter of an hour of the small hours (and 23:00 to 23:59) in four months of two
# years, in zones of both hemispheres: the 1st, 15th and last day of each month, and each
# day with a change (found with POSIX's mktime, not written here) with its neighbours.
SKIP: {
    my @zones = qw(Europe/Berlin America/New_York Australia/Lord_Howe America/Sao_Paulo Asia/Kolkata);
    skip 'no time zone data (tzdata)', 2 * scalar(@zones) if grep { !-e "/usr/share/zoneinfo/$_" } @zones;
    for my $zone (@zones) {
        local $ENV{TZ} = $zone;
        POSIX::tzset();
        # Local noon, and seconds from one local time to another, as the C library sees them.
        my $at = sub { my ($y, $m, $d, $h) = @_; POSIX::mktime(0, 0, $h, $d, $m - 1, $y - 1900, 0, 0, -1) };
        my (%days, @changes, @outside);
        for my $year (2018, 2024) {
            for my $month (3, 4, 10, 11) {
                my $last = (localtime($at->($year, $month + 1, 0, 12)))[3];
                my @change_days = grep { $at->($year, $month, $_, 12) - $at->($year, $month, $_ - 1, 12) != 86400 } 1 .. $last;
                for my $day (@change_days) {
                    push @changes, sprintf('%04d-%02d-%02d', $year, $month, $day);
                    # The change lies between 23:00 the day before and 04:00: in the grid's hours.
                    push @outside, $changes[-1] if $at->($year, $month, $day, 4) - $at->($year, $month, $day - 1, 23) == 5 * 3600;
                }
                for my $day (1, 15, $last, map { $_ - 1, $_, $_ + 1 } @change_days) {
                    # Neighbours in the next or previous month, as the C library normalises them.
                    my @t = localtime($at->($year, $month, $day, 12));
                    $days{ sprintf('%04d_%02d_%02d', $t[5] + 1900, $t[4] + 1, $t[3]) } = 1;
                }
            }
        }
        my $dir = storage_dir();
        my %expected;
        for my $day (sort keys %days) {
            my ($year, $month, $mday) = split /_/, $day;
            for my $hour (0 .. 3, 23) {
                for my $minute (0, 15, 30, 45, 59) {
                    my $name = sprintf('vzdump-qemu-100-%s-%02d_%02d_07.vma', $day, $hour, $minute);
                    make_file("$dir/dump/$name");
                    $expected{$name} = Time::Local::timelocal(7, $minute, $hour, $mday, $month - 1, $year);
                }
            }
        }
        my $listed = backups($dir);
        my @differ = map { "$_: " . ($listed->{$_}->{ctime} // 'not listed') . ", timelocal $expected{$_}" }
            grep { ($listed->{$_}->{ctime} // -1) != $expected{$_} } sort keys %expected;
        is_deeply(\@differ, [], "$zone: every timestamp as timelocal reads it (" . scalar(keys %expected)
            . ' names; changes on ' . (join(', ', @changes) || 'no day') . ')');
        is_deeply(\@outside, [], "$zone: every change lies in the hours the names cover");
    }
}
POSIX::tzset();

done_testing();
