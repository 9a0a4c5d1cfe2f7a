#!/usr/bin/perl -T
# Contract (issue acceptance criterion): next to PVE's real storage layer, the image steps
# of a full VM and container disk lifecycle give the same results on a `swift` storage as
# on PVE's `dir` storage on the same directory: allocation of every format (free and
# explicit names, the storage default, refusals), listing (all, by VMID, by volume list),
# path, size (list and scalar), resize (and its refusals, running), activation and
# deactivation, QEMU blockdev options, the volume_has_feature matrix, map/unmap, template
# (create_base), linked clones of qcow2 and raw bases, rename to another VMID, and free
# (including the storage layer's refusal of a base that still has clones). Each step runs
# through PVE::Storage's own functions (vdisk_alloc, vdisk_list, vdisk_free, ...), first
# for a dir storage, then for a swift storage on the same (emptied) directory; results,
# errors and warnings are compared step by step, and so is the directory tree (names,
# kinds and modes) after each step. Run it with tools/check-real-pve.
#
# Normalised before comparing: the storage ID, the plugin class named in messages, and
# ctime values (the two runs happen at different times). Deliberate differences, asserted as such: get_identity (dir has none;
# on PVE 8 not even the method). Steps calling a function PVE 8's storage layer lacks
# (qemu_blockdev_options) fail alike there, and their comparison is skipped.
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

my $base = storage_dir();
my $path = "$base/store";
my %sid = (swift => 'imgswift', dir => 'imgdir');
for my $type (sort keys %sid) {
    my $outcome = api_create($type, $sid{$type}, taint($path), { content => 'images,rootdir,iso' });
    is($outcome->{error}, '', "$type storage created on $path");
}
my $cfg = PVE::Storage::config();
my $MiB = MiB;

