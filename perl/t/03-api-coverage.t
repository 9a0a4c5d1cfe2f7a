#!/usr/bin/perl -T
# Contract (API coverage): every plugin method of the storage API is defined by the
# plugin itself, never inherited from PVE::Storage::Plugin's Perl, but
# cluster_lock_storage: PVE's own lock (a flock on the node, or the cluster file
# system's lock for a shared storage), inherited so that allocations serialise with
# PVE's tools and other nodes;
# every method in perl/methods.txt is an XSUB of the generated glue; the methods the
# glue binds, the functions include/swiftplugin.h declares and the symbols the
# library exports are the same set.
use strict;
use warnings;

use lib 'perl/t/testlib';
use B ();
use Test::More;
use SwiftPluginTest;

no warnings 'once';

load_host();

my @SPEC_METHODS = qw(
    api type plugindata properties options check_config
    check_connection activate_storage deactivate_storage status cluster_lock_storage
    parse_volname get_subdir filesystem_path path find_free_diskname get_formats get_identity
    on_add_hook on_update_hook on_update_hook_full on_delete_hook
    list_images create_base clone_image alloc_image free_image
    list_volumes get_volume_attribute update_volume_attribute volume_size_info volume_resize
    volume_snapshot volume_snapshot_info volume_rollback_is_possible volume_snapshot_rollback
    volume_snapshot_delete rename_snapshot volume_qemu_snapshot_method
    volume_snapshot_needs_fsfreeze storage_can_replicate volume_has_feature map_volume
    unmap_volume activate_volume deactivate_volume rename_volume prune_backups
    qemu_blockdev_options get_volume_notes update_volume_notes
    volume_export volume_export_formats volume_import volume_import_formats
    get_import_metadata new_backup_provider
);

# The list above is the storage API's method index (Tests/Fixtures/method-index.md).
{
    my $text = fixture_text('method-index.md');
    my ($index) = $text =~ /^## 12\. Method index.*?\n(.*?)(?:^Removed|\z)/ms;
    my %listed = map { $_ => 1 } ($index // '') =~ /`([a-z_]+)`/g;
    is_deeply([sort keys %listed], [sort @SPEC_METHODS], 'the method list is the spec\'s index (57 methods)');
}

sub defined_in {
    my ($code) = @_;
    my $gv = B::svref_2object($code)->GV;
    return $gv->STASH->NAME;
}

for my $method (@SPEC_METHODS) {
    my $code = PLUGIN->can($method);
    my $owner = $method eq 'cluster_lock_storage' ? 'PVE::Storage::Plugin' : PLUGIN;
    ok($code && defined_in($code) eq $owner, "$method is defined by $owner");
}

my @bound = @PVE::Storage::Custom::SwiftPlugin::Bindings::METHODS;
my @native = @PVE::Storage::Custom::SwiftPlugin::Bindings::NATIVE;
for my $method (@bound) {
    ok(B::svref_2object(PLUGIN->can($method))->XSUB, "$method is an XSUB of the glue");
}
for my $method (@native) {
    my $code = PVE::Storage::Custom::SwiftPlugin::Native->can($method);
    ok($code && B::svref_2object($code)->XSUB, "Native::$method is an XSUB, wrapped by the plugin's Perl");
}

# Perl-only methods: the definitions, and PVE's own lock (inherited).
my %bound = map { $_ => 1 } @bound, @native;
is_deeply(
    [sort grep { !$bound{$_} } @SPEC_METHODS],
    [sort qw(api type plugindata properties options cluster_lock_storage)],
    'only the definitions and the PVE storage lock are Perl; every storage method is bound to Swift',
);

# methods.txt, the header and the library agree.
my $methods_file = project_file('perl/methods.txt');
open(my $mfh, '<', $methods_file) or die "cannot read $methods_file: $!\n";
# Method lines name a return shape; the header lines before them do not.
my @listed = map { /^([a-z_]+)\s+(?:scalar|list|context)\b/ ? $1 : () } <$mfh>;
is_deeply([sort @listed], [sort @bound, @native], 'the glue binds every method of perl/methods.txt');

my $header = project_file('include/swiftplugin.h');
open(my $hfh, '<', $header) or die "cannot read $header: $!\n";
my @declared = grep { $_ ne 'abi_version' && $_ ne 'free' }
    map { /^\w+ \*?spve_v1_([a-z_]+)\(/ ? $1 : () } <$hfh>;
is_deeply([sort @declared], [sort @listed], 'include/swiftplugin.h declares exactly those methods');

SKIP: {
    my ($library) = grep { -f } map { "$_/auto/PVE/Storage/Custom/SwiftPlugin/SwiftPlugin.so" } grep { !ref } @INC;
    local $ENV{PATH} = '/usr/bin:/bin';
    skip 'nm not available', 1 if !-x '/usr/bin/nm';
    open(my $nm, '-|', '/usr/bin/nm', '-D', '--defined-only', untaint($library)) or die "nm: $!\n";
    my @exported = sort map { /\bspve_v1_([a-z_]+)/ ? $1 : () } <$nm>;
    is_deeply(\@exported, [sort @declared, 'abi_version', 'free'], 'the library exports the declared methods, abi_version and free');
}

done_testing();
