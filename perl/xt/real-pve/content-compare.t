#!/usr/bin/perl -T
# Contract (issue 4 acceptance criterion): next to the real PVE storage layer, a
# `swift` storage and a `dir` storage holding the same files give the same results for
# content listing (template_list, volume_list with and without VMID and content
# filters, path_to_volume_id), notes and protection (get/update_volume_attribute through
# the storage layer, including max-protected-backups, and the plugin's own messages),
# pruning (PVE::Storage::prune_backups, dry run and real: result, log and the files
# left) and freeing backups (vdisk_free), and import metadata (PVE's OVF parser).
# PVE::Storage, DirPlugin and PVE::GuestImport::OVF are Proxmox's own code (see
# compare-with-dir.t for how the stack is driven; run with tools/check-real-pve).
#
# Read-only comparisons use one directory for both storages; comparisons that change
# files use two directories populated identically, and compare the trees and file
# contents afterwards. Volume IDs are compared with the storage ID replaced.
#
# Deliberate differences, asserted as such (see the plugin's POD): in a content
# directory swift skips entries whose names are not UTF-8 or contain a newline, and
# symlinks that resolve outside the storage (dir lists them, following the link); a
# notes file that is a symlink is not read.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use RealPVEHost;

no warnings 'once';

my @load_warnings = start_real_host();
is_deeply(\@load_warnings, [], 'the real PVE::Storage loads with the plugin, without a warning');
unlike($INC{'PVE/Storage.pm'}, qr{/perl/t/lib/}, "PVE::Storage is PVE's own");
require PVE::API2::Storage::Config;
require PVE::RPCEnvironment;
PVE::RPCEnvironment->setup_default_cli_env();

my $base = storage_dir();
my $CONTENT = 'iso,vztmpl,backup,snippets,import';

# The content both storages are compared on (no hostile names: see below).
sub populate {
    my ($root, %opt) = @_;
    my $dirs = $opt{dirs} // {};
    my $iso = $dirs->{iso} // 'template/iso';
    my $tmpl = $dirs->{vztmpl} // 'template/cache';
    my $dump = $dirs->{backup} // 'dump';
    my $snip = $dirs->{snippets} // 'snippets';
    my $imp = $dirs->{import} // 'import';
    make_file("$root/$iso/$_", 'iso') for ('debian-12.iso', 'Win Server.ISO', 'virtio.img', '.hidden.iso', 'x.iso.gz', 'noext');
    File::Path::make_path("$root/$iso/folder.iso");
    make_file("$root/$tmpl/$_", 'tmpl')
        for ('debian-12-standard_12.2-1_amd64.tar.zst', 'alpine.TAR.GZ', 'plain.tar', 'Upper.TAR', 'old.tgz', 'x.zip.gz', 'a.tar.xz', 'b.tar.bz2', 'c.tar.lzo');
    my @backups = (
        'vzdump-qemu-100-2024_01_01-10_00_00.vma.zst', 'vzdump-qemu-100-2024_01_02-10_00_00.vma.gz',
        'vzdump-qemu-100-2024_01_02-11_00_00.vma.lzo', 'vzdump-qemu-100-2024_01_09-10_00_00.vma',
        'vzdump-qemu-100-2024_02_01-10_00_00.vma.bz2', 'vzdump-lxc-100-2024_01_01-10_00_00.tar.zst',
        'vzdump-lxc-101-2023_12_31-23_59_59.tar.gz', 'vzdump-lxc-101-2024_01_01-00_00_00.tgz',
        'vzdump-openvz-102-2019_05_05-05_05_05.tar', 'vzdump-lxc-103-2024_01_01-10_00_00.tar.lzo',
        'vzdump-qemu-2001-renamed.vma.zst', 'my-backup-2001-copy.vma', 'vzdump-qemu-99-2024_01_01-00_00_00.vma',
        'vzdump-qemu-0100-2024_01_01-00_00_00.vma', 'foo.tar', 'vzdump-qemu-100-2024_01_01-10_00_00.VMA',
        'vzdump-qemu-100-2024_01_01-10_00_00.vma.xz', 'a b-100-c.vma', 'vzdump-qemu-100-2024_02_30-10_00_00.vma',
    );
    make_file("$root/$dump/$_", 'backup data') for @backups;
    make_file("$root/$dump/vzdump-qemu-100-2024_01_01-10_00_00.log", 'log');
    make_file("$root/$dump/vzdump-qemu-100-2024_01_02-10_00_00.log", 'log');
    make_file("$root/$dump/vzdump-qemu-100-2024_01_01-10_00_00.vma.zst.notes", "Vor dem Upgrade \xe2\x98\xba\nzweite Zeile\n");
    make_file("$root/$dump/vzdump-qemu-100-2024_01_02-10_00_00.vma.gz.notes", "caf\xe9 latin-1\n");
    make_file("$root/$dump/vzdump-lxc-101-2024_01_01-00_00_00.tgz.notes", '');
    make_file("$root/$dump/vzdump-qemu-2001-renamed.vma.zst.notes", "\nsecond line only");
    make_file("$root/$dump/vzdump-qemu-100-2024_01_02-11_00_00.vma.lzo.protected");
    make_file("$root/$dump/vzdump-lxc-101-2023_12_31-23_59_59.tar.gz.protected");
    make_file("$root/$snip/$_", "#cloud-config\n") for ('user.yaml', 'hook.pl', 'with space.sh', 'noext');
    File::Path::make_path("$root/$snip/subdir");
    make_file("$root/$imp/$_", 'import') for ('appliance.ova', 'vm.ovf', 'disk.qcow2', 'disk.raw', 'disk.vmdk', 'DISK.QCOW2',
        'with space.ova', 'x.iso', 'a+b=c.vmdk', 'test.foo');
    symlink("$root/$iso/debian-12.iso", "$root/$iso/alias.iso") or die "symlink: $!\n";
}

