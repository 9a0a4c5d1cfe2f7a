#!/usr/bin/perl -T
# Contract: update_volume_attribute($scfg, $storeid, $volname, $attribute, $value) on
# backups: 'notes' writes the value UTF-8 encoded to <archive>.notes atomically (mode
# 0644), an empty or undefined value removes it; 'protected' creates (true) or
# removes (false) the empty marker <archive>.protected, a no-op when already so.
# dir's messages: "only backups can have notes\n" (notes, any other vtype), "only
# backups support attribute '<a>'\n", "attribute '<a>' is not supported for storage
# type '<type>'\n". Setting protection is effective or an error: a dangling symlink at
# the marker's name is replaced by a real marker (never written through); clearing
# protection removes whatever is at the marker's name.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
my $volname = 'backup/vzdump-lxc-100-2024_01_01-00_00_00.tar.zst';
my $archive = "$dir/dump/vzdump-lxc-100-2024_01_01-00_00_00.tar.zst";
make_file($archive);

sub slurp { open(my $fh, '<:raw', $_[0]) or return undef; local $/; return <$fh> }

PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'notes', "Stand vor dem Upgrade \x{263a}\nZeile 2");
is(slurp("$archive.notes"), "Stand vor dem Upgrade \xe2\x98\xba\nZeile 2", 'notes written as UTF-8');
is((stat("$archive.notes"))[2] & 07777, 0644, 'mode 0644');
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'notes'), "Stand vor dem Upgrade \x{263a}\nZeile 2", 'read back');
opendir(my $dh, "$dir/dump") or die;
is_deeply([sort grep { !/^\.\.?$/ } readdir($dh)], ['vzdump-lxc-100-2024_01_01-00_00_00.tar.zst',
    'vzdump-lxc-100-2024_01_01-00_00_00.tar.zst.notes'], 'no temporary file is left');
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'notes', '');
ok(!-e "$archive.notes", 'empty notes remove the file');
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'notes', undef);
ok(!-e "$archive.notes", 'undef on missing notes is fine');

PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 1);
ok(-f "$archive.protected" && -z _, 'protection marker created, empty');
is((stat("$archive.protected"))[2] & 07777, 0644, 'marker mode 0644');
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 1);
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'protected'), 1, 'still protected');
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 0);
ok(!-e "$archive.protected", 'protection removed');
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', '');
ok(!-e "$archive.protected", 'removing again is a no-op');

is(dies { PLUGIN->update_volume_attribute($scfg, 'st', 'iso/x.iso', 'notes', 'n') }, "only backups can have notes\n", 'notes on an ISO');
is(dies { PLUGIN->update_volume_attribute($scfg, 'st', '100/vm-100-disk-0.raw', 'protected', 1) },
    "only backups support attribute 'protected'\n", 'protection of an image');
is(dies { PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'color', 'red') },
    "attribute 'color' is not supported for storage type 'swift'\n", 'unknown attribute');

# Issue 10, item 6: a dangling symlink at the marker's name.
my $elsewhere = storage_dir() . '/target';
symlink($elsewhere, "$archive.protected") or die;
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'protected'), 0, 'dangling marker symlink: unprotected, as dir reads it');
is(dies { PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 1) }, '', 'protecting succeeds');
is(PLUGIN->get_volume_attribute($scfg, 'st', $volname, 'protected'), 1, '... and is effective');
ok(!-l "$archive.protected" && -f _ && -z _, '... a real, empty marker replaced the symlink');
ok(!-e $elsewhere, '... nothing was created where the symlink pointed');
symlink($elsewhere, "$archive.protected.new") or die;
rename("$archive.protected.new", "$archive.protected") or die;
PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 0);
ok(!-e "$archive.protected" && !-l "$archive.protected", 'unprotecting removes a dangling marker symlink too');

chmod(0555, "$dir/dump") or die;
SKIP: {
    skip 'root ignores directory permissions', 1 if $> == 0;
    like(dies { PLUGIN->update_volume_attribute($scfg, 'st', $volname, 'protected', 1) },
        qr/^unable to create protection file '\Q$archive\E.protected' - Permission denied\n$/, 'creation failure');
}
chmod(0755, "$dir/dump");

done_testing();
