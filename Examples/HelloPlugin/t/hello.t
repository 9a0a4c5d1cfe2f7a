#!/usr/bin/perl -T
# Contract of the example plugin, built with the SDK alone: PVE's custom-plugin scan
# loads PVE::Storage::Custom::HelloPlugin and registers type 'hello' in SectionConfig;
# a storage.cfg section of that type parses; the five methods of its methods.txt are
# Swift (XSUBs), with Swift's results and Swift's errors as Perl exceptions; the
# methods it refuses die in the SDK's words and touch nothing; every other method is
# PVE::Storage::Plugin's.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Test::More;

no warnings 'once';

my $example = (abs_path(dirname(__FILE__) . '/..') =~ m/^(.*)$/s)[0];
$ENV{PVE_STORAGE_CUSTOM_DIR} = "$example/perl/lib/PVE/Storage/Custom";
my @warnings;
{
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    require PVE::Storage;
}
is_deeply(\@warnings, [], "PVE's plugin scan loads the example without a warning");

my $class = 'PVE::Storage::Custom::HelloPlugin';
is(PVE::Storage::Plugin->lookup('hello'), $class, "registered under its type 'hello'");
ok($class->isa('PVE::Storage::Plugin'), 'isa PVE::Storage::Plugin');

for my $method (@PVE::Storage::Custom::HelloPlugin::Bindings::METHODS) {
    my $code = $class->can($method);
    ok($code && $code != (PVE::Storage::Plugin->can($method) // 0), "$method is bound to Swift");
}
is($class->can('get_subdir'), PVE::Storage::Plugin->can('get_subdir'), 'an unbound method stays the base class\'s');

# A storage.cfg section of type hello, through SectionConfig.
my $root = tempdir(CLEANUP => 1);
mkdir("$root/template") && mkdir("$root/template/iso") or die "mkdir: $!\n";
my $cfg_file = "$root/storage.cfg";
open(my $fh, '>', $cfg_file) or die "cannot write $cfg_file: $!\n";
print {$fh} "hello: isos\n\tpath $root\n\tcontent iso\n";
close($fh) or die "cannot write $cfg_file: $!\n";
$ENV{PVE_STORAGE_CFG} = $cfg_file;
my $scfg = PVE::Storage::storage_config(PVE::Storage::config(), 'isos');
is($scfg->{type}, 'hello', 'storage.cfg parses a hello section');
is($scfg->{path}, $root, 'with its path');

is($class->check_connection('isos', $scfg), 1, 'check_connection');
is($class->activate_storage('isos', $scfg, {}), undef, 'activate_storage of an existing directory');
eval { $class->activate_storage('gone', { %$scfg, path => "$root/missing" }, {}) };
is($@, "unable to activate storage 'gone' - directory '$root/missing' does not exist\n",
    'activate_storage of a missing directory dies with the Swift error');

my ($total, $available, $used, $active) = $class->status('isos', $scfg, {});
ok($total > 0 && $available <= $total && $used <= $total, 'status: total, available, used');
is($active, 1, 'status: active');

is_deeply([$class->parse_volname('iso/debian.iso')], ['iso', 'debian.iso'], 'parse_volname');
for my $bad ('iso/../x.iso', 'images/x.raw', 'iso/.hidden.iso', 'iso/x') {
    eval { $class->parse_volname($bad) };
    is($@, "unable to parse hello volume name '$bad'\n", "parse_volname refuses '$bad'");
}

is_deeply([$class->path($scfg, 'iso/debian.iso', 'isos')], ["$root/template/iso/debian.iso", undef, 'iso'],
    'path in list context');
is(scalar($class->path($scfg, 'iso/debian.iso', 'isos')), "$root/template/iso/debian.iso", 'path in scalar context');
eval { $class->path($scfg, 'iso/debian.iso', 'isos', 'snap') };
is($@, "hello storage has no snapshots\n", 'path of a snapshot dies');
# Refused methods: bound (not the base class's file code), dying in PVE's words.
my %refusals = (
    alloc_image     => [['isos', $scfg, 100, 'raw', 'vm-100-disk-0.raw', 1024], "alloc_image is not implemented for $class\n"],
    free_image      => [['isos', $scfg, 'iso/debian.iso', 0], "free_image is not implemented for $class\n"],
    volume_resize   => [[$scfg, 'isos', 'iso/debian.iso', 4096, 0], "volume_resize is not implemented for $class\n"],
    volume_snapshot => [[$scfg, 'isos', 'iso/debian.iso', 'snap'], "volume_snapshot is not implemented for $class\n"],
    rename_volume   => [[$scfg, 'isos', 'iso/debian.iso', 100, 'vm-100-disk-0.raw'], "not implemented in storage plugin '$class'\n"],
);
open($fh, '>', "$root/template/iso/debian.iso") or die "cannot write: $!\n";
close($fh);
for my $method (sort keys %refusals) {
    my ($arguments, $message) = @{ $refusals{$method} };
    eval { $class->$method(@$arguments) };
    is($@, $message, "$method is refused");
}
opendir(my $dh, $root) or die "opendir: $!\n";
is_deeply([sort grep { !/^\.\.?$/ } readdir($dh)], ['storage.cfg', 'template'], 'the refusals created nothing');
ok(-e "$root/template/iso/debian.iso", 'and removed nothing');
done_testing();
