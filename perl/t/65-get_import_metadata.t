#!/usr/bin/perl -T
# Contract: get_import_metadata($scfg, $volname, $storeid) accepts only import
# volumes ("invalid content type '<vtype>'\n") of format ova or ovf ("invalid
# format\n"), refuses a symlink leading outside the storage, parses the OVF with
# PVE's own PVE::GuestImport::OVF::parse_ovf (as dir does; a clear error when that
# module is missing) and returns {type => 'vm', source, create-args, disks, warnings,
# net} with disk volids '<storeid>:<volname>/<member>' (OVA) or
# '<storeid>:import/<file>' (OVF), efidisk0 and an efi-state-lost warning for OVMF.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use Scalar::Util ();

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir };
make_file("$dir/import/appliance.ova");
make_file("$dir/import/vm.ovf");

is(dies { PLUGIN->get_import_metadata($scfg, 'iso/x.iso', 'st') }, "invalid content type 'iso'\n", 'not an import volume');
is(dies { PLUGIN->get_import_metadata($scfg, 'import/disk.qcow2', 'st') }, "invalid format\n", 'a disk image has no metadata');
is(dies { PLUGIN->get_import_metadata($scfg, 'import/../x.ova', 'st') }, "unable to parse directory volume name 'import/../x.ova'\n",
    'no escape');
my $outside = storage_dir();
make_file("$outside/evil.ovf");
symlink("$outside/evil.ovf", "$dir/import/evil.ovf") or die;
is(dies { PLUGIN->get_import_metadata($scfg, 'import/evil.ovf', 'st') },
    "import source 'import/evil.ovf' is a symbolic link leading outside the storage\n", 'a symlink out of the storage');

SKIP: {
    skip 'PVE::GuestImport::OVF is installed here', 1 if eval { require PVE::GuestImport::OVF; 1 };
    is(dies { PLUGIN->get_import_metadata($scfg, 'import/vm.ovf', 'st') },
        "cannot read import metadata - PVE::GuestImport::OVF is not available\n", 'without PVE\'s OVF parser');
}

# PVE's parser, stood in for: records what it was asked and answers as it would.
my @asked;
{
    no warnings qw(redefine once);
    $INC{'PVE/GuestImport/OVF.pm'} = __FILE__;
    *PVE::GuestImport::OVF::parse_ovf = sub {
        push @asked, [@_];
        return {
            qm => { name => 'appliance', cores => 2, bios => $_[1] ? 'ovmf' : undef },
            disks => [
                { disk_address => 'scsi0', virtual_size => 10737418240, relative_path => 'disk1.vmdk' },
                { disk_address => 'sata1', relative_path => 'disk2.vmdk' },
            ],
            net => { net0 => { model => 'vmxnet3' } },
        };
    };
}
is_deeply(PLUGIN->get_import_metadata($scfg, 'import/appliance.ova', 'st'), {
    type => 'vm', source => 'import/appliance.ova',
    'create-args' => { name => 'appliance', cores => 2, bios => 'ovmf' },
    disks => {
        scsi0 => { volid => 'st:import/appliance.ova/disk1.vmdk', size => 10737418240 },
        sata1 => { volid => 'st:import/appliance.ova/disk2.vmdk' },
        efidisk0 => 1,
    },
    warnings => [{ type => 'ova-needs-extracting' }, { type => 'efi-state-lost', key => 'bios', value => 'ovmf' }],
    net => { net0 => { model => 'vmxnet3' } },
}, 'an OVA: member volids, extraction and EFI warnings');
is_deeply($asked[0], ["$dir/import/appliance.ova", 1], 'the parser gets the path and the OVA flag');
my $ovf = PLUGIN->get_import_metadata($scfg, 'import/vm.ovf', 'st');
is_deeply([$ovf->{disks}, $ovf->{warnings}], [{
    scsi0 => { volid => 'st:import/disk1.vmdk', size => 10737418240 },
    sata1 => { volid => 'st:import/disk2.vmdk' },
}, []], 'an OVF: disks beside it in the import directory, no warnings');
is_deeply($asked[1], ["$dir/import/vm.ovf", 0], 'not an OVA');
PLUGIN->get_import_metadata({ %$scfg, path => taint($dir) }, taint('import/appliance.ova'), taint('st'));
ok(!Scalar::Util::tainted($asked[2]->[0]), 'the path for the parser is untainted (validated in Swift), so tar can run under -T');

done_testing();
