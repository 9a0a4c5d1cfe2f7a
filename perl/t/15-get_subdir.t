#!/usr/bin/perl -T
# Contract: get_subdir($scfg, $vtype) returns "<path>/<content-dirs override or the
# default sub-directory>" without touching the file system; no path -> die "storage
# definition has no path\n" (checked first); unknown vtype -> die "unknown vtype '<vtype>'\n".
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @vectors = vectors('get_subdir');
ok(@vectors >= 5, 'shared vectors found');
for my $vector (@vectors) {
    my ($scfg, $vtype) = $vector->{input}->@{qw(scfg vtype)};
    my $expect = $vector->{expect};
    if (exists $expect->{die}) {
        is(dies { PLUGIN->get_subdir($scfg, $vtype) }, $expect->{die}, "$vector->{id}: dies");
    } else {
        is(PLUGIN->get_subdir($scfg, $vtype), $expect->{ok}, "$vector->{id}: $vector->{label}");
    }
}

my %defaults = (images => 'images', rootdir => 'private', iso => 'template/iso', vztmpl => 'template/cache',
    backup => 'dump', snippets => 'snippets', import => 'import');
is(PLUGIN->get_subdir({ path => '/p' }, $_), "/p/$defaults{$_}", "$_ default") for sort keys %defaults;
is(PLUGIN->get_subdir({ path => '/p', 'content-dirs' => { backup => 'a/b' } }, 'backup'), '/p/a/b', 'nested override');
is(dies { PLUGIN->get_subdir({}, 'none') }, "storage definition has no path\n", 'no path is checked first');
is(dies { PLUGIN->get_subdir({ path => '/p' }, 'rootfs') }, "unknown vtype 'rootfs'\n", 'unknown vtype');
ok(!-e '/p', 'no file system access');

# $scfg's keys are looked up, not walked: a restricted hash (Hash::Util), which dies on
# reading a key it does not allow, reads as one without that key.
use Hash::Util ();
my %locked = (path => '/locked');
Hash::Util::lock_hash(%locked);
is(PLUGIN->get_subdir(\%locked, 'iso'), '/locked/template/iso', 'a restricted $scfg without content-dirs');
my %deleted = (path => '/locked', 'content-dirs' => { iso => 'x' });
Hash::Util::lock_keys(%deleted);
delete $deleted{'content-dirs'};
is(PLUGIN->get_subdir(\%deleted, 'iso'), '/locked/template/iso', '... and one whose content-dirs was deleted');
my $text = 'iso';
utf8::upgrade($text);
is(PLUGIN->get_subdir({ path => '/p' }, $text), '/p/template/iso', 'a vtype that is a character string');
is(dies { PLUGIN->get_subdir({ path => '/p' }, 'iso ') }, "unknown vtype 'iso '\n", 'a vtype is matched whole');

done_testing();
