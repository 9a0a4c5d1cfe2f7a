#!/usr/bin/perl -T
# Contract: create_base($storeid, $scfg, $volname) turns a guest image into a template's
# image: renames vm-... to base-... (a linked clone keeps its base prefix), sets mode 0444
# and the immutable flag (a warning where the file system lacks it: tested in Swift) and returns the new
# volname. Errors: no path -> "storage definition has no path\n"; not an image ->
# "create_base on wrong vtype '<vtype>'\n"; already a base -> "create_base not possible
# with base image\n"; unreadable -> "file_size_info on '<volname>' failed\n"; a linked
# clone whose backing file is not ../<basevmid>/<basename> -> "volname '<volname>'
# contains wrong information about parent\n"; target exists -> "file '<path>' already
# exists\n" (a file whose name lacks vm- maps onto itself and is therefore refused, as
# in dir). A container's subvol-<vmid>-disk-N.subvol directory keeps its name: it becomes
# the template where it is (mode 0444, immutable), as dir's rename onto itself does.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $img = "$dir/images";

my $vol = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
my ($warnings, $base) = warnings_of { PLUGIN->create_base('s', $scfg, $vol) };
is($base, '100/base-100-disk-0.raw', 'renamed to base-');
is_deeply($warnings, [], 'no warning on a file system with the immutable flag');
ok(!-e "$img/$vol" && -f "$img/$base", 'file moved');
is((stat("$img/$base"))[2] & 07777, 0444, 'mode 0444');
ok(!unlink("$img/$base") && -e "$img/$base", 'immutable: even root cannot remove it') if $> == 0;

is(dies { PLUGIN->create_base('s', $scfg, $base) }, "create_base not possible with base image\n", 'already base');
my $q = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
my $qbase = PLUGIN->create_base('s', $scfg, $q);
my $clone = PLUGIN->clone_image($scfg, 's', $qbase, 200);
is(PLUGIN->create_base('s', $scfg, $clone), '100/base-100-disk-1.qcow2/200/base-200-disk-0.qcow2', 'a linked clone keeps its base prefix');
my $clone2 = PLUGIN->clone_image($scfg, 's', $qbase, 200);
(my $lying = $clone2) =~ s{^100/base-100-disk-1.qcow2}{100/base-100-disk-0.raw};
is(dies { PLUGIN->create_base('s', $scfg, $lying) }, "volname '$lying' contains wrong information about parent\n", 'wrong parent');

my $free = PLUGIN->alloc_image('s', $scfg, 300, 'raw', 'mine.raw', 1024);
is(dies { PLUGIN->create_base('s', $scfg, $free) }, "file '$img/300/mine.raw' already exists\n", 'a free-form name maps onto itself');
PLUGIN->alloc_image('s', $scfg, 300, 'raw', 'vm-300-disk-5.raw', 1024);
PLUGIN->alloc_image('s', $scfg, 300, 'raw', 'base-300-disk-5.raw', 1024);
is(dies { PLUGIN->create_base('s', $scfg, '300/vm-300-disk-5.raw') }, "file '$img/300/base-300-disk-5.raw' already exists\n", 'target exists');
ok(-e "$img/300/vm-300-disk-5.raw", '... nothing renamed');
my ($missing) = warnings_of { is(dies { PLUGIN->create_base('s', $scfg, '300/vm-300-disk-6.raw') }, "file_size_info on '300/vm-300-disk-6.raw' failed\n", 'missing') };
is_deeply($missing, ["failed to stat '$img/300/vm-300-disk-6.raw'\n"], '... after the warning that explains it (emitted before the error)');
my $subvol = PLUGIN->alloc_image('s', $scfg, 9601, 'subvol', undef, 0);
open(my $fh, '>', "$img/$subvol/etc-hostname") or die; print $fh "ct\n"; close($fh);
($warnings, my $subbase) = warnings_of { PLUGIN->create_base('s', $scfg, $subvol) };
is($subbase, '9601/subvol-9601-disk-0.subvol', 'a subvol template keeps its name (pct template)');
is_deeply($warnings, [], '... without a warning');
ok(-d "$img/$subbase" && -f "$img/$subbase/etc-hostname", '... the directory and its contents stay');
is((stat("$img/$subbase"))[2] & 07777, 0444, '... mode 0444');
ok(!mkdir("$img/$subbase/new") && !-e "$img/$subbase/new", '... immutable: even root cannot add to it') if $> == 0;
($warnings) = warnings_of { PLUGIN->free_image('s', $scfg, $subbase, 0, 'subvol') };
is_deeply($warnings, [], '... free_image of the template (isBase false: its name is no base name, as pct destroy passes it)');
ok(!-e "$img/$subbase" && !-e "$img/9601", '... removes it (dir cannot: it leaves it with a warning)');

is(dies { PLUGIN->create_base('s', $scfg, 'iso/x.iso') }, "create_base on wrong vtype 'iso'\n", 'wrong vtype');
is(dies { PLUGIN->create_base('s', { type => 'swift' }, $vol) }, "storage definition has no path\n", 'no path');

# Templates are immutable: remove them the way PVE does.
PLUGIN->free_image('s', $scfg, $_, 1, 'qcow2') for ($clone2, '100/base-100-disk-1.qcow2/200/base-200-disk-0.qcow2', $qbase);
PLUGIN->free_image('s', $scfg, $base, 1, 'raw');

done_testing();
