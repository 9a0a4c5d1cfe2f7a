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

done_testing();
