#!/usr/bin/perl -T
# Contract: check_config($section_id, $config, $create, $skip_schema_check) runs
# SectionConfig's generic checks (fixed options, undefined values, schema, required
# options) and returns the decoded options; on creation the path must consist of
# '/', letters, digits, '-', '_', '.', '@' -> else die "illegal path for directory
# storage: <path>\n", and is canonicalised (repeated and trailing slashes, '/./').
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my $opts = PLUGIN->check_config('fast', { type => 'swift', path => '/mnt//fast/./data/', content => 'images,iso' }, 1, 0);
is($opts->{path}, '/mnt/fast/data', 'path canonicalised on creation');
is_deeply($opts->{content}, { images => 1, iso => 1 }, 'content decoded by SectionConfig');

is(dies { PLUGIN->check_config('fast', { type => 'swift', path => '/mnt/my disk' }, 1, 0) },
    "illegal path for directory storage: /mnt/my disk\n", 'illegal path');
is(dies { PLUGIN->check_config('fast', { type => 'swift', path => taint('/mnt/x;rm') }, 1, 1) },
    "illegal path for directory storage: /mnt/x;rm\n", 'illegal path, schema check skipped (as when reading storage.cfg)');
is(dies { PLUGIN->check_config('fast', { type => 'swift', path => "/mnt/caf\xe9" }, 1, 1) },
    "illegal path for directory storage: /mnt/caf\\xe9\n", 'a path that is not UTF-8 is named, its bytes escaped');
is(dies { PLUGIN->check_config('fast', { type => 'swift', content => 'images' }, 1, 0) },
    "missing value for required option 'path'\n", 'path is required');
is(dies { PLUGIN->check_config('fast', { path => '/mnt/other' }, 0, 0) },
    "can't change value of fixed parameter 'path'\n", 'path is fixed');

my $update = PLUGIN->check_config('fast', { content => 'backup', 'create-subdirs' => 0 }, 0, 0);
is_deeply($update, { type => 'swift', content => { backup => 1 }, 'create-subdirs' => 0 }, 'an update returns the type and the decoded changes only');

done_testing();
