#!/usr/bin/perl -T
# Contract: path($scfg, $volname, $storeid, $snapname) is what QEMU, LXC and the
# storage layer use; for a directory storage it equals filesystem_path (note the
# storeid in third position), in both contexts.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $scfg = { type => 'swift', path => '/st', 'content-dirs' => { iso => 'isos' } };
for my $volname ('100/vm-100-disk-0.qcow2', 'iso/debian.iso', 'vztmpl/a.tar.zst', 'snippets/hook.pl',
    'backup/vzdump-lxc-101-2024_01_01-00_00_00.tar.zst', '9/base-9-disk-0.raw/100/vm-100-disk-0.qcow2') {
    is_deeply([PLUGIN->path($scfg, $volname, 'store')], [PLUGIN->filesystem_path($scfg, $volname)], "$volname: list");
    is(scalar(PLUGIN->path($scfg, $volname, 'store')), scalar(PLUGIN->filesystem_path($scfg, $volname)), "$volname: scalar");
}
is(scalar(PLUGIN->path($scfg, 'iso/debian.iso', 'store')), '/st/isos/debian.iso', 'content-dirs apply');
is(scalar(PLUGIN->path($scfg, '100/vm-100-disk-0.qcow2', 'store', 'snap')), '/st/images/100/vm-100-disk-0.qcow2', 'snapshot');
is(dies { PLUGIN->path($scfg, '100/vm-100-disk-0.vmdk', 'store', 'snap') }, "can't snapshot this image format\n", 'vmdk snapshot');

done_testing();
