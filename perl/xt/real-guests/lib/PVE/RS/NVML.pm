package PVE::RS::NVML;
use strict;
use warnings;
1;
