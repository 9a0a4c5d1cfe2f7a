#!/usr/bin/perl -T
# Contract: PVE's storage layer scans PVE/Storage/Custom/*.pm, requires the module,
# checks it isa PVE::Storage::Plugin and that api() is in [APIVER-APIAGE, APIVER],
# registers it and initialises all plugins. The plugin must load with no warning,
# register type 'swift', declare no property of its own (re-declaring one breaks all
# of PVE), and accept dir's options, naming only properties the host defines.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

no warnings 'once';

my @warnings = load_host();
is_deeply(\@warnings, [], 'PVE::Storage loads the plugin without a warning');

ok(PLUGIN->isa('PVE::Storage::Plugin'), 'isa PVE::Storage::Plugin');
is(PLUGIN->type(), 'swift', "type is 'swift'");
is(PVE::Storage::Plugin->lookup('swift'), PLUGIN, 'registered under its type');
is(PLUGIN->api(), PVE::Storage::APIVER(), "api() is the host's APIVER");

is_deeply(PLUGIN->properties(), {}, 'declares no property of its own');

my $plugindata = PLUGIN->plugindata();
is_deeply(
    $plugindata->{content},
    [
        { map { $_ => 1 } qw(images rootdir vztmpl iso backup snippets none import) },
        { images => 1, rootdir => 1 },
    ],
    "content types and defaults are dir's",
);
is_deeply($plugindata->{format}, [{ raw => 1, qcow2 => 1, vmdk => 1, subvol => 1 }, 'raw'], "formats are dir's");
is_deeply($plugindata->{'sensitive-properties'}, {}, 'no sensitive properties');

# dir's options, as far as the host defines the properties.
my $dir_options = PVE::Storage::Plugin->lookup('dir')->options();
is_deeply(PLUGIN->options(), $dir_options, "options are exactly dir's on this host");
is_deeply(PLUGIN->options()->{path}, { fixed => 1 }, 'path is required and fixed');

# The generated glue binds every method; none of them is inherited Perl.
for my $method (@PVE::Storage::Custom::SwiftPlugin::Bindings::METHODS) {
    my $code = PLUGIN->can($method);
    ok($code && $code != (PVE::Storage::Plugin->can($method) // 0), "$method is the plugin's own");
}
ok(!defined($PVE::Storage::Custom::SwiftPlugin::LOAD_ERROR), 'the native library loaded');

done_testing();
