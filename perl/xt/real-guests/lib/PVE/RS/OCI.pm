package PVE::RS::OCI;
use strict;
use warnings;
1;
