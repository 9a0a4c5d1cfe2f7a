#!/usr/bin/perl -T
# Contract: the whole image and content lifecycle works on a file system without
# renameat2(RENAME_NOREPLACE), O_TMPFILE or chattr -- a bindfs (FUSE) mount refuses them
# as NFS and CephFS do: alloc (raw, qcow2, vmdk), list, size, resize, create_base, clone,
# rename, free; content listing, notes, protection, prune. Publishing never replaces
# an existing volume there either. As root with bindfs installed the mount must work
# (the test fails otherwise); without root it is skipped.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

plan(skip_all => 'mounting a FUSE file system needs root') if $> != 0;

my $source = storage_dir();
my $dir = storage_dir();
my $mounted;
END { if ($mounted) { local $ENV{PATH} = '/usr/bin:/bin'; system('/bin/umount', $dir) == 0 or system('/bin/fusermount', '-u', $dir) } }
{
    local $ENV{PATH} = '/usr/bin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    ok(-x '/usr/bin/bindfs', 'bindfs is installed (tools/install-deps)') or BAIL_OUT('bindfs missing');
    is(system('/usr/bin/bindfs', $source, $dir), 0, 'bindfs mounted over the storage directory') or BAIL_OUT('cannot mount bindfs');
    $mounted = 1;
}
my $mounts = do { open(my $fh, '<', '/proc/mounts') or die; local $/; <$fh> };
like($mounts, qr{ \Q$dir\E fuse\S* }, 'the storage is a FUSE mount');

my $scfg = { type => 'swift', path => $dir, content => { map { $_ => 1 } qw(images rootdir iso vztmpl backup snippets import) },
};
is(dies { PLUGIN->activate_storage('s', $scfg, {}) }, '', 'activate');
my $img = "$dir/images";

# Images.
my %vol;
for my $format (qw(raw qcow2 vmdk)) {
    $vol{$format} = PLUGIN->alloc_image('s', $scfg, 100, $format, undef, 1024);
    ok(-f "$img/$vol{$format}", "alloc $format: $vol{$format}");
}
is_deeply([map { $_->{volid} } PLUGIN->list_images('s', $scfg, 100)->@*],
    [map { "s:$vol{$_}" } qw(raw qcow2 vmdk)], 'list_images');
is(scalar(PLUGIN->volume_size_info($scfg, 's', $vol{qcow2})), 1024 * 1024, 'volume_size_info');
PLUGIN->volume_resize($scfg, 's', $vol{raw}, 2 * 1024 * 1024, 0);
is(scalar(PLUGIN->volume_size_info($scfg, 's', $vol{raw})), 2 * 1024 * 1024, 'volume_resize');
is(dies { PLUGIN->alloc_image('s', $scfg, 100, 'raw', 'vm-100-disk-0.raw', 1) }, "disk image '$img/100/vm-100-disk-0.raw' already exists\n",
    'an existing name is refused');

my ($warnings, $base) = warnings_of { PLUGIN->create_base('s', $scfg, $vol{qcow2}) };
is($base, '100/base-100-disk-1.qcow2', 'create_base');
ok(-f "$img/$base" && !-e "$img/$vol{qcow2}", '... renamed');
is_deeply($warnings, ["unable to set the immutable flag of '$img/$base' - Inappropriate ioctl for device\n"],
    '... no immutable flag on this file system: a warning, as dir\'s chattr failure');
my ($clone_warnings, $clone) = warnings_of { PLUGIN->clone_image($scfg, 's', $base, 200) };
is($clone, '100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2', 'clone_image');
is(qemu_img_info("$img/200/vm-200-disk-0.qcow2")->{'backing-filename'}, '../100/base-100-disk-1.qcow2', '... backed by the base');
is(PLUGIN->rename_volume($scfg, 's', $vol{raw}, 300, undef), 's:300/vm-300-disk-0.raw', 'rename_volume');
PLUGIN->alloc_image('s', $scfg, 300, 'raw', 'vm-300-disk-1.raw', 1);
is(dies { PLUGIN->rename_volume($scfg, 's', '300/vm-300-disk-0.raw', 300, 'vm-300-disk-1.raw') },
    "target volume 'vm-300-disk-1.raw' already exists\n", 'rename never replaces');
