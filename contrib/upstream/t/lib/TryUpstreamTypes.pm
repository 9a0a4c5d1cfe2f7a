package TryUpstreamTypes;

# Two third-party storage types for the tests of try-upstream-change, registered
# with PVE::Storage the way it registers a plugin found in PVE/Storage/Custom/.
#
#   swift   - a directory storage like PVE's `dir` (as the SwiftPlugin is): it
#             exports and imports dir's stream formats, 'raw+size' for the
#             current content and 'qcow2+size'/'vmdk+size' with snapshots.
#   opaque  - a directory storage whose volumes can only be exported in a
#             format of its own that nothing imports, not even itself.
#
# Loaded with -MTryUpstreamTypes (or PERL5OPT) before the code under test.

use strict;
use warnings;

use PVE::Storage;
use PVE::Storage::DirPlugin;

package PVE::Storage::Custom::TrySwiftType {
    use base qw(PVE::Storage::DirPlugin);

    sub api { return PVE::Storage::APIVER() }
    sub type { return 'swift' }
    sub properties { return {} }

    # volume_export_formats and volume_import_formats: dir's, inherited
}

package PVE::Storage::Custom::TryOpaqueType {
    use base qw(PVE::Storage::DirPlugin);

    sub api { return PVE::Storage::APIVER() }
    sub type { return 'opaque' }
    sub properties { return {} }

    sub volume_export_formats {
        my ($class, $scfg, $storeid, $volname, $snapshot, $base_snapshot, $with_snapshots) = @_;
        return ('opaque+stream');
    }

    sub volume_import_formats {
        return ();
    }
}

package TryUpstreamTypes;

for my $plugin (qw(PVE::Storage::Custom::TrySwiftType PVE::Storage::Custom::TryOpaqueType)) {
    $plugin->register() if !eval { PVE::Storage::Plugin->lookup($plugin->type()) };
}
PVE::Storage::Plugin->init();

1;
