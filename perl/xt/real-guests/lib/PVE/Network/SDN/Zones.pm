package PVE::Network::SDN::Zones;
use strict;
use warnings;
1;
