#!/usr/bin/perl -T
# Contract: archive_info($archive), the storage layer's helper (exposed natively as
# PVE::Storage::Custom::SwiftPlugin::Native::archive_info), returns filename, type,
# format, compression, decompressor and is_std_name for a vzdump archive name, plus
# vmid, ctime (local time), logfilename and notesfilename for standard names; other
# names die "ERROR: couldn't determine archive info from '<input>'\n". All shared
# archive_info vectors pass. A timestamp means what Time::Local's timelocal makes of
# it (as in PVE), also in the gaps and repeated hours of daylight saving changes.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();
use Time::Local ();

load_host();
$ENV{TZ} = 'UTC';

sub archive_info { PVE::Storage::Custom::SwiftPlugin::Native::archive_info(PLUGIN, @_) }

my @vectors = vectors('archive_info');
ok(@vectors >= 16, 'shared vectors found');
for my $vector (@vectors) {
    my $archive = $vector->{input}->{archive};
    if (exists $vector->{expect}->{die}) {
        is(dies { archive_info($archive) }, $vector->{expect}->{die}, "$vector->{id}: $vector->{label}");
    } else {
        is_deeply(archive_info($archive), $vector->{expect}->{ok}, "$vector->{id}: $vector->{label}");
    }
}

is_deeply(archive_info('vzdump-qemu-100-manual.vma'), {
    filename => 'vzdump-qemu-100-manual.vma', type => 'qemu', format => 'vma', compression => undef,
    decompressor => undef, is_std_name => 0,
}, 'a non-standard vzdump name');
is(archive_info('/mnt/x/vzdump-lxc-100-2024_01_01-12_00_00.tgz')->{ctime}, 1704110400, 'timestamp as local time (TZ=UTC)');
{
    local $ENV{TZ} = 'Europe/Vienna';
    is(archive_info('vzdump-lxc-100-2024_01_01-12_00_00.tgz')->{ctime}, 1704106800, 'timestamp as local time (TZ=Europe/Vienna)');
}

# Around daylight saving changes (an hour, or Lord Howe's half hour, forward or back),
# every quarter of an hour of the small hours of four months, in zones of both hemispheres.
SKIP: {
    my @zones = qw(Europe/Berlin America/New_York Australia/Lord_Howe America/Sao_Paulo Asia/Kolkata);
    skip 'no time zone data (tzdata)', scalar(@zones) if grep { !-e "/usr/share/zoneinfo/$_" } @zones;
    for my $zone (@zones) {
        local $ENV{TZ} = $zone;
        POSIX::tzset();
        my @differ;
        for my $year (2018, 2024) {
            for my $month (3, 4, 10, 11) {
                for my $day (1 .. 30) {
                    for my $hour (0 .. 3) {
                        for my $minute (0, 15, 30, 45, 59) {
                            my $name = sprintf('vzdump-qemu-100-%04d_%02d_%02d-%02d_%02d_07.vma', $year, $month, $day, $hour, $minute);
                            my $expected = Time::Local::timelocal(7, $minute, $hour, $day, $month - 1, $year);
                            my $ctime = archive_info($name)->{ctime};
                            push @differ, "$name: $ctime, timelocal $expected" if $ctime != $expected;
                        }
                    }
                }
            }
        }
        is_deeply(\@differ, [], "$zone: every timestamp as timelocal reads it");
    }
}
POSIX::tzset();

done_testing();
