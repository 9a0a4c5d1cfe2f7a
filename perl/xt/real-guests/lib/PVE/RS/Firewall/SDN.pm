package PVE::RS::Firewall::SDN;
use strict;
use warnings;
1;
