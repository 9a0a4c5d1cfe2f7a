package PVE::Network::SDN;
use strict;
use warnings;
1;
