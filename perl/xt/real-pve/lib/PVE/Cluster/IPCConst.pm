package PVE::Cluster::IPCConst;

# Test-only: the message ids of pmxcfs's IPC protocol, which pve-cluster
# generates into this module at build time. Written by hand for the comparison
# tests in perl/xt/real-pve; the numbers are the protocol's (cfs-ipc-ops.h).

use strict;
use warnings;

use Exporter qw(import);

use constant {
    CFS_IPC_GET_FS_VERSION => 1,
    CFS_IPC_GET_CLUSTER_INFO => 2,
    CFS_IPC_GET_GUEST_LIST => 3,
    CFS_IPC_SET_STATUS => 4,
    CFS_IPC_GET_STATUS => 5,
    CFS_IPC_GET_CONFIG => 6,
    CFS_IPC_LOG_CLUSTER_MSG => 7,
    CFS_IPC_GET_CLUSTER_LOG => 8,
    CFS_IPC_GET_RRD_DUMP => 10,
    CFS_IPC_GET_GUEST_CONFIG_PROPERTY => 11,
    CFS_IPC_VERIFY_TOKEN => 12,
    CFS_IPC_GET_GUEST_CONFIG_PROPERTIES => 13,
};

our @EXPORT = qw(
    CFS_IPC_GET_FS_VERSION CFS_IPC_GET_CLUSTER_INFO CFS_IPC_GET_GUEST_LIST
    CFS_IPC_SET_STATUS CFS_IPC_GET_STATUS CFS_IPC_GET_CONFIG CFS_IPC_LOG_CLUSTER_MSG
    CFS_IPC_GET_CLUSTER_LOG CFS_IPC_GET_RRD_DUMP CFS_IPC_GET_GUEST_CONFIG_PROPERTY
    CFS_IPC_VERIFY_TOKEN CFS_IPC_GET_GUEST_CONFIG_PROPERTIES
);

1;
