package PVE::RS::TFA;
use strict;
use warnings;
1;
