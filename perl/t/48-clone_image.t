#!/usr/bin/perl -T
# Contract: clone_image($scfg, $storeid, $volname, $vmid, $snap) makes a linked clone of a
# template's image for $vmid: a qcow2 overlay images/<vmid>/vm-<vmid>-disk-<n>.qcow2 whose
# backing file is the relative ../<basevmid>/<basename> (backing format = the base's) and
# returns <basevmid>/<basename>/<vmid>/<name>, warning "clone <volname>: images, <name>,
# <vmid> to <name> (base=../<basevmid>/<basename>)". qcow2, raw and vmdk bases. Refused:
# no path; not an image ("clone_image on wrong vtype '<vtype>'\n"); a snapshot ("this
# storage type does not support clone_image on snapshot\n"); a subvol ("... on
# subvolumes\n"); not a base ("clone_image only works on base images\n"). The overlay's
# layout is that release's dir's: PVE 9 asks for extended L2 tables and 128 KiB clusters
# (and the storage's preallocation), PVE 8 (storage API 10, 11) for qemu-img's defaults.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $img = "$dir/images";

my @bases;
for my $format (qw(qcow2 raw vmdk)) {
    my $base = PLUGIN->create_base('s', $scfg, PLUGIN->alloc_image('s', $scfg, 9000, $format, undef, 2048));
    push @bases, $base;
    my ($warnings, $clone) = warnings_of { PLUGIN->clone_image($scfg, 's', $base, 200, undef) };
    my ($name) = $clone =~ m{/([^/]+)$};
    is($clone, "$base/200/$name", "$format base: linked-clone volname");
    like($name, qr/^vm-200-disk-\d\.qcow2$/, "$format base: a qcow2 with the next free name");
    (my $basename = $base) =~ s{^9000/}{};
    is_deeply($warnings, ["clone $base: images, $name, 200 to $name (base=../9000/$basename)\n"], "$format base: the warning dir prints");
    my $info = qemu_img_info("$img/200/$name");
    is_deeply([@$info{qw(format backing-filename backing-filename-format virtual-size)}], ['qcow2', "../9000/$basename", $format, 2048 * 1024],
        "$format base: qemu-img sees the relative backing file and the base size");
    is((grep { $_->{volid} eq "s:$clone" } PLUGIN->list_images('s', $scfg, 200)->@*), 1, "$format base: listed under its volid");
}
is_deeply(files_below("$img/200"), [qw(vm-200-disk-0.qcow2 vm-200-disk-1.qcow2 vm-200-disk-2.qcow2)], 'three clones, no leftovers');

# The overlay's layout follows the host's release, as its dir does.
my $layout = sub {
    my ($path) = @_;
    my $data = qemu_img_info($path)->{'format-specific'}->{data};
    return [$data->{'cluster-size'} // qemu_img_info($path)->{'cluster-size'}, $data->{'extended-l2'} ? 'extended-l2' : 'plain'];
};
is_deeply($layout->("$img/200/vm-200-disk-0.qcow2"), host_is_pve8() ? [65536, 'plain'] : [131072, 'extended-l2'],
    "this host's layout (PVE 9: extended L2 tables, 128 KiB clusters; PVE 8: qemu-img's defaults)");
SKIP: {
    skip 'needs the stand-in PVE host (its release knob)', 2 if $INC{'PVE/Storage.pm'} !~ m{perl/t/lib/};
    local $ENV{PATH} = '/usr/bin:/bin';
    delete local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    local $ENV{PVE_STANDIN_GENERATION} = 8;
    my @inc = map { ('-I', untaint($_)) } grep { !ref($_) } @INC;
    my $program = 'use PVE::Storage; my ($path, $base) = @ARGV; ($path) = $path =~ /(.*)/; ($base) = $base =~ /(.*)/; '
        . 'my $w; local $SIG{__WARN__} = sub { $w = shift }; '
        . 'print "\\nvolid: ", PVE::Storage::Plugin->lookup("swift")->clone_image({ type => "swift", path => $path }, "s", $base, 300)';
    open(my $child, '-|', untaint($^X), '-T', @inc, '-e', $program, $dir, $bases[1]) or die "cannot run perl: $!\n";
    my ($clone) = do { local $/; <$child> } =~ /^volid: (.*)\z/m;
    close($child);
    is($clone, "$bases[1]/300/vm-300-disk-0.qcow2", 'PVE 8 host: a linked clone');
    is_deeply($layout->("$img/300/vm-300-disk-0.qcow2"), [65536, 'plain'], 'PVE 8: qemu-img\'s defaults, as PVE 8\'s dir');
    PLUGIN->free_image('s', $scfg, $clone, undef, 'qcow2');
}

my $plain = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
is(dies { PLUGIN->clone_image($scfg, 's', $plain, 200) }, "clone_image only works on base images\n", 'not a base');
is(dies { PLUGIN->clone_image($scfg, 's', $bases[0], 200, 'snap') }, "this storage type does not support clone_image on snapshot\n", 'snapshot');
PLUGIN->alloc_image('s', $scfg, 100, 'subvol', 'base-100-disk-7.subvol', 0);
is(dies { PLUGIN->clone_image($scfg, 's', '100/base-100-disk-7.subvol', 200) }, "this storage type does not support clone_image on subvolumes\n", 'subvol');
is(dies { PLUGIN->clone_image($scfg, 's', 'iso/a.iso', 200) }, "clone_image on wrong vtype 'iso'\n", 'iso');
is(dies { PLUGIN->clone_image({ type => 'swift' }, 's', $bases[0], 200) }, "storage definition has no path\n", 'no path');
is(dies { my @r = warnings_of { PLUGIN->clone_image($scfg, 's', $bases[0], '../x') } }, "VMID '../x' contains illegal characters\n", 'VMID digits only');

# A failing qemu-img (the base is missing): no file is left.
my ($w, $err) = warnings_of { dies { PLUGIN->clone_image($scfg, 's', '9000/base-9000-disk-9.qcow2', 201) } };
is($err, "unable to create image: Could not open backing image.\n", "missing base: qemu-img's last line, as dir shows it");
is_deeply(files_below("$img/201"), [], 'missing base: nothing left');

for my $clone (map { $_->{volid} =~ s/^s://r } PLUGIN->list_images('s', $scfg, 200)->@*) { PLUGIN->free_image('s', $scfg, $clone, undef, 'qcow2') }
PLUGIN->free_image('s', $scfg, $_, 1, $_ =~ /\.(\w+)$/) for @bases;

done_testing();
