#!/usr/bin/perl -T
# Contract: get_volume_attribute($scfg, $storeid, $volname, $attribute) answers for
# backups: 'notes' → the whole <archive>.notes decoded from UTF-8 (the bytes when not
# UTF-8), '' without a notes file; 'protected' → 1 when <archive>.protected exists,
# else 0. Every other volume or attribute → undef. Unparsable names die. Notes over
# 1 MiB are refused as dir refuses them: "file '<archive>.notes' too long - aborting\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $volname = 'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst';
my $archive = "$dir/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst";
make_file($archive);

is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes'), '', 'no notes file: empty notes');
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'protected'), 0, 'not protected');
make_file("$archive.notes", "Gr\xc3\xbc\xc3\x9fe\nzweite Zeile\n");
make_file("$archive.protected");
my $notes = PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes');
is($notes, "Gr\x{fc}\x{df}e\nzweite Zeile\n", 'the whole notes, decoded');
ok(utf8::is_utf8($notes), 'as a character string');
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'protected'), 1, 'protected');
make_file("$archive.notes", "a\xff");
my $raw = PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes');
ok($raw eq "a\xff" && !utf8::is_utf8($raw), 'notes that are not UTF-8: the bytes');

is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'bogus'), undef, 'unknown attribute: undef');
is(PLUGIN->get_volume_attribute($scfg, 'st', 'iso/x.iso', 'notes'), undef, 'not a backup: no notes');
is(PLUGIN->get_volume_attribute($scfg, 'st', '100/vm-100-disk-0.raw', 'protected'), undef, 'images: undef');
is(dies { PLUGIN->get_volume_attribute($scfg, 'st', 'backup/../../etc/passwd', 'notes') },
    "unable to parse directory volume name 'backup/../../etc/passwd'\n", 'no escape from the storage');

# Issue 10, item 7: notes are read up to 1 MiB, as dir does.
make_file("$archive.notes", 'n' x (1024 * 1024));
is(length(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes')), 1024 * 1024, 'notes of exactly 1 MiB are read');
make_file("$archive.notes", 'n' x (1024 * 1024 + 1));
is(dies { PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes') }, "file '$archive.notes' too long - aborting\n",
    'longer notes are refused');
is(dies { PLUGIN->get_volume_notes($scfg, 'st', $volname) }, "file '$archive.notes' too long - aborting\n", '... by the deprecated method too');
unlink("$archive.notes");

done_testing();
