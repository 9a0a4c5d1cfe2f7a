package Proxmox::RS::Notify;
use strict;
use warnings;
1;
