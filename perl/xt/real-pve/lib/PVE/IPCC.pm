package PVE::IPCC;

# Test-only stand-in for PVE::IPCC, the XS module PVE::Cluster uses to talk to
# pmxcfs. Written for the comparison tests in perl/xt/real-pve, it answers the
# requests PVE::Cluster makes when reading configuration:
#
#   - cluster files (storage.cfg, datacenter.cfg, ...) are served from the
#     directory in $PVE::IPCC::CFS_DIR; a file that does not exist there is
#     reported as missing (ENOENT), as pmxcfs does;
#   - the cluster is one node, $PVE::IPCC::NODENAME (default: the host name
#     PVE::INotify reports), quorate, with no guests;
#   - status and log messages are accepted and dropped.
#
# No file versions are reported, so PVE::Cluster re-reads a file on every
# cfs_read_file and sees what the tests wrote into CFS_DIR.

use strict;
use warnings;

use Errno qw(ENOENT EINVAL);
use JSON::PP ();

our $VERSION = '1.0';

# The directory holding the cluster files (storage.cfg, ...). Set by the test.
our $CFS_DIR;

# The one node's name; undef means PVE::INotify::nodename().
our $NODENAME;

# Message ids, the same numbers as PVE::Cluster::IPCConst.
my %REPLY = (
    1 => \&fs_version, # CFS_IPC_GET_FS_VERSION
    2 => \&cluster_info, # CFS_IPC_GET_CLUSTER_INFO
    3 => \&guest_list, # CFS_IPC_GET_GUEST_LIST
    4 => \&accepted, # CFS_IPC_SET_STATUS
    5 => \&no_status, # CFS_IPC_GET_STATUS
    6 => \&config_file, # CFS_IPC_GET_CONFIG
    7 => \&accepted, # CFS_IPC_LOG_CLUSTER_MSG
    8 => \&empty_log, # CFS_IPC_GET_CLUSTER_LOG
);

my $STARTTIME = time();

# Like the XS function: returns the reply, or undef with $! set (0 = no data).
sub ipcc_send_rec {
    my ($msgid, $data) = @_;
    my $reply = $REPLY{$msgid};
    if (!$reply) {
        $! = EINVAL;
        return undef;
    }
    $! = 0;
    return $reply->($data);
}

# PVE::QMPClient passes file descriptors with it; nothing here needs it.
sub sendfd {
    die "PVE::IPCC::sendfd is not available in the test stand-in\n";
}

sub nodename {
    return $NODENAME if defined($NODENAME);
    require PVE::INotify;
    return PVE::INotify::nodename();
}

sub fs_version {
    return JSON::PP::encode_json({ starttime => $STARTTIME, clinfo => 1, vmlist => 1 });
}

sub cluster_info {
    my $node = nodename();
    return JSON::PP::encode_json({
        version => 1,
        cluster => { name => 'test', version => 1, nodes => 1, quorate => 1 },
        nodelist => { $node => { id => 1, online => 1, ip => '127.0.0.1' } },
    });
}

sub guest_list {
    return JSON::PP::encode_json({ version => 1, ids => {} });
}

sub accepted {
    return undef;
}

sub no_status {
    return undef;
}

sub empty_log {
    return JSON::PP::encode_json({ data => [] });
}

sub config_file {
    my ($data) = @_;
    my $name = unpack('Z*', $data // '');
    if (!defined($CFS_DIR) || $name !~ m{^([A-Za-z0-9_.\-/]+)$} || $name =~ m{(?:^|/)\.\.(?:/|$)}) {
        $! = ENOENT;
        return undef;
    }
    $name = $1;
    open(my $fh, '<', "$CFS_DIR/$name") or do { $! = ENOENT; return undef };
    my $raw = do { local $/; <$fh> };
    close($fh);
    $! = 0;
    return $raw;
}

1;