# One lifecycle: [name, code] steps; each code gets the storage ID and returns values.
sub lifecycle {
    my ($sid) = @_;
    my $v = sub { "$sid:$_[0]" };
    my $plugin = PVE::Storage::Plugin->lookup($cfg->{ids}->{$sid}->{type});
    my @all = map { $v->($_) } ('100/vm-100-disk-0.raw', '100/vm-100-disk-1.qcow2', '100/vm-100-disk-2.vmdk',
        '100/subvol-100-disk-3.subvol', '100/vm-100-disk-7.raw', '100/mydisk.qcow2', '100/vm-100-disk-4.raw');
    my @steps = (
        ['alloc raw' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', undef, 1024) }],
        ['alloc qcow2' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', undef, 2048) }],
        ['alloc vmdk' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'vmdk', undef, 1024) }],
        ['alloc subvol' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'subvol', undef, 0) }],
        ['alloc explicit name' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', 'vm-100-disk-7.raw', 64) }],
        ['alloc free-form name' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', 'mydisk.qcow2', 64) }],
        ['alloc mixed-case names (listing order)' => sub {
            map { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', $_, 64) } ('Zeta.raw', 'alpha.raw', '_under.raw')
        }],
        ['alloc storage default format' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, undef, undef, 64) }],
        ['alloc existing name' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'raw', 'vm-100-disk-7.raw', 64) }],
        ['alloc wrong extension' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', 'vm-100-disk-8.raw', 64) }],
        ['alloc subvol with size' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'subvol', undef, 5) }],
        ['alloc snapshot name' => sub { PVE::Storage::vdisk_alloc($cfg, $sid, 100, 'qcow2', 'snap-x-vm-100-disk-9.qcow2', 64) }],
        ['alloc bad preallocation' => sub {
            local $cfg->{ids}->{$sid}->{preallocation} = 'full';
            PVE::Storage::vdisk_alloc($cfg, $sid, 101, 'raw', undef, 64)
        }],
        ['find_free_diskname' => sub { $plugin->find_free_diskname($sid, $cfg->{ids}->{$sid}, 100, 'qcow2', 1) }],
        ['list all' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['list VMID 100' => sub { PVE::Storage::vdisk_list($cfg, $sid, 100) }],
        ['list VMID 999' => sub { PVE::Storage::vdisk_list($cfg, $sid, 999) }],
        ['list volume list' => sub { PVE::Storage::vdisk_list($cfg, $sid, undef, [$all[1], $all[3]]) }],
        ['path' => sub { map { [PVE::Storage::path($cfg, $_)] } @all }],
        ['size info, list' => sub { map { [PVE::Storage::volume_size_info($cfg, $_)] } @all }],
        ['size info, scalar' => sub { map { scalar(PVE::Storage::volume_size_info($cfg, $_)) } @all }],
        ['resize raw' => sub { PVE::Storage::volume_resize($cfg, $all[0], 3 * $MiB, 0) }],
        ['resize qcow2 (padded)' => sub { PVE::Storage::volume_resize($cfg, $all[1], 5 * $MiB + 1, 0) }],
        ['resize running' => sub { PVE::Storage::volume_resize($cfg, $all[1], 9 * $MiB, 1) }],
        ['resize vmdk' => sub { PVE::Storage::volume_resize($cfg, $all[2], 9 * $MiB, 0) }],
        ['resize subvol' => sub { PVE::Storage::volume_resize($cfg, $all[3], 9 * $MiB, 0) }],
        ['resize snapshot' => sub { PVE::Storage::volume_resize($cfg, $all[1], 9 * $MiB, 0, 'snap1') }],
        ['size after resize' => sub { map { scalar(PVE::Storage::volume_size_info($cfg, $_)) } @all[0, 1] }],
        ['activate volumes' => sub { PVE::Storage::activate_volumes($cfg, [@all]) }],
        ['activate with hints' => sub { PVE::Storage::activate_volumes($cfg, [$all[0]], undef, { 'guest-is-windows' => 1 }) }],
        ['activate missing' => sub { PVE::Storage::activate_volumes($cfg, [$v->('100/vm-100-disk-9.raw')]) }],
        ['activate raw snapshot' => sub { PVE::Storage::activate_volumes($cfg, [$all[0]], 'snap1') }],
        ['deactivate volumes' => sub { PVE::Storage::deactivate_volumes($cfg, [@all]) }],
        ['blockdev options' => sub { map { PVE::Storage::qemu_blockdev_options($cfg, $_, '10.0+pve1', {}) } grep { !/subvol/ } @all }],
        ['blockdev qcow2 snapshot' => sub { PVE::Storage::qemu_blockdev_options($cfg, $all[1], '10.0+pve1', { 'snapshot-name' => 's1' }) }],
        ['blockdev missing' => sub { PVE::Storage::qemu_blockdev_options($cfg, $v->('100/vm-100-disk-9.raw'), '10.0+pve1', {}) }],
        ['features' => sub { features(@all) }],
        ['map and unmap' => sub { (PVE::Storage::map_volume($cfg, $all[0]), PVE::Storage::unmap_volume($cfg, $all[0])) }],
        ['template qcow2' => sub { PVE::Storage::vdisk_create_base($cfg, $all[1]) }],
        ['template raw' => sub { PVE::Storage::vdisk_create_base($cfg, $all[0]) }],
        ['template of a base' => sub { PVE::Storage::vdisk_create_base($cfg, $v->('100/base-100-disk-0.raw')) }],
        ['template of a free-form name' => sub { PVE::Storage::vdisk_create_base($cfg, $all[5]) }],
        ['template of a missing image' => sub { PVE::Storage::vdisk_create_base($cfg, $v->('100/vm-100-disk-9.raw')) }],
        ['linked clone of qcow2 base' => sub { PVE::Storage::vdisk_clone($cfg, $v->('100/base-100-disk-1.qcow2'), 200) }],
        ['linked clone of raw base' => sub { PVE::Storage::vdisk_clone($cfg, $v->('100/base-100-disk-0.raw'), 200) }],
        ['clone of a non-base' => sub { PVE::Storage::vdisk_clone($cfg, $all[2], 200) }],
        ['clone of a snapshot' => sub { PVE::Storage::vdisk_clone($cfg, $v->('100/base-100-disk-0.raw'), 200, 'snap') }],
        ['list after clones' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['clone size info' => sub { [PVE::Storage::volume_size_info($cfg, $v->('100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2'))] }],
        ['features of bases and clones' => sub { features(map { $v->($_) } '100/base-100-disk-1.qcow2', '100/base-100-disk-0.raw',
            '100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2') }],
        ['template of a linked clone' => sub { PVE::Storage::vdisk_create_base($cfg, $v->('100/base-100-disk-0.raw/200/vm-200-disk-1.qcow2')) }],
        ['rename to another VMID' => sub { PVE::Storage::rename_volume($cfg, $all[4], 300) }],
        ['rename with a target name' => sub { PVE::Storage::rename_volume($cfg, $all[6], 300, 'vm-300-disk-5.raw') }],
        ['rename onto an existing volume' => sub { PVE::Storage::rename_volume($cfg, $all[5], 300, 'vm-300-disk-5.raw') }],
        ['rename a linked clone' => sub { PVE::Storage::rename_volume($cfg, $v->('100/base-100-disk-1.qcow2/200/vm-200-disk-0.qcow2'), 301) }],
        ['free a base with clones' => sub { PVE::Storage::vdisk_free($cfg, $v->('100/base-100-disk-1.qcow2')) }],
        ['list before freeing' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
        ['free everything' => sub { map { PVE::Storage::vdisk_free($cfg, $_) } sorted_for_free(PVE::Storage::vdisk_list($cfg, $sid)->{$sid}) }],
        ['free a missing image' => sub { PVE::Storage::vdisk_free($cfg, $v->('100/vm-100-disk-9.raw')) }],
        ['list at the end' => sub { PVE::Storage::vdisk_list($cfg, $sid) }],
    );
    my @outcomes;
    for my $step (@steps) {
        my ($name, $code) = @$step;
        my $outcome = without_class(normalise(caught($code), $sid));
        $outcome->{result} = without_ctime($outcome->{result}, $name =~ /size info/);
        push @outcomes, [$name, $outcome, tree("$path/images")];
    }
    return @outcomes;
}

# The matrix of volume_has_feature for some volumes, snapshot or not, running or not.
sub features {
    my @volids = @_;
    my @answers;
    for my $volid (@volids) {
        for my $feature (qw(snapshot clone template copy sparseinit rename replicate)) {
            for my $snap (undef, 'snap1') {
                push @answers, map { PVE::Storage::volume_has_feature($cfg, $feature, $volid, $snap, $_) } (0, 1);
            }
        }
        push @answers, PVE::Storage::volume_has_feature($cfg, 'clone', $volid, undef, 0, { valid_target_formats => ['raw'] });
    }
    return @answers;
}

# Clones before their bases, as PVE removes a template's guests first.
sub sorted_for_free {
    my ($list) = @_;
    my @volids = map { $_->{volid} } @$list;
    return ((grep { m{/.*/} } @volids), (grep { !m{/.*/} } @volids));
}

# Messages naming the plugin class ("... not supported for <class> ...").
sub without_class {
    my ($value) = @_;
    return { map { ($_ => without_class($value->{$_})) } keys %$value } if ref($value) eq 'HASH';
    return [map { without_class($_) } @$value] if ref($value) eq 'ARRAY';
    return $value if !defined($value) || ref($value);
    return $value =~ s/PVE::Storage::(?:DirPlugin|Custom::SwiftPlugin)/<class>/gr;
}

sub without_ctime {
    my ($value, $size_info) = @_;
    if (ref($value) eq 'HASH') {
        return { map { ($_ => $_ eq 'ctime' ? 'CTIME' : without_ctime($value->{$_})) } keys %$value };
    } elsif (ref($value) eq 'ARRAY') {
        if ($size_info && @$value == 5 && !ref($value->[0])) {
            return [@$value[0 .. 3], 'CTIME'];
        }
        return [map { without_ctime($_, $size_info) } @$value];
    }
    return $value;
}

umask(0022);
my @dir = lifecycle($sid{dir});
is(tree("$path/images")->{'.'}, 'dir 0755', 'dir leaves an empty images directory');
remove_tree("$path/images");
mkdir("$path/images") or die;
my @swift = lifecycle($sid{swift});
is(scalar(@swift), scalar(@dir), 'the same number of steps');
for my $index (0 .. $#dir) {
    my ($name, $expected, $expected_tree) = @{ $dir[$index] };
    my (undef, $got, $got_tree) = @{ $swift[$index] };
    if (my $missing = missing_storage_function($expected)) {
        is($got->{error}, $expected->{error}, "$name: the step fails alike on both: PVE " . host_release() . " has no PVE::Storage::$missing");
        SKIP: { skip("$name: PVE " . host_release() . "'s storage layer has no PVE::Storage::$missing", 1) }
    } else {
        same($got, $expected, "$name: the same outcome as dir");
    }
    is_deeply($got_tree, $expected_tree, "$name: the same directory tree as dir");
    note("$name: " . describe($expected));
}

# Volume names outside the images: rootdir/<vmid>, which PVE 8's volume-name grammar has
# (a container's private directory, from OpenVZ times: type rootdir, no format) and PVE 9's
# has not, and foo/bar, which no release parses. The same answers as dir, but a warning.
{
    # Deliberate on PVE 8: volume_size_info of rootdir/<vmid> (a directory, no format)
    # gives the same answer; dir warns about its own call of file_size_info without a
    # format, swift names the directory.
    my %odd_warnings = host_release() < 9 ? (
        'rootdir/100: size info' => {
            dir => qr/^file_size_info: detected call without \$file_format parameter\n\z/,
            swift => qr/^expected format '', but '[^']*\/private\/100' is a directory\n\z/,
        },
    ) : ();
    mkdir("$path/private") if !-d "$path/private";
    my @steps = (
        ['path' => sub { [PVE::Storage::path($cfg, $_[0])] }],
        ['size info' => sub { [PVE::Storage::volume_size_info($cfg, $_[0])] }],
        ['copy feature' => sub { PVE::Storage::volume_has_feature($cfg, 'copy', $_[0], undef, 0) }],
        ['other features' => sub { map { PVE::Storage::volume_has_feature($cfg, $_, $_[0], undef, 0) } qw(snapshot clone template rename) }],
        ['snapshot' => sub { PVE::Storage::volume_snapshot($cfg, $_[0], 's1') }],
        ['rollback' => sub { PVE::Storage::volume_snapshot_rollback($cfg, $_[0], 's1') }],
        ['delete snapshot' => sub { PVE::Storage::volume_snapshot_delete($cfg, $_[0], 's1', 0) }],
        ['rollback possible' => sub { PVE::Storage::volume_rollback_is_possible($cfg, $_[0], 's1', []) }],
        ['resize' => sub { PVE::Storage::volume_resize($cfg, $_[0], $MiB, 0) }],
        ['template' => sub { PVE::Storage::vdisk_create_base($cfg, $_[0]) }],
        ['rename' => sub { PVE::Storage::rename_volume($cfg, $_[0], 300) }],
        ['free' => sub { PVE::Storage::vdisk_free($cfg, $_[0]) }],
    );
    for my $volname ('rootdir/100', 'foo/bar') {
        for my $step (@steps) {
            my ($name, $code) = @$step;
            my %r;
            for my $type (qw(dir swift)) {
                mkdir("$path/private/100") if !-d "$path/private/100";
                $r{$type} = without_class(without_ctime(normalise(caught(sub { $code->("$sid{$type}:$volname") }), $sid{$type}), 1));
                $r{$type}->{tree} = tree($path);
            }
            my $label = "$volname: $name: the same outcome as dir";
            if (my $warnings = $odd_warnings{"$volname: $name"}) {
                same({ %{ $r{swift} }, warnings => [] }, { %{ $r{dir} }, warnings => [] }, $label . ' (but the warnings)');
                like(join('', $r{dir}->{warnings}->@*), $warnings->{dir}, "$volname: $name: dir warns about its own call");
                like(join('', $r{swift}->{warnings}->@*), $warnings->{swift}, "$volname: $name: deliberate: swift's warning names the directory");
            } else {
                same($r{swift}, $r{dir}, $label);
            }
            note("$volname: $name: " . describe($r{dir}));
        }
    }
    remove_tree("$path/private/100");
}

# Deliberate difference: dir has no identity; swift gives the directory a stable one.
# PVE 9's Plugin.pm has a get_identity that dies; PVE 8 (storage API below 14) has no such
# method at all.
my $dir_identity = caught(sub { PVE::Storage::Plugin->lookup('dir')->get_identity($cfg->{ids}->{$sid{dir}}, $sid{dir}) });
if (PVE::Storage::DirPlugin->can('get_identity')) {
    like($dir_identity->{error}, qr/^get_identity not implemented for this plugin/, 'dir: no identity (as upstream)');
} else {
    like($dir_identity->{error}, qr/^Can't locate object method "get_identity" via package "PVE::Storage::DirPlugin"/,
        'dir: no identity, PVE ' . host_release() . "'s storage layer has no get_identity method (as upstream)");
}
my $identity = PLUGIN->get_identity($cfg->{ids}->{$sid{swift}}, $sid{swift});
like($identity, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'swift: a UUID identity');
is(PLUGIN->get_identity({ %{ $cfg->{ids}->{$sid{swift}} } }, 'other'), $identity, 'swift: the same for the same directory');

done_testing();
