#!/usr/bin/perl -T
# Contract: archive_info($archive), the storage layer's helper (exposed natively as
# PVE::Storage::Custom::SwiftPlugin::Native::archive_info), returns filename, type,
# format, compression, decompressor and is_std_name for a vzdump archive name, plus
# vmid, ctime (local time), logfilename and notesfilename for standard names; other
# names die "ERROR: couldn't determine archive info from '<input>'\n". All shared
# archive_info vectors pass.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

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

done_testing();