sub volids { return [map { $_->{volid} } @{ $_[0] }] }

my %root;

# The outcome with the storage's own directory and type name replaced by placeholders
# (a message naming the storage type names its own).
sub neutral {
    my ($value, $sid) = @_;
    my $root = $root{$sid};
    if (ref($value) eq 'HASH') {
        return { map { ($_ => neutral($value->{$_}, $sid)) } keys %$value };
    } elsif (ref($value) eq 'ARRAY') {
        return [map { neutral($_, $sid) } @$value];
    } elsif (defined($value) && !ref($value)) {
        my $copy = $value;
        $copy =~ s/\Q$root\E/<root>/g if defined($root);
        $copy =~ s/storage type '(?:swift|dir)'/storage type '<type>'/g;
        return $copy;
    }
    return $value;
}

# Compares the outcome of $code for the swift and the dir storage, storeid substituted.
sub compare {
    my ($name, $swift, $dir, $code) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %outcome = map { ($_->[0] => neutral(normalise(caught(sub { $code->($_->[0]) }), $_->[0]), $_->[0])) } [$swift], [$dir];
    same($outcome{$swift}, $outcome{$dir}, $name);
    return $outcome{$swift};
}

# Every file below $root with its content (for files) or kind.
sub contents {
    my ($root) = @_;
    my $tree = tree($root) // {};
    my %result;
    for my $rel (keys %$tree) {
        my $path = untaint("$root/$rel");
        if ($tree->{$rel} =~ /^file/) {
            open(my $fh, '<:raw', $path) or die "$path: $!\n";
            $result{$rel} = "$tree->{$rel}: " . do { local $/; <$fh> };
        } else {
            $result{$rel} = $tree->{$rel};
        }
    }
    return \%result;
}

# ---------------------------------------------------------------------------------------
# Listing: both storages on one directory.

my $shared = untaint("$base/shared");
populate($shared);
my $dirs = { iso => 'isos', vztmpl => 'tmpl', backup => 'dumps/all', snippets => 'snip', import => 'imp' };
my $custom = untaint("$base/custom");
populate($custom, dirs => $dirs);
my $content_dirs = join(',', map { "$_=$dirs->{$_}" } sort keys %$dirs);
for my $pair (['swl', 'drl', $shared, {}], ['swc', 'drc', $custom, { 'content-dirs' => $content_dirs }]) {
    my ($swift, $dir, $path, $extra) = @$pair;
    is(api_create('swift', $swift, taint($path), { content => $CONTENT, %$extra })->{error}, '', "$swift created");
    is(api_create('dir', $dir, taint($path), { content => $CONTENT, %$extra })->{error}, '', "$dir created");
}
my $cfg = PVE::Storage::config();

