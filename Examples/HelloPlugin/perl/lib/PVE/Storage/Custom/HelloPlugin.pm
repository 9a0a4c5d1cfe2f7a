package PVE::Storage::Custom::HelloPlugin;

# The smallest storage plugin the Swift SDK makes: a read-only ISO library of type
# `hello` (see Examples/HelloPlugin/README.md). The methods of methods.txt are XSUBs
# of HelloPlugin.so; everything else is PVE::Storage::Plugin's.

use strict;
use warnings;

use PVE::Storage::Plugin;
use PVE::Storage::Custom::HelloPlugin::Bindings;

use base qw(PVE::Storage::Plugin);

# No $VERSION: XSLoader would hold it to the XS_VERSION the library was built with.
require XSLoader;
XSLoader::load(__PACKAGE__);

# The storage API this plugin was written against, within what the host accepts.
sub api {
    my $apiver = PVE::Storage::APIVER();
    my $oldest = $apiver - PVE::Storage::APIAGE();
    return 15 < $oldest ? $oldest : 15 > $apiver ? $apiver : 15;
}

sub type { return 'hello' }

sub plugindata {
    return { content => [{ iso => 1 }, { iso => 1 }], format => [{ raw => 1 }, 'raw'] };
}

# Only options of properties PVE itself defines: a plugin that declares one PVE
# already has breaks the whole storage configuration.
sub properties { return {} }

sub options {
    return {
        path => { fixed => 1 },
        content => { optional => 1 },
        nodes => { optional => 1 },
        disable => { optional => 1 },
    };
}

1;
