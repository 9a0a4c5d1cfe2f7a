#!/usr/bin/perl -T
# Contract: check_connection($storeid, $scfg) returns true when the storage can be
# reached; the storage layer calls it before activate_storage. A local directory has
# nothing to connect to: always 1.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

is(PLUGIN->check_connection('store', { path => '/nonexistent', type => 'swift' }), 1, 'returns 1');
is(PLUGIN->check_connection(taint('store'), {}), 1, 'also without a path, with tainted input');

done_testing();
