package PVE::RPCEnvironment;

# Test-only stand-in for PVE::RPCEnvironment (pve-access-control), for the
# comparison tests in perl/xt/real-pve. It is pve-common's PVE::RESTEnvironment
# (user, workers, ...) with the permission checks of a user that may do
# everything: tests run as root@pam, the user `pvesm` runs as.

use strict;
use warnings;

use base qw(PVE::RESTEnvironment);

# Every privilege check passes.
sub check {
    my ($self, $user, $path, $privs, $noerr) = @_;
    return 1;
}

sub check_any {
    my ($self, $user, $path, $privs, $noerr) = @_;
    return 1;
}

sub check_full {
    my ($self, $user, $path, $privs, $any, $noerr) = @_;
    return 1;
}

sub check_storage_perm {
    my ($self, $user, $vmid, $storecfg, $storeid, $privs, $noerr) = @_;
    return 1;
}

sub check_volume_access {
    my ($self, $user, $storecfg, $vmid, $volid, $type) = @_;
    return 1;
}

sub check_api2_permissions {
    my ($self, $perm, $user, $param) = @_;
    return 1;
}

sub permissions {
    my ($self, $user, $path) = @_;
    return {};
}

# The environment `pvesm` sets up: a CLI environment for root@pam.
sub setup_default_cli_env {
    my ($class, $username) = @_;
    my $self = $class->init('cli');
    $self->set_user($username // 'root@pam');
    return $self;
}

1;
