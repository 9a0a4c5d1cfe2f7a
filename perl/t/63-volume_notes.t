#!/usr/bin/perl -T
# Contract: the deprecated get_volume_notes($scfg, $storeid, $volname, $timeout) and
# update_volume_notes($scfg, $storeid, $volname, $notes, $timeout), which dir still
# provides, behave as the 'notes' attribute: undef for non-backups on reading,
# "only backups can have notes\n" on writing.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $volname = 'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma';
make_file("$dir/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma");

is(PLUGIN->get_volume_notes($scfg, 'st', $volname, 5), '', 'no notes');
PLUGIN->update_volume_notes($scfg, 'st', $volname, "n\x{e9}", 5);
is(PLUGIN->get_volume_notes($scfg, 'st', $volname), "n\x{e9}", 'written and read');
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes'), "n\x{e9}", 'the same notes as the attribute');
PLUGIN->update_volume_notes($scfg, 'st', $volname, '');
ok(!-e "$dir/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.notes", 'cleared');
is(PLUGIN->get_volume_notes($scfg, 'st', 'snippets/a.yaml'), undef, 'not a backup: undef');
is(dies { PLUGIN->update_volume_notes($scfg, 'st', 'snippets/a.yaml', 'x') }, "only backups can have notes\n", 'not a backup');

done_testing();
