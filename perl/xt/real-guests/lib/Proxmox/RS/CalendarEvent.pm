package Proxmox::RS::CalendarEvent;
use strict;
use warnings;
1;
