package PVE::APIClient::LWP;

# Test-only stand-in for PVE::APIClient::LWP, for the comparison tests in
# perl/xt/real-pve: PVE's PBS plugin needs the module to load; no test talks to
# a Proxmox Backup Server.

use strict;
use warnings;

sub new {
    die "PVE::APIClient::LWP is not available in the test stand-in\n";
}

1;
