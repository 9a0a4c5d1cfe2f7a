package PVE::Cluster;

# Stand-in for PVE::Cluster, as far as the plugin reads it: the cluster's VM
# list ({ids => {vmid => {type => 'qemu'|'lxc', node => ...}}}). Tests set
# $PVE::Cluster::VMLIST.

use strict;
use warnings;

# Loading must not reset a list a test set before the first require.
our $VMLIST;
$VMLIST //= { ids => {} };

sub get_vmlist {
    return $VMLIST;
}

1;