for my $pair (['swl', 'drl', $shared], ['swc', 'drc', $custom]) {
    my ($swift, $dir, $root) = @$pair;
    for my $tt (qw(iso vztmpl backup snippets)) {
        compare("$swift: template_list $tt", $swift, $dir, sub { PVE::Storage::template_list($cfg, $_[0], $tt)->{ $_[0] } });
    }
    for my $content (undef, qw(iso vztmpl backup snippets import images rootdir)) {
        for my $vmid (undef, 100, 101, 2001, 999, '10') {
            compare("$swift: volume_list content " . ($content // 'all') . ', vmid ' . ($vmid // 'none'), $swift, $dir,
                sub { PVE::Storage::volume_list($cfg, $_[0], $vmid, $content) });
        }
    }
    my $listed = compare("$swift: list_volumes of the plugin, every type in order", $swift, $dir, sub {
        PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type})
            ->list_volumes($_[0], $cfg->{ids}->{ $_[0] }, undef, [qw(snippets backup iso import vztmpl)]);
    });
    ok(scalar($listed->{result}->[0]->@*) > 30, "$swift: the listing is not empty");
    compare("$swift: list_volumes with content none", $swift, $dir, sub {
        PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type})->list_volumes($_[0], $cfg->{ids}->{ $_[0] }, undef, ['none']);
    });
    for my $rel (sort keys tree($root)->%*) {
        my $path = untaint("$root/$rel");
        my %ids = map { ($_ => { %{ $cfg->{ids}->{$_} } }) } ($swift, $dir);
        my %outcome = map {
            my $sid = $_;
            ($sid => normalise(caught(sub { PVE::Storage::path_to_volume_id({ ids => { $sid => $ids{$sid} } }, $path) }), $sid))
        } ($swift, $dir);
        same($outcome{$swift}, $outcome{$dir}, "$swift: path_to_volume_id $rel");
    }
}

# ---------------------------------------------------------------------------------------
# Hostile names: the deliberate differences.

my $hostile = untaint("$base/hostile");
my $outside = untaint("$base/outside");
make_file("$outside/secret.iso", 'secret');
make_file("$outside/shadow", "root:secret\n");
make_file("$hostile/template/iso/ok.iso");
make_file("$hostile/template/iso/new\nline.iso");
make_file("$hostile/template/iso/latin\xe9.iso");
make_file("$hostile/snippets/tab\there");
make_file("$hostile/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma");
symlink("$outside/secret.iso", "$hostile/template/iso/escape.iso") or die;
symlink("$outside/shadow", "$hostile/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.notes") or die;
is(api_create('swift', 'swh', taint($hostile), { content => $CONTENT })->{error}, '', 'swh created');
is(api_create('dir', 'drh', taint($hostile), { content => $CONTENT })->{error}, '', 'drh created');
$cfg = PVE::Storage::config();
my %hostile = map { ($_ => normalise(caught(sub { PVE::Storage::volume_list($cfg, $_, undef, undef) }), $_)) } qw(swh drh);
is($hostile{swh}->{error}, '', 'hostile names: the swift listing works');
my @skipped = ("<storeid>:iso/escape.iso", "<storeid>:iso/latin\xe9.iso", "<storeid>:iso/new\nline.iso");
is_deeply(volids($hostile{swh}->{result}->[0]), [grep { my $v = $_; !grep { $_ eq $v } @skipped } volids($hostile{drh}->{result}->[0])->@*],
    'hostile names: swift lists what dir lists, minus names that are not UTF-8 or have a newline, and links out of the storage');
is_deeply([grep { my $v = $_; grep { $_ eq $v } @skipped } volids($hostile{drh}->{result}->[0])->@*], \@skipped,
    '(dir lists all of them)');
my ($dir_backup) = grep { $_->{volid} =~ /backup/ } $hostile{drh}->{result}->[0]->@*;
my ($swift_backup) = grep { $_->{volid} =~ /backup/ } $hostile{swh}->{result}->[0]->@*;
is($dir_backup->{notes}, 'root:secret', '(dir reads a notes symlink leading out of the storage)');
ok(!exists($swift_backup->{notes}), 'swift does not read a notes symlink');

