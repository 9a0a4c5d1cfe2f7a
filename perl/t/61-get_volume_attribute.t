#!/usr/bin/perl -T
# Contract: get_volume_attribute($scfg, $storeid, $volname, $attribute) answers for
# backups: 'notes' → the whole <archive>.notes decoded from UTF-8 (the bytes when not
# UTF-8), '' without a notes file; 'protected' → 1 when <archive>.protected exists,
# else 0. Every other volume or attribute → undef. Unparsable names die.
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

done_testing();
