#!/usr/bin/perl -T
# Contract: the storage layer's path_to_volume_id($cfg, $path) maps a file of a
# swift storage to (vtype, volid) through the plugin's get_subdir, parse_volname,
# list_images and path, exactly as for dir; files that are no volume give ('').
# All shared path_to_volume_id vectors pass.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @vectors = vectors('path_to_volume_id');
ok(@vectors >= 15, 'shared vectors found');
for my $vector (@vectors) {
    my $input = $vector->{input};
    my $dir = storage_dir();
    make_setup($dir, $input->{setup});
    my $cfg = { ids => {} };
    for my $sid (keys $input->{storage_cfg}->{ids}->%*) {
        my $scfg = { $input->{storage_cfg}->{ids}->{$sid}->%*, type => 'swift', path => $dir };
        $scfg->{content} = { map { $_ => 1 } $input->{storage_cfg}->{ids}->{$sid}->{content}->@* };
        $cfg->{ids}->{$sid} = $scfg;
    }
    my $path = untaint($input->{path} =~ s/\$\{STORAGE_DIR\}/$dir/r);
    is_deeply([PVE::Storage::path_to_volume_id($cfg, $path)], $vector->{expect}->{ok}, "$vector->{id}: $vector->{label}");
}

my $dir = storage_dir();
my $cfg = { ids => { st => { type => 'swift', path => $dir, content => { iso => 1 } } } };
is_deeply([PVE::Storage::path_to_volume_id($cfg, 'st:backup/vzdump-qemu-100-2024_01_01-00_00_00.vma')],
    ['backup', 'st:backup/vzdump-qemu-100-2024_01_01-00_00_00.vma'], 'a volid is parsed by the plugin');
is_deeply([PVE::Storage::path_to_volume_id($cfg, "$dir/import/disk.raw")], ['import', 'st:import/disk.raw'], 'an import image');

done_testing();
