#!/usr/bin/perl -T
# Contract: parse_volname($volname) returns (vtype, name, vmid, basename, basevmid,
# isBase, format) by the grammar of dir-layout.md §2; isBase is the string 'base-' or
# undef; unparsable names die with PVE's messages. All shared vectors pass through
# the Perl class.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use Encode ();

load_host();

my @vectors = vectors('parse_volname');
ok(@vectors >= 20, 'shared vectors found');
for my $vector (@vectors) {
    my $volname = $vector->{input}->{volname};
    if (exists $vector->{expect}->{die}) {
        is(dies { PLUGIN->parse_volname($volname) }, $vector->{expect}->{die}, "$vector->{id}: dies");
    } else {
        is_deeply([PLUGIN->parse_volname($volname)], $vector->{expect}->{ok}, "$vector->{id}: $vector->{label}");
    }
}

is_deeply(
    [PLUGIN->parse_volname(taint('100/base-100-disk-0.raw'))],
    ['images', 'base-100-disk-0.raw', '100', undef, undef, 'base-', 'raw'],
    'tainted input; isBase is the string base-',
);
my @list = PLUGIN->parse_volname('100/vm-100-disk-0.raw');
ok(!utf8::is_utf8($list[1]), 'names come back as byte strings');

if (host_is_pve8()) {
    is_deeply([PLUGIN->parse_volname('100/snap-s1-vm-100-disk-0.qcow2')],
        ['images', 'snap-s1-vm-100-disk-0.qcow2', '100', undef, undef, undef, 'qcow2'],
        'PVE 8 (no volume chains): a snap- file is a volume as any other name');
    is_deeply([PLUGIN->parse_volname('rootdir/100')], ['rootdir', '100', '100', undef, undef, undef, undef],
        "PVE 8: a container's private directory");
    is(dies { PLUGIN->parse_volname('vztmpl/ct.tar') }, "unable to parse directory volume name 'vztmpl/ct.tar'\n",
        'PVE 8: templates are compressed');
} else {
    is(
        dies { PLUGIN->parse_volname('100/snap-s1-vm-100-disk-0.qcow2') },
        "'snap-s1-vm-100-disk-0.qcow2' is a snapshot filename, not a volume!\n",
        'snapshot files of a volume chain are not volumes',
    );
    is(dies { PLUGIN->parse_volname('rootdir/100') }, "unable to parse directory volume name 'rootdir/100'\n",
        'PVE 9: no rootdir/<vmid> names');
}
is(dies { PLUGIN->parse_volname('../../../etc/passwd') },
    "unable to parse directory volume name '../../../etc/passwd'\n", 'no escape from the storage');
is(dies { PLUGIN->parse_volname(undef) }, "unable to parse directory volume name ''\n", 'undef reads as the empty string, as in Perl');
is(dies { PLUGIN->parse_volname("iso/\xff\xe2\x98\xba.iso") }, "invalid volname 'iso/\\xff\xe2\x98\xba.iso' - not valid UTF-8\n",
    'bytes that are not UTF-8 are refused');
my @parsed = PLUGIN->parse_volname("snippets/\x{263a}.yaml");
is($parsed[1], "\x{263a}.yaml", 'a character string (as decoded from the API) comes back as characters');
my @bytes = PLUGIN->parse_volname(Encode::encode('UTF-8', "snippets/\x{263a}.yaml"));
is($bytes[1], Encode::encode('UTF-8', "\x{263a}.yaml"), 'a byte string (as read from the disk) comes back as bytes');

done_testing();