# ---------------------------------------------------------------------------------------
# Changing files: two directories populated the same way.

%root = (swm => untaint("$base/m-swift"), drm => untaint("$base/m-dir"));
populate($root{$_}) for qw(swm drm);
is(api_create('swift', 'swm', taint($root{swm}), { content => $CONTENT, 'max-protected-backups' => 2 })->{error}, '', 'swm created');
is(api_create('dir', 'drm', taint($root{drm}), { content => $CONTENT, 'max-protected-backups' => 2 })->{error}, '', 'drm created');
$cfg = PVE::Storage::config();

sub same_files {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply(contents($root{swm}), contents($root{drm}), "$name: the same files with the same contents");
}
same_files('populated');

my @attribute_volumes = (
    'backup/vzdump-qemu-100-2024_01_01-10_00_00.vma.zst', 'backup/vzdump-qemu-100-2024_01_02-10_00_00.vma.gz',
    'backup/vzdump-lxc-101-2024_01_01-00_00_00.tgz', 'backup/vzdump-qemu-100-2024_01_02-11_00_00.vma.lzo',
    'backup/vzdump-qemu-2001-renamed.vma.zst', 'backup/foo.tar', 'backup/vzdump-qemu-100-2024_01_09-10_00_00.vma',
    'iso/debian-12.iso', 'snippets/user.yaml', 'vztmpl/plain.tar', 'import/disk.raw', '100/vm-100-disk-0.raw',
);
for my $volname (@attribute_volumes) {
    for my $attribute (qw(notes protected bogus)) {
        compare("get_volume_attribute $volname $attribute", 'swm', 'drm',
            sub { PVE::Storage::get_volume_attribute($cfg, "$_[0]:$volname", $attribute) });
    }
}
for my $step (
    [notes => "Neue Notiz \x{263a}\nmit zwei Zeilen"], [notes => 'ascii'], [notes => "latin-1 bytes \xe9"], [notes => ''],
    [notes => undef], [notes => '0'], [protected => 1], [protected => 1], [protected => 0], [protected => 0], [protected => 1],
    [bogus => 1],
) {
    my ($attribute, $value) = @$step;
    for my $volname (@attribute_volumes) {
        compare("update_volume_attribute $volname $attribute " . printable($value), 'swm', 'drm',
            sub { PVE::Storage::update_volume_attribute($cfg, "$_[0]:$volname", $attribute, $value) });
        compare("... read back", 'swm', 'drm', sub { PVE::Storage::get_volume_attribute($cfg, "$_[0]:$volname", $attribute) });
    }
    same_files("after setting $attribute to " . printable($value));
}
compare('the deprecated notes methods', 'swm', 'drm', sub {
    my $plugin = PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type});
    $plugin->update_volume_notes($cfg->{ids}->{ $_[0] }, $_[0], 'backup/foo.tar', "old API \x{e9}");
    return ($plugin->get_volume_notes($cfg->{ids}->{ $_[0] }, $_[0], 'backup/foo.tar'),
        $plugin->get_volume_notes($cfg->{ids}->{ $_[0] }, $_[0], 'iso/debian-12.iso'));
});
compare('the deprecated notes methods on an ISO', 'swm', 'drm', sub {
    PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type})
        ->update_volume_notes($cfg->{ids}->{ $_[0] }, $_[0], 'iso/debian-12.iso', 'x');
});
same_files('after the deprecated notes methods');

