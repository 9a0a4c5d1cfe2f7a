package PVE::RADOS;

# Test-only stand-in for PVE::RADOS (librados XS binding), for the comparison
# tests in perl/xt/real-pve: PVE's RBD plugin needs the module to load; no
# test talks to Ceph.

use strict;
use warnings;

sub new {
    die "PVE::RADOS is not available in the test stand-in\n";
}

1;
