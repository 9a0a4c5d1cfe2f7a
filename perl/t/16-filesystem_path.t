#!/usr/bin/perl -T
# Contract: filesystem_path($scfg, $volname, $snapname) returns the volume's path in
# scalar context and (path, vmid, vtype) in list context: images under
# images/<vmid>/ (a linked clone in its own vmid's directory), other content in its
# content directory. A defined $snapname on a format other than qcow2 dies "can't
# snapshot this image format\n"; with snapshot-as-volume-chain a snapshot S of a qcow2
# is the file snap-S-<name> ('current' is the volume itself). No file system access.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @vectors = vectors('filesystem_path');
ok(@vectors >= 3, 'shared vectors found');
for my $vector (@vectors) {
    my ($scfg, $volname, $snapname) = $vector->{input}->@{qw(scfg volname snapname)};
    is_deeply([PLUGIN->filesystem_path($scfg, $volname, $snapname)], $vector->{expect}->{ok}, "$vector->{id}: $vector->{label}");
}

my $scfg = { type => 'swift', path => '/st' };
is(scalar(PLUGIN->filesystem_path($scfg, '100/vm-100-disk-0.raw')), '/st/images/100/vm-100-disk-0.raw', 'scalar context: the path');
is_deeply([PLUGIN->filesystem_path($scfg, 'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma')],
    ['/st/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma', '100', 'backup'], 'a backup has its guest\'s vmid');
is_deeply([PLUGIN->filesystem_path($scfg, '9/base-9-disk-0.qcow2/100/vm-100-disk-1.qcow2')],
    ['/st/images/100/vm-100-disk-1.qcow2', '100', 'images'], 'linked clone');
is_deeply([PLUGIN->filesystem_path($scfg, 'import/x.ova/disk.vmdk')], ['/st/import/x.ova/disk.vmdk', undef, 'import'], 'OVA member');
is(scalar(PLUGIN->filesystem_path($scfg, '100/vm-100-disk-0.qcow2', 'snap1')), '/st/images/100/vm-100-disk-0.qcow2',
    'qcow2 snapshots are internal');
is(dies { PLUGIN->filesystem_path($scfg, '100/vm-100-disk-0.raw', '') }, "can't snapshot this image format\n", 'raw snapshot');
is(dies { PLUGIN->filesystem_path($scfg, 'iso/a.iso', 's') }, "can't snapshot this image format\n", 'iso snapshot');

my $chain = { %$scfg, 'snapshot-as-volume-chain' => 1 };
is(scalar(PLUGIN->filesystem_path($chain, '100/vm-100-disk-0.qcow2', 's1')), '/st/images/100/snap-s1-vm-100-disk-0.qcow2', 'chain snapshot file');
is(scalar(PLUGIN->filesystem_path($chain, '100/vm-100-disk-0.qcow2', 'current')), '/st/images/100/vm-100-disk-0.qcow2', 'current');
my $decoded = "snippets/\x{e9}t\x{e9}.yaml";
utf8::upgrade($decoded);    # as JSON-decoded API parameters are
my $path = PLUGIN->filesystem_path($scfg, $decoded);
is($path, "/st/snippets/\x{e9}t\x{e9}.yaml", 'a character-string volname gives the same characters in the path');
ok(utf8::is_utf8($path), '... as a character string, as Perl concatenation does');
is(dies { PLUGIN->filesystem_path($scfg, 'bogus') }, "unable to parse directory volume name 'bogus'\n", 'bad volname');

done_testing();
