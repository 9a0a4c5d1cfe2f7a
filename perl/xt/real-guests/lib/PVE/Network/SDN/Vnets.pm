package PVE::Network::SDN::Vnets;
use strict;
use warnings;
use PVE::JSONSchema;
PVE::JSONSchema::register_standard_option('pve-sdn-vnet-id', { type => 'string', format => 'pve-configid' });
1;
