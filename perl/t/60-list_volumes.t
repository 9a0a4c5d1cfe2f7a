#!/usr/bin/perl -T
# Contract: list_volumes($storeid, $scfg, $vmid, $content_types) returns an array of
# item hashes for the requested types in the given order: images/rootdir from the
# image listing (content rootdir when PVE's cluster VM list says the owner is lxc);
# with a path, iso and vztmpl (only without a VMID filter), backups (filtered by
# '-<vmid>-'), snippets and import sources; an unknown type dies "unknown vtype".
# Items carry volid, format, size, ctime, content; backups subtype, vmid, notes (first
# line) and protected. Hostile names are skipped; the cluster's VM list is not modified.
# All shared list_volumes vectors pass (image items once list_images exists).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use Storable ();
no warnings qw(once);

load_host();
$ENV{TZ} = 'UTC';

my @vectors = vectors('list_volumes');
ok(@vectors >= 4, 'shared vectors found');
for my $vector (@vectors) {
    my $input = $vector->{input};
    my $dir = storage_dir();
    make_setup($dir, $input->{setup});
    my @expected = with_real_metadata($vector->{expect}->{ok}, $input->{mocks}, $dir, $input->{setup})->@*;
    my $scfg = { $input->{scfg}->%*, type => 'swift', path => $dir };
    $scfg->{content} = { map { $_ => 1 } $input->{scfg}->{content}->@* };
    local $PVE::Cluster::VMLIST = { ids => { map { $_ => { type => $input->{vmlist}->{$_} } } keys $input->{vmlist}->%* } };
    my $before = Storable::dclone($PVE::Cluster::VMLIST);
    my $got = PLUGIN->list_volumes($input->{storeid}, $scfg, $input->{vmid}, $input->{content_types});
    is_deeply($got, \@expected, "$vector->{id}: $vector->{label}");
    is_deeply($PVE::Cluster::VMLIST, $before, "$vector->{id}: the cluster's VM list is untouched") if $vector->{id} eq 'list_volumes/01';
}

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { iso => 1, backup => 1 } };
make_file("$dir/template/iso/Ubuntu.ISO");
make_file("$dir/template/cache/debian.TAR.XZ");
make_file("$dir/dump/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst", 'x' x 10);
make_file("$dir/dump/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst.notes", "Vor dem Update \xe2\x98\xba\nzweite Zeile\n");
make_file("$dir/dump/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst.protected");
make_file("$dir/dump/vzdump-lxc-100-2024_05_01-10_00_00.log");
make_file("$dir/dump/my-backup-2001-copy.vma");
make_file("$dir/snippets/user.yaml");
make_file("$dir/import/disk.qcow2");
make_file("$dir/import/with space.ova");

my $all = PLUGIN->list_volumes('st', $scfg, undef, [qw(iso vztmpl backup snippets import)]);
is_deeply([map { $_->{volid} } @$all], [
    'st:iso/Ubuntu.ISO', 'st:vztmpl/debian.TAR.XZ', 'st:backup/my-backup-2001-copy.vma',
    'st:backup/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst', 'st:snippets/user.yaml', 'st:import/disk.qcow2',
], 'every content type, in the requested order; companions and names with spaces in import are not volumes');
my ($backup) = grep { $_->{volid} =~ /vzdump-lxc/ } @$all;
is_deeply($backup, {
    volid => 'st:backup/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst', format => 'tar.zst', size => 10,
    ctime => 1714557600, content => 'backup', subtype => 'lxc', vmid => '100',
    notes => "Vor dem Update \x{263a}", protected => 1,
}, 'a backup item: time from the name, first line of the notes as characters, protection');
ok(utf8::is_utf8($backup->{notes}), 'notes are a character string');
is_deeply((grep { $_->{volid} =~ /my-backup/ } @$all)[0], {
    volid => 'st:backup/my-backup-2001-copy.vma', format => 'vma', size => 0, ctime => (stat("$dir/dump/my-backup-2001-copy.vma"))[10],
    content => 'backup', subtype => 'unknown', vmid => '2001',
}, 'a renamed backup: file ctime, unknown subtype, vmid from -<vmid>-');
is((grep { $_->{content} eq 'vztmpl' } @$all)[0]->{format}, 'tXZ', 'template format keeps the spelling of the compression');

is_deeply([map { $_->{volid} } PLUGIN->list_volumes('st', $scfg, 100, [qw(iso vztmpl backup)])->@*],
    ['st:backup/vzdump-lxc-100-2024_05_01-10_00_00.tar.zst'], 'a VMID filter: no ISOs or templates, matching backups');
is_deeply(PLUGIN->list_volumes('st', $scfg, 2001, ['backup'])->[0]->{vmid}, 2001, 'the filter is the listed vmid');
is_deeply(PLUGIN->list_volumes('st', { type => 'swift' }, undef, ['iso']), [], 'no path: nothing but images');
is(dies { PLUGIN->list_volumes('st', $scfg, undef, ['none']) }, "unknown vtype 'none'\n", 'an unknown content type dies as in dir');
is_deeply(PLUGIN->list_volumes('st', { type => 'swift', path => "$dir/missing" }, undef, [qw(iso backup)]), [],
    'missing content directories list nothing');

# Hostile names: never followed outside the storage, never crash the listing.
my $outside = storage_dir();
make_file("$outside/secret.iso", 'secret');
make_file("$outside/shadow", "root:x\n");
symlink("$outside/secret.iso", "$dir/template/iso/escape.iso") or die;
symlink("$outside/shadow", "$dir/dump/my-backup-2001-copy.vma.notes") or die;
symlink("$dir/template/iso/Ubuntu.ISO", "$dir/template/iso/alias.iso") or die;
make_file("$dir/template/iso/new\nline.iso");
make_file("$dir/template/iso/latin\xe9.iso");
make_file("$dir/template/iso/..iso");
mkdir("$dir/template/iso/folder.iso");
my $isos = PLUGIN->list_volumes('st', $scfg, undef, ['iso']);
is_deeply([map { $_->{volid} } @$isos], ['st:iso/alias.iso', 'st:iso/Ubuntu.ISO'],
    'symlinks out of the storage, newlines, non-UTF-8 bytes, hidden files and directories are skipped');
ok(!exists((grep { $_->{volid} =~ /my-backup/ } PLUGIN->list_volumes('st', $scfg, undef, ['backup'])->@*)[0]->{notes}),
    'a notes symlink out of the storage is not read');

done_testing();
