#!/usr/bin/perl -T
# Contract: a 'swift:' section of /etc/pve/storage.cfg is parsed by PVE's
# SectionConfig into a decoded $scfg (content/nodes/content-dirs as hashes, booleans
# 0/1, type 'swift'), is validated by the plugin's check_config (a bad path skips
# the section with a warning) and is written back in the same syntax.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

SKIP: {
    skip 'storage.cfg I/O needs the stand-in PVE host (the real one reads /etc/pve)', 8
        if $INC{'PVE/Storage.pm'} !~ m{perl/t/lib/};

    my $dir = storage_dir();
    my $file = "$dir/storage.cfg";
    $ENV{PVE_STORAGE_CFG} = $file;
    open(my $fh, '>', $file) or die;
    print $fh <<"CFG";
dir: local
	path /var/lib/vz
	content iso
	disable

swift: fast
	path $dir/fast
	content images,rootdir,backup
	content-dirs backup=dumps
	prune-backups keep-last=3
	is_mountpoint no
	create-subdirs 1
	shared 0

swift: bad
	path $dir/with space
	content images
CFG
    close($fh);

    my @warnings;
    my $cfg = do { local $SIG{__WARN__} = sub { push @warnings, @_ }; PVE::Storage::config() };
    my $scfg = PVE::Storage::storage_config($cfg, 'fast');
    is($scfg->{type}, 'swift', 'type');
    is($scfg->{path}, "$dir/fast", 'path');
    is_deeply($scfg->{content}, { images => 1, rootdir => 1, backup => 1 }, 'content decoded');
    is_deeply($scfg->{'content-dirs'}, { backup => 'dumps' }, 'content-dirs decoded');
    is($scfg->{'prune-backups'}, 'keep-last=3', 'prune-backups kept raw');
    ok(!$cfg->{ids}->{bad}, 'a section with an illegal path is skipped');
    like(join('', @warnings), qr/illegal path for directory storage: \Q$dir\E\/with space/, '... with a warning');

    # The plugin works on what the parser produced.
    PLUGIN->activate_storage('fast', $scfg, {});
    ok(-d "$dir/fast/dumps" && -d "$dir/fast/images", 'activation follows the parsed configuration');

    delete $cfg->{ids}->{bad};
    $cfg->{order}->{bad} = undef;
    PVE::Storage::write_config($cfg);
    my $again = PVE::Storage::config();
    is_deeply($again->{ids}->{fast}, $scfg, 'written and read back unchanged');
    open($fh, '<', $file) or die;
    my $text = do { local $/; <$fh> };
    like($text, qr/^swift: fast\n\tpath \Q$dir\E\/fast\n/m, 'written in storage.cfg syntax');
}

done_testing();