# Pruning: dry runs with many retention settings, then real runs, on fresh copies.
for my $sid (qw(swm drm)) {
    remove_tree($root{$sid});
    populate($root{$sid});
}
same_files('populated again');
sub prune {
    my ($sid, $keep, $vmid, $type, $dryrun) = @_;
    my @log;
    my $result = PVE::Storage::prune_backups($cfg, $sid, $keep, $vmid, $type, $dryrun, sub { push @log, [@_] });
    # Non-standard names carry their file's ctime, which differs between the two directories.
    for my $entry (@$result) {
        next if $entry->{mark} ne 'renamed' && ($entry->{mark} ne 'protected' || $entry->{volid} !~ /renamed|foo|copy/);
        my (undef, $volname) = PVE::Storage::parse_volume_id($entry->{volid});
        is($entry->{ctime}, (stat(PVE::Storage::path($cfg, $entry->{volid})))[10], "$sid: ctime of $volname is its file's");
        $entry->{ctime} = 'file ctime';
    }
    return ([sort { $a->{volid} cmp $b->{volid} } @$result], \@log);
}
for my $keep (
    { 'keep-last' => 2 }, { 'keep-daily' => 1 }, { 'keep-weekly' => 1, 'keep-monthly' => 1 }, { 'keep-hourly' => 3 },
    { 'keep-yearly' => 1, 'keep-last' => 1 }, { 'keep-all' => 1 }, { 'keep-last' => 0 }, {},
) {
    for my $filter ([undef, undef], [100, undef], [100, 'qemu'], [101, 'lxc'], [undef, 'lxc'], [2001, undef]) {
        compare('prune dry run ' . join(',', map { "$_=$keep->{$_}" } sort keys %$keep) . ' vmid ' . ($filter->[0] // 'all')
            . ' type ' . ($filter->[1] // 'all'), 'swm', 'drm', sub { prune($_[0], $keep, @$filter, 1) });
    }
}
same_files('after dry runs');
compare('prune with the storage\'s option (none configured)', 'swm', 'drm', sub { prune($_[0], undef, undef, undef, 1) });
compare('prune of a storage without backup content', 'swl', 'drl', sub { 1 });
for my $run ([{ 'keep-last' => 1 }, 100, 'qemu'], [{ 'keep-daily' => 1 }, undef, undef], [{ 'keep-last' => 1 }, undef, undef]) {
    compare('prune ' . join(',', %{ $run->[0] }) . ' vmid ' . ($run->[1] // 'all'), 'swm', 'drm', sub { prune($_[0], @$run, 0) });
    same_files('after a real prune');
}
my $left = contents($root{swm});
ok((grep { /2024_01_02-11_00_00.vma.lzo$/ } keys %$left), 'a protected backup survives pruning');
ok(!(grep { /2024_01_02-10_00_00/ } keys %$left), 'a pruned backup is gone with its log and notes');

# Freeing a backup through the storage layer.
for my $volname ('backup/vzdump-qemu-100-2024_01_02-11_00_00.vma.lzo', 'backup/vzdump-lxc-101-2024_01_01-00_00_00.tgz') {
    compare("vdisk_free $volname", 'swm', 'drm', sub { PVE::Storage::vdisk_free($cfg, "$_[0]:$volname") });
}
same_files('after freeing');

# ---------------------------------------------------------------------------------------
# Import metadata, parsed by PVE's own OVF parser.

SKIP: {
    my ($storage_src) = $INC{'PVE/Storage.pm'} =~ m{^(.*)/PVE/Storage\.pm$};
    my $manifests = untaint("$storage_src/test/ovf_manifests");
    skip "PVE's OVF test manifests are not here ($manifests)", 1 if !-d $manifests;
    skip 'PVE::GuestImport::OVF cannot be loaded: ' . ($@ =~ s/\n.*//sr), 1 if !eval { require PVE::GuestImport::OVF; 1 };
    opendir(my $dh, $manifests) or die;
    my @files = map { untaint($_) } grep { /\.(?:ovf|vmdk)$/ } readdir($dh);
    for my $sid (qw(swm drm)) {
        for my $file (@files) {
            open(my $in, '<:raw', "$manifests/$file") or die;
            make_file("$root{$sid}/import/$file", do { local $/; <$in> });
        }
    }
    for my $file (sort grep { /\.ovf$/ } @files) {
        compare("get_import_metadata import/$file", 'swm', 'drm', sub {
            PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type})
                ->get_import_metadata($cfg->{ids}->{ $_[0] }, "import/$file", $_[0]);
        });
    }
}
for my $volname ('import/disk.qcow2', 'iso/debian-12.iso', 'import/missing.ova') {
    compare("get_import_metadata $volname", 'swm', 'drm', sub {
        PVE::Storage::Plugin->lookup($cfg->{ids}->{ $_[0] }->{type})->get_import_metadata($cfg->{ids}->{ $_[0] }, $volname, $_[0]);
    });
}

caught(sub { PVE::API2::Storage::Config->delete({ storage => $_ }) }) for qw(swl drl swc drc swh drh swm drm);
done_testing();