my $sub = PLUGIN->alloc_image('s', $scfg, 400, 'subvol', undef, 0);
is(PLUGIN->rename_volume($scfg, 's', $sub, 401, undef), 's:401/subvol-401-disk-0.subvol', 'rename of a subvol directory');
is(dies { PLUGIN->free_image('s', $scfg, $clone, 0, 'qcow2') }, '', 'free the clone');
my ($free_warnings) = warnings_of { is(dies { PLUGIN->free_image('s', $scfg, $base, 1, 'qcow2') }, '', 'free the base') };
is_deeply($free_warnings, ["unable to clear the immutable flag of '$img/$base' - Inappropriate ioctl for device\n"], '... with a warning');
PLUGIN->free_image('s', $scfg, $_, 0, $_ =~ /\.(\w+)$/) for ('300/vm-300-disk-0.raw', '300/vm-300-disk-1.raw', $vol{vmdk});
PLUGIN->free_image('s', $scfg, '401/subvol-401-disk-0.subvol', 0, 'subvol');
is_deeply([grep { m{^images/.} } @{ files_below($dir) }], ['images/400'], 'every image freed (the subvol\'s old VMID directory stays, as dir)');
is(PLUGIN->get_identity($scfg, 's'), PLUGIN->get_identity($scfg, 's'), 'get_identity');

# Snapshots: internal, and a volume chain (whose snapshot links the volume file; FUSE
# has hard links), taken, rolled back and deleted.
my $sq = PLUGIN->alloc_image('s', $scfg, 500, 'qcow2', undef, 1024);
is(dies { PLUGIN->volume_snapshot($scfg, 's', $sq, 'internal') }, '', 'internal snapshot');
is_deeply([keys PLUGIN->volume_snapshot_info($scfg, 's', $sq)->%*], ['internal'], '... listed');
is(dies { PLUGIN->volume_snapshot_delete($scfg, 's', $sq, 'internal', 0) }, '', '... deleted');
my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
for my $snap (qw(one two)) {
    is(dies { output_of { PLUGIN->volume_snapshot($chain, 's', $sq, $snap) } }, '', "chain snapshot $snap");
}
is(dies { PLUGIN->volume_snapshot_rollback($chain, 's', $sq, 'two') }, '', 'chain rollback');
is(dies { output_of { PLUGIN->volume_snapshot_delete($chain, 's', $sq, 'one', 0) } }, '', 'chain delete of the oldest');
is_deeply([sort keys PLUGIN->volume_snapshot_info($chain, 's', $sq)->%*], ['current', 'two'], 'chain: what is left');
is_deeply(files_below("$img/500"), ['snap-two-vm-500-disk-0.qcow2', 'vm-500-disk-0.qcow2'], 'chain: its files');
PLUGIN->free_image('s', $chain, $sq, 0, 'qcow2');
ok(!-e "$img/500/vm-500-disk-0.qcow2" && !-e "$img/500/snap-two-vm-500-disk-0.qcow2", 'chain: freed with its snapshot');

# Content.
make_file("$dir/template/iso/d.iso", 'iso');
make_file("$dir/snippets/hook.pl", '#');
my @backups = map { "vzdump-qemu-100-2024_01_0${_}-00_00_00.vma.zst" } 1 .. 3;
make_file("$dir/dump/$_", 'data') for @backups;
is_deeply([sort map { $_->{volid} } PLUGIN->list_volumes('s', $scfg, undef, [qw(iso snippets backup)])->@*],
    [(map { "s:backup/$_" } @backups), 's:iso/d.iso', 's:snippets/hook.pl'], 'list_volumes');
my $volname = "backup/$backups[0]";
PLUGIN->update_volume_attribute($scfg, 's', $volname, 'notes', "n\x{e9}");
is(PLUGIN->get_volume_attribute($scfg, 's', $volname, 'notes'), "n\x{e9}", 'notes written and read');
PLUGIN->update_volume_attribute($scfg, 's', $volname, 'protected', 1);
is(PLUGIN->get_volume_attribute($scfg, 's', $volname, 'protected'), 1, 'protected');
my $pruned = PLUGIN->prune_backups($scfg, 's', { 'keep-last' => 1 }, 100, undef, 0, sub { });
is_deeply({ map { $_->{volid} => $_->{mark} } @$pruned },
    { "s:$volname" => 'protected', "s:backup/$backups[1]" => 'remove', "s:backup/$backups[2]" => 'keep' }, 'prune');
ok(-f "$dir/dump/$backups[0]" && !-e "$dir/dump/$backups[1]" && -f "$dir/dump/$backups[2]", '... removed only the pruned one');
is(dies { PLUGIN->free_image('s', $scfg, $volname, 0, undef) }, "cannot remove protected volume '$volname' on 's'\n", 'protection holds');
PLUGIN->update_volume_attribute($scfg, 's', $volname, 'protected', 0);
is(dies { PLUGIN->free_image('s', $scfg, $volname, 0, undef) }, '', 'unprotected: removed');
is_deeply([grep { /\.tmp\./ } @{ files_below($dir) }], [], 'no temporary left anywhere');

done_testing();
