#!/usr/bin/perl -T
# Contract (issue acceptance criterion): loaded next to the real PVE storage layer, the
# plugin registers with no warning, a `swift` storage can be created through PVE's own
# config API (PVE::API2::Storage::Config->create, what `pvesm add` runs), and activation,
# status, parse_volname and path give the same results as PVE's `dir` storage on the
# same directory. Every comparison runs PVE's real code for both types: PVE::Storage,
# PVE::SectionConfig, the create/update API and DirPlugin come from Proxmox's sources
# (or from a PVE node), only the cluster file system (PVE::IPCC), the permission layer
# (PVE::RPCEnvironment) and the Ceph/PBS client libraries are our stand-ins
# (perl/xt/real-pve/lib). Run it with tools/check-real-pve.
#
# How the real stack is driven here:
#  - PVE::Cluster is the real module; its file writes and cfs locks, which go to a
#    hard-coded /etc/pve, are mocked before PVE::Storage is loaded (Storage.pm imports
#    them at compile time): storage.cfg lives in a temporary directory that the IPCC
#    stand-in serves, seeded with a disabled `local` storage so nothing on the host is
#    activated. The node name is fixed.
#  - The real loader only scans /usr/share/perl5/PVE/Storage/Custom; the plugin is
#    registered the way that loader does it, through SwiftPluginTest::load_host (require,
#    register, init), and the loader's own checks (isa, api(), accepted range) are
#    asserted here. Nothing is installed or symlinked into the system.
#  - Runs in taint mode, as pvedaemon does.
#
# Compared for a swift and a dir storage on the same directory (pairs with all content
# types, content-dirs and is_mountpoint, qcow2 volume chains without sub-directories,
# the deprecated mkdir, no content option, and a mounted is_mountpoint): the create API's
# result, warnings and errors (also for every creation that must fail), the decoded
# config entries and storage.cfg sections, the update API, check_config on create and
# update, the directory trees activation creates, PVE::Storage::activate_storage (result,
# cache, errors of failing activation), status and storage_info, parse_volname (shared
# vectors and edge cases), path (every content type, list and scalar context,
# snapshots), get_subdir, the storage layer's directory helpers, get_formats, and the
# delete API. Messages are compared byte for byte with the storage ID replaced; a
# warning one side emits and the other does not is a separate failing test.
#
# Deliberate differences, asserted as such (see the plugin's POD): swift refuses volume
# names and paths containing NUL or bytes that are not UTF-8 (dir accepts some of them;
# no volume of this storage can have such a name, and a NUL cannot reach a file-system
# call), and shows such bytes escaped (\0, \xNN) in its messages. Error messages are
# compared as the bytes that reach a log (a character string as its UTF-8 encoding).
# Perl's "Use of uninitialized value" warnings from upstream's own code are not
# behaviour: swift must not warn where dir does only that. The value plugin
# activate_storage returns is ignored by PVE: both must be false.
#
# On PVE 8's sources (tools/check-real-pve --pve8; RealPVEHost's host_release): the
# volume-chain pair is made without snapshot-as-volume-chain, which both types refuse
# alike there; PVE 8's dir has no get_formats (nor the storage layer resolve_format_hint):
# default_format and storage_default_format are compared, and, deliberate, swift's
# get_formats (PVE 8 calls none) gives what default_format gives.
#
# Not compared exactly, because the host or upstream makes them vary between any two
# measurements or storages: avail and used of the file system (concurrent writes; swift's
# must lie within the range of dir's measured before and after, give or take 4 MiB), the
# kernel's uevent counter in the activation cache, and the order of the `content` and
# `nodes` lists in storage.cfg and storage_info (upstream joins the keys of a hash).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use RealPVEHost;

no warnings 'once';

my @load_warnings = start_real_host();
is_deeply(\@load_warnings, [], 'the real PVE::Storage loads, and the plugin registers, without a warning');
unlike($INC{'PVE/Storage.pm'}, qr{/perl/t/lib/}, "PVE::Storage is PVE's own (not the unit tests' stand-in)");
note("PVE::Storage from $INC{'PVE/Storage.pm'}, APIVER " . PVE::Storage::APIVER() . ', APIAGE ' . PVE::Storage::APIAGE());
note("plugin from $INC{'PVE/Storage/Custom/SwiftPlugin.pm'}");

# The real loader's checks (Storage.pm), which load_host does not repeat.
ok(PLUGIN->isa('PVE::Storage::Plugin'), 'loader check: derived from PVE::Storage::Plugin');
ok(PLUGIN->can('api'), 'loader check: provides api()');
is(PLUGIN->api(), PVE::Storage::APIVER(), 'loader check: api() is the current APIVER (no "older storage API" warning)');
ok(PLUGIN->api() >= PVE::Storage::APIVER() - PVE::Storage::APIAGE(), 'loader check: api() is not too old');
ok(!defined($PVE::Storage::Custom::SwiftPlugin::LOAD_ERROR), 'the native library loaded');
is(PVE::Storage::Plugin->lookup('swift'), PLUGIN, "type 'swift' is registered");

my $DIR = 'PVE::Storage::DirPlugin';
is(PVE::Storage::Plugin->lookup('dir'), $DIR, "type 'dir' is PVE's DirPlugin");

my @api_warnings = warnings_of { require PVE::API2::Storage::Config };
is_deeply($api_warnings[0], [], 'the storage config API loads without a warning');

is_deeply(
    PVE::Storage::Plugin->private()->{options}->{swift},
    PVE::Storage::Plugin->private()->{options}->{dir},
    "the registered options of 'swift' are those of 'dir'",
);
is_deeply(
    PVE::Storage::Plugin->private()->{plugindata}->{swift},
    PVE::Storage::Plugin->private()->{plugindata}->{dir},
    "the registered plugindata of 'swift' is that of 'dir'",
);
ok(
    (grep { $_ eq 'swift' } PVE::Storage::Plugin->lookup_types()->@*),
    "the API's type enum offers 'swift'",
);

my $config = PVE::Storage::config();
is_deeply([sort keys $config->{ids}->%*], ['local'], 'storage.cfg holds only the seeded local storage');
is($config->{ids}->{local}->{disable}, 1, '... which is disabled');

# ---------------------------------------------------------------------------------------
# Creating storages through the API, on the same directory.

my $base = storage_dir();
my ($mounted_root) = mount_point_of($base);

# Each pair: the options of `pvesm add <type> <storeid> ...`, path relative to $base.
my @pairs = (
    {
        name => 'all content',
        ids => ['swift1', 'dir1'],
        path => 'one',
        opts => {
            content => 'images,rootdir,vztmpl,iso,backup,snippets,import',
            'prune-backups' => 'keep-last=3,keep-weekly=2',
            'max-protected-backups' => 5,
            bwlimit => 'default=1000,restore=2000',
            preallocation => 'metadata',
            nodes => NODE,
        },
    },
    {
        name => 'content-dirs, is_mountpoint with the mounted path the directory lives on',
        ids => ['swift2', 'dir2'],
        path => 'two',
        opts => {
            content => 'iso,vztmpl,backup,snippets,images',
            'content-dirs' => 'iso=isos,backup=dumps/all,vztmpl=tmpl,images=disks/vm',
            is_mountpoint => $mounted_root,
        },
    },
    {
        # PVE 8 has no volume chains: there the pair is made without the option (and the
        # option's refusal is compared below).
        name => host_has_volume_chain() ? 'qcow2, volume chain, no sub-directories' : 'qcow2, no sub-directories',
        ids => ['swift3', 'dir3'],
        path => 'three',
        opts => {
            content => 'images,rootdir',
            format => 'qcow2',
            (host_has_volume_chain() ? ('snapshot-as-volume-chain' => 1) : ()),
            'create-subdirs' => 0,
            is_mountpoint => 'no',
        },
    },
    {
        name => 'deprecated mkdir 0',
        ids => ['swift4', 'dir4'],
        path => 'four',
        opts => { content => 'iso,backup', mkdir => 0 },
        existing => 1,
    },
    {
        name => 'no content option',
        ids => ['swift5', 'dir5'],
        path => 'five',
        opts => {},
    },
);

for my $pair (@pairs) {
    my $path = pair_path($pair);
    my %outcome;
    my %tree;
    for my $i (0, 1) {
        my ($sid, $type) = ($pair->{ids}->[$i], $i ? 'dir' : 'swift');
        fresh_dir($pair);
        $outcome{$type} = api_create($type, $sid, taint($path), $pair->{opts});
        $tree{$type} = tree($path);
    }
    same($outcome{swift}, $outcome{dir}, "$pair->{name}: create returns the same (storeid substituted)");
    is($outcome{swift}->{error}, '', "$pair->{name}: the swift storage was created");
    is_deeply($tree{swift}, $tree{dir}, "$pair->{name}: creation leaves the same directory tree");
}
my %by_id = map { my $p = $_; map { ($_ => $p) } $p->{ids}->@* } @pairs;

# Where the host has no volume chains, both types refuse the option alike, by the schema.
SKIP: {
    skip('the host has snapshot-as-volume-chain: the pair above is made with it', 2) if host_has_volume_chain();
    my %outcome;
    for my $i (0, 1) {
        my ($sid, $type) = ($i ? 'dirchain' : 'swiftchain', $i ? 'dir' : 'swift');
        remove_tree("$base/chain");
        $outcome{$type} = api_create($type, $sid, "$base/chain", { content => 'images', 'snapshot-as-volume-chain' => 1 });
        $outcome{$type}->{written} = exists(PVE::Storage::config()->{ids}->{$sid}) ? 1 : 0;
    }
    same($outcome{swift}, $outcome{dir}, 'PVE ' . host_release() . ': create with snapshot-as-volume-chain fails alike');
    is_deeply([sort keys(($outcome{dir}->{error}->{errors} // {})->%*)], ['snapshot-as-volume-chain'],
        '... dir refuses the option by the schema, as a property it does not know');
    note('  dir: ' . describe($outcome{dir}));
}

# A mount point that is mounted: is_mountpoint yes on /dev/shm, writing nothing there.
my $shm = mount_point_of('/dev/shm') // '';
SKIP: {
    skip('/dev/shm is not a mount point here', 2) if $shm ne '/dev/shm';
    my $pair = {
        name => 'is_mountpoint yes on a mounted path',
        ids => ['swift6', 'dir6'],
        path => '/dev/shm',
        opts => { content => 'iso', is_mountpoint => 'yes', 'create-subdirs' => 0, 'create-base-path' => 0 },
    };
    my %outcome = map {
        my ($sid, $type) = ($pair->{ids}->[$_], $_ ? 'dir' : 'swift');
        ($type => api_create($type, $sid, '/dev/shm', $pair->{opts}))
    } (0, 1);
    same($outcome{swift}, $outcome{dir}, "$pair->{name}: create returns the same");
    is($outcome{swift}->{error}, '', "$pair->{name}: the swift storage was created");
    push @pairs, $pair;
    $by_id{$_} = $pair for $pair->{ids}->@*;
}

$config = PVE::Storage::config();
for my $pair (@pairs) {
    my ($swift, $dir) = map { $config->{ids}->{$_} } $pair->{ids}->@*;
    is($swift->{type}, 'swift', "$pair->{name}: the swift entry has type swift");
    is($dir->{type}, 'dir', "$pair->{name}: the dir entry has type dir");
    is_deeply(without_type($swift), without_type($dir), "$pair->{name}: decoded config entries are equal (minus type)");
    is(
        section_text($pair->{ids}->[0], 'swift'),
        section_text($pair->{ids}->[1], 'dir'),
        "$pair->{name}: storage.cfg sections are equal (header substituted)",
    );
}

# Creations that fail: the same message and warnings, nothing written to storage.cfg,
# the same tree left behind.
my $missing = "$base/missing";
my @failing = (
    ['is_mountpoint yes on a plain directory', 'plain', { content => 'iso', is_mountpoint => 'yes' }],
    ['is_mountpoint naming an unmounted path', 'plain', { content => 'iso', is_mountpoint => "$base/mnt" }],
    ['is_mountpoint on a missing path', 'nomp', { content => 'iso', is_mountpoint => "$base/nomp" }],
    ['create-base-path 0 on a missing directory', 'missing', { content => 'iso', 'create-base-path' => 0 }],
    ['mkdir 0 on a missing directory', 'missing', { content => 'iso', mkdir => 0 }],
    ['two content types in one directory', 'clash',
        { content => 'iso,vztmpl', 'content-dirs' => 'iso=media,vztmpl=media' }],
    ['content none', 'none', { content => 'none' }],
    ['illegal path (space)', '/my disk', { content => 'iso' }],
    ['illegal path (non-ASCII)', "/caf\xc3\xa9", { content => 'iso' }],
    ['illegal path (plus)', '/a+b', { content => 'iso' }],
    ['path refused by the schema (relative)', '=relative', { content => 'iso' }],
    ['illegal path (semicolon; the schema only checks the start)', '/x;y', { content => 'iso' }],
    ['unknown content type', 'plain', { content => 'iso,bogus' }],
    ['bad format', 'plain', { format => 'vhdx' }],
    ['content-dirs with ..', 'plain', { 'content-dirs' => 'iso=../x' }],
    ['content-dirs for an unknown type', 'plain', { 'content-dirs' => 'bogus=x' }],
);
mkdir("$base/plain") or die "mkdir: $!\n";
for my $case (@failing) {
    my ($name, $rel, $opts) = @$case;
    my $path = $rel =~ s/^=// ? $rel : $rel =~ m{^/} ? "$base$rel" : "$base/$rel";
    my %outcome;
    my %tree;
    for my $i (0, 1) {
        my ($sid, $type) = ($i ? 'dirbad' : 'swiftbad', $i ? 'dir' : 'swift');
        remove_tree($path) if $rel ne 'plain' && index($path, "$base/") == 0;
        $outcome{$type} = api_create($type, $sid, $path, $opts);
        $outcome{$type}->{written} = exists(PVE::Storage::config()->{ids}->{$sid}) ? 1 : 0;
        $tree{$type} = tree($path);
        caught(sub { PVE::API2::Storage::Config->delete({ storage => $sid }) }) if $outcome{$type}->{written};
    }
    same($outcome{swift}, $outcome{dir}, "create fails alike: $name");
    is_deeply($tree{swift}, $tree{dir}, "... and leaves the same tree: $name");
    note("  dir: " . describe($outcome{dir}));
}
ok(!-e $missing, 'create-base-path 0: the missing directory was not created');

# ---------------------------------------------------------------------------------------
# check_config on create (path canonicalisation, illegal paths) and update.

my @paths = (
    '/mnt//fast/./data/', '/mnt/fast', '/', '//', '/.', '/./', '/..', '/mnt/..', '/mnt/../x',
    '/mnt/a@b', '/mnt/a.b-c_d', '/mnt/...', '/mnt/a b', '/mnt/a+b', '/mnt/x;y', 'relative', '',
    "/mnt/x\n", "/mnt/\xc3\xa9", "/mnt/\x{e9}", "/mnt/\xff", "/mnt/\x{e9}\x{263a}", "/mnt/x\x{0}y", '/mnt/*', '/mnt/$HOME',
);
for my $path (@paths) {
    for my $skip (1, 0) {
        my %r = map {
            my $plugin = PVE::Storage::Plugin->lookup($_);
            ($_ => caught(sub { without_type($plugin->check_config('store', { type => $_, path => taint($path) }, 1, $skip)) }))
        } qw(swift dir);
        if (refused_by_swift_only($path)) {
            is_deeply($r{swift}->{error}, "illegal path for directory storage: " . escaped($path) . "\n",
                "check_config create, skip schema $skip: path " . printable($path) . ' (deliberate: refused, bytes escaped)');
            like($r{dir}->{error}, qr/^illegal path for directory storage: /, '... dir refuses it too');
            next;
        }
        same($r{swift}, $r{dir}, "check_config create, skip schema $skip: path " . printable($path));
    }
}

my @creates = (
    { content => 'images,iso', 'content-dirs' => 'iso=a/b' },
    { content => 'images,bogus' },
    { content => 'none,iso' },
    { content => 'none' },
    { content => '' },
    { 'prune-backups' => 'keep-all=1,keep-last=1' },
    { 'prune-backups' => 'keep-last=0' },
    { bwlimit => 'foo=1' },
    { 'max-protected-backups' => -2 },
    { is_mountpoint => "a\nb" },
    { is_mountpoint => 'maybe' },
    { format => 'qcow3' },
    { nodes => 'a,-b' },
    { 'snapshot-as-volume-chain' => 'yes' },
    { shared => 1, disable => 1 },
    { bogus => 1 },
    { port => 1 },
    { path => undef },
);
for my $extra (@creates) {
    my $label = printable(join(',', map { "$_=" . ($extra->{$_} // 'undef') } sort keys %$extra));
    for my $skip (1, 0) {
        my %r = map {
            my $plugin = PVE::Storage::Plugin->lookup($_);
            ($_ => caught(sub { without_type($plugin->check_config('store', { type => $_, path => '/mnt/s', %$extra }, 1, $skip)) }))
        } qw(swift dir);
        same($r{swift}, $r{dir}, "check_config create, skip schema $skip: $label");
    }
}

my @updates = (
    { content => 'backup', 'create-subdirs' => 0 },
    { path => '/mnt/other' },
    { 'snapshot-as-volume-chain' => 1 },
    { content => 'iso,foo' },
    { content => 'none,iso' },
    { 'content-dirs' => 'backup=b' },
    { is_mountpoint => 'yes' },
    { disable => 1 },
    { type => '<own>' },
    { type => '<other>' },
    {},
);
for my $update (@updates) {
    my $label = printable(join(',', map { "$_=$update->{$_}" } sort keys %$update)) || 'nothing';
    my %r = map {
        my $type = $_;
        my $other = $type eq 'dir' ? 'swift' : 'dir';
        my %values = map { ($_ => $update->{$_} =~ s/<own>/$type/r =~ s/<other>/$other/r) } keys %$update;
        my $plugin = PVE::Storage::Plugin->lookup($type);
        ($type => caught(sub { without_type($plugin->check_config('store', \%values, 0, 1)) }))
    } qw(swift dir);
    same($r{swift}, $r{dir}, "check_config update: $label");
}

# The update API (`pvesm set`), on a pair created like the first one.
for my $i (0, 1) {
    my ($sid, $type) = ($i ? 'diru' : 'swiftu', $i ? 'dir' : 'swift');
    my $created = api_create($type, $sid, "$base/upd", $pairs[0]->{opts});
    is($created->{error}, '', "$sid created for the update tests");
}
my @api_updates = (
    { content => 'images,iso,backup', 'prune-backups' => 'keep-all=1', delete => 'bwlimit,preallocation' },
    { 'content-dirs' => 'backup=saves', 'create-subdirs' => 0 },
    { path => '/mnt/elsewhere' },
    { delete => 'path' },
    { delete => 'snapshot-as-volume-chain' },
    { delete => 'bogus' },
    { delete => 'content', content => 'iso' },
    { content => 'iso,nope' },
    { nodes => NODE . ',other', delete => 'max-protected-backups' },
);
for my $update (@api_updates) {
    my $label = join(',', map { "$_=$update->{$_}" } sort keys %$update);
    my %r = map {
        my ($sid, $type) = ($_ ? 'diru' : 'swiftu', $_ ? 'dir' : 'swift');
        my $outcome = api_update($type, $sid, $update);
        ($type => { outcome => $outcome, entry => without_type(PVE::Storage::config()->{ids}->{$sid}) })
    } (0, 1);
    same($r{swift}->{outcome}, $r{dir}->{outcome}, "update API: $label");
    is_deeply($r{swift}->{entry}, $r{dir}->{entry}, "update API: $label: decoded config entries are equal (minus type)");
    is(section_text('swiftu', 'swift'), section_text('diru', 'dir'), "update API: $label: storage.cfg sections are equal");
}
caught(sub { PVE::API2::Storage::Config->delete({ storage => $_ }) }) for qw(swiftu diru);

# ---------------------------------------------------------------------------------------
# Activation through the storage layer, on a fresh directory each time.

$config = PVE::Storage::config();
for my $pair (@pairs) {
    my $path = pair_path($pair);
    my (%result, %tree);
    for my $i (0, 1) {
        my $sid = $pair->{ids}->[$i];
        my $type = $i ? 'dir' : 'swift';
        fresh_dir($pair);
        my $cache = {};
        my $outcome = caught(sub { PVE::Storage::activate_storage($config, $sid, $cache) });
        my $again = caught(sub { PVE::Storage::activate_storage($config, $sid, {}) });
        $cache->{uevent_seqnum} = defined($cache->{uevent_seqnum}) ? 'set' : 'unset';
        $result{$type} = normalise({ first => $outcome, cache => $cache, again => $again }, $sid);
        $tree{$type} = tree($path);
    }
    is_deeply($result{swift}, $result{dir}, "$pair->{name}: activate_storage returns, caches and reports the same");
    is($result{swift}->{first}->{error}, '', "$pair->{name}: the swift storage activates");
    is_deeply($tree{swift}, $tree{dir}, "$pair->{name}: activation creates the same directory tree");
}

# The plugins' own activate_storage with a shared cache that already holds mount data.
for my $pair (@pairs) {
    my %r = map {
        my ($sid, $type) = ($pair->{ids}->[$_], $_ ? 'dir' : 'swift');
        my $cache = { mountdata => PVE::ProcFSTools::parse_proc_mounts(), other => 1 };
        my $plugin = PVE::Storage::Plugin->lookup($type);
        my $outcome = caught(sub { $plugin->activate_storage($sid, $config->{ids}->{$sid}, $cache) });
        delete $cache->{mountdata};
        ($type => normalise({ %$outcome, cache => $cache }, $sid))
    } (0, 1);
    ok(!grep({ $_ } $r{swift}->{result}->@*) && !grep({ $_ } $r{dir}->{result}->@*),
        "$pair->{name}: plugin activate_storage returns nothing true, like dir (PVE ignores the value)");
    delete $r{$_}->{result} for keys %r;
    same($r{swift}, $r{dir}, "$pair->{name}: plugin activate_storage with a shared cache: error, cache");
}

# Failing activation of configured storages: is_mountpoint not mounted, missing path
# with create-base-path 0, disabled, other node. Created disabled (no activation),
# then enabled through the update API.
my @broken = (
    ['is_mountpoint yes, not mounted', 'nm', { content => 'iso,backup', is_mountpoint => 'yes' }],
    ['is_mountpoint path, not mounted', 'nmp', { content => 'iso', is_mountpoint => "$base/nmp/mnt" }],
    ['create-base-path 0, path missing', 'gone', { content => 'iso', 'create-base-path' => 0 }],
    ['mkdir 0, path missing', 'gone', { content => 'iso', mkdir => 0 }],
    ['disabled', 'off', { content => 'iso' }, 'keep disabled'],
    ['other node', 'elsewhere', { content => 'iso', nodes => 'othernode' }],
);
my $n = 0;
for my $case (@broken) {
    my ($name, $rel, $opts, $keep_disabled) = @$case;
    $n++;
    my $path = "$base/$rel";
    mkdir($path) if $rel ne 'gone' && !-d $path;
    my @ids = ("swiftx$n", "dirx$n");
    my %r;
    for my $i (0, 1) {
        my ($sid, $type) = ($ids[$i], $i ? 'dir' : 'swift');
        my $created = api_create($type, $sid, $path, { %$opts, disable => 1 });
        my $enabled = $keep_disabled ? caught(sub { 'kept disabled' })
            : api_update($type, $sid, { delete => 'disable' });
        $r{$type} = { created => $created, enabled => $enabled };
    }
    my $cfg = PVE::Storage::config();
    for my $i (0, 1) {
        my ($sid, $type) = ($ids[$i], $i ? 'dir' : 'swift');
        my $activate = caught(sub { PVE::Storage::activate_storage($cfg, $sid, {}) });
        my $info = caught(sub { PVE::Storage::storage_info($cfg, undef, 1)->{$sid} });
        is($info->{result}->[0]->{type}, $type, "storage_info reports $sid as type $type");
        delete $info->{result}->[0]->{type};
        $info->{result}->[0]->{content} = join(',', sort split(/,/, $info->{result}->[0]->{content}));
        # storage_info warns about the activation problem of every storage it looks at.
        $info->{warnings} = [grep { /\b\Q$sid\E\b/ } $info->{warnings}->@*];
        $r{$type} = normalise({ %{ $r{$type} }, activate => $activate, info => $info, tree => tree($path) }, $sid);
    }
    same($r{swift}->{$_}, $r{dir}->{$_}, "failing activation, $name: $_") for qw(created enabled activate);
    isnt($r{dir}->{activate}->{error}, '', "failing activation, $name: dir fails: " . printable($r{dir}->{activate}->{error}));
    same($r{swift}->{info}, $r{dir}->{info}, "failing activation, $name: storage_info entry and warnings");
    is_deeply($r{swift}->{tree}, $r{dir}->{tree}, "failing activation, $name: directory tree");
    compare_status("failing activation, $name", $cfg, @ids, sub { {} });
    compare_status("failing activation, $name, cached mount data", $cfg, @ids,
        sub { { mountdata => PVE::ProcFSTools::parse_proc_mounts() } });
    caught(sub { PVE::API2::Storage::Config->delete({ storage => $_ }) }) for @ids;
}

# ---------------------------------------------------------------------------------------
# Status.

$config = PVE::Storage::config();
for my $pair (@pairs) {
    compare_status($pair->{name}, $config, $pair->{ids}->@*, sub { {} });
    compare_status("$pair->{name}, cached mount data", $config, $pair->{ids}->@*,
        sub { { mountdata => PVE::ProcFSTools::parse_proc_mounts() } });
}

{
    my ($w1, $i1) = warnings_of { PVE::Storage::storage_info($config, undef, 1) };
    my ($ws, $is) = warnings_of { PVE::Storage::storage_info($config, undef, 1) };
    my ($w2, $i2) = warnings_of { PVE::Storage::storage_info($config, undef, 1) };
    is_deeply($ws, [], 'storage_info warns about nothing');
    for my $pair (@pairs) {
        my ($sid_s, $sid_d) = $pair->{ids}->@*;
        my ($s, $d) = map { { %$_ } } ($is->{$sid_s}, $i1->{$sid_d});
        is($s->{type}, 'swift', "$pair->{name}: storage_info type");
        ok(between($s->{avail}, $i1->{$sid_d}->{avail}, $i2->{$sid_d}->{avail}), "$pair->{name}: storage_info avail within dir's");
        ok(between($s->{used}, $i1->{$sid_d}->{used}, $i2->{$sid_d}->{used}), "$pair->{name}: storage_info used within dir's");
        for my $entry ($s, $d) {
            delete @$entry{qw(type avail used)};
            $entry->{content} = join(',', sort split(/,/, $entry->{content}));
        }
        is_deeply($s, $d, "$pair->{name}: storage_info entries are equal (total, active, enabled, shared, content, formats)");
    }
    my $content = caught(sub {
        my $info = PVE::Storage::storage_info($config, 'iso');
        return [sort map { $info->{$_}->{type} . ($by_id{$_} ? ":$by_id{$_}->{path}" : '') } keys %$info];
    });
    my @iso_pairs = grep { ($config->{ids}->{$_->{ids}->[0]}->{content} // {})->{iso} } @pairs;
    is_deeply(
        $content->{result}->[0],
        [sort map { ("dir:$_->{path}", "swift:$_->{path}") } @iso_pairs],
        'storage_info for content iso selects the same storages of both types',
    );
}

# ---------------------------------------------------------------------------------------
# parse_volname: the shared vectors and edge cases, through the storage layer.

my @vectors = vectors('parse_volname');
ok(@vectors >= 20, 'shared parse_volname vectors found');
# Harness check: PVE's dir, run here, gives what the shared vectors say.
for my $vector (@vectors) {
    my $got = caught(sub { $DIR->parse_volname($vector->{input}->{volname}) });
    my $expect = $vector->{expect};
    is_deeply(
        exists($expect->{die}) ? $got->{error} : $got->{result},
        exists($expect->{die}) ? $expect->{die} : $expect->{ok},
        "harness check: dir gives $vector->{id}",
    );
}
my @volnames = map { $_->{input}->{volname} } @vectors;
push @volnames, (
    '100/vm-100-disk-0.raw', '100/vm-100-disk-0.qcow2', '100/vm-100-disk-0.vmdk',
    '100/subvol-100-disk-0.subvol', '100/vm-100-disk-0.subvol', '100/base-100-disk-0.subvol',
    '100/vm-100-disk-0', '100/vm-100-disk-0.qed', '100/vm-100-disk-0.RAW', '100/my disk.raw',
    '100/custom-name.qcow2', '100/base-custom.qcow2', '100/vm-200-disk-0.raw',
    '100/snap-s1-vm-100-disk-0.qcow2', '100/snap-x.raw', '100/snap-.qcow2', '0100/vm-0100-disk-0.raw',
    '100/sub/vm-100-disk-0.raw', '100/../vm-100-disk-0.raw', '100/..raw', '100/.raw', '100/.qcow2',
    '100/vm-100-disk-0.raw/', '100/', '100', '/100/vm-100-disk-0.raw', '100//vm-100-disk-0.raw',
    '1/base-1-disk-0.raw/2/vm-2-disk-0.raw', '100/base-100-disk-0.raw/100/base-100-disk-1.raw',
    '1234/base-1234-disk-0.qcow2/1234/snap-a-vm-1234-disk-0.qcow2',
    '1/vm-1-disk-0.raw/2/vm-2-disk-0.raw', '1/x/2/vm-2-disk-0.raw', '1/base-1-disk-0.raw/2/x',
    '1/base-1-disk-0.raw/2/sub/vm-2-disk-0.raw', 'x/base-1-disk-0.raw/2/vm-2-disk-0.raw',
    '99999999999999999999/vm-99999999999999999999-disk-0.raw', "100/vm-100-disk-0.raw\n",
    "100/vm-100-disk-0.raw\t", "100/vm-100-disk-\x{0}.raw",
    'iso/x.iso', 'iso/x.ISO', 'iso/x.Img', 'iso/x.img', 'iso/sub/x.iso', 'iso/.iso', 'iso/..iso',
    'iso/ space .iso', "iso/x.iso\n", 'iso/x.iso.gz', 'iso/', 'iso', 'iso//x.iso', 'iso/../x.iso',
    'vztmpl/a.tar', 'vztmpl/a.tar.xz', 'vztmpl/a.TAR.ZST', 'vztmpl/a.tar.lzo', 'vztmpl/a.tar.bz2',
    'vztmpl/a.tar.gz.tar', 'vztmpl/a.tgz', 'vztmpl/a.tar.', 'vztmpl/.tar', 'vztmpl/sub/a.tar',
    'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst', 'backup/foo.tar', 'backup/vzdump-qemu-100.vma',
    'backup/vzdump-qemu-100-x.vma.bz2', 'backup/x.TGZ', 'backup/x.tar.xz', 'backup/vzdump-lxc-7-a.tar.gz',
    'backup/vzdump-openvz-007-a.tgz', 'backup/vzdump-qemu-1-a.vma.lzo', 'backup/vzdump-qemu-1-.vma',
    'backup/vzdump-qemu-abc-a.vma', 'backup/sub/x.tar', 'backup/x.vma.gz.zst', 'backup/.tgz',
    'snippets/a b.yaml', 'snippets/.hidden', 'snippets/sub/x', 'snippets/', 'snippets/..',
    'snippets/x;rm -rf', "snippets/\xc3\xa9.yaml", "snippets/\x{263a}.yaml", "snippets/\xff.yaml",
    "snippets/x\n", 'snippets/x\\y',
    'import/x.ova', 'import/x.OVA', 'import/a b.ova/c d.vmdk', 'import/x.ova/y.qcow2', 'import/x.ova/sub/y.vmdk',
    "import/\xc3\xbc.ovf", 'import/x.vmdk', 'import/x.raw', 'import/x.qcow2', 'import/x.img', 'import/x.ova/y.img',
    'import/.ovf', 'import/x.ova/.raw', 'import/x.ovf/y.vmdk', 'import/x.ova/y.ova', 'import/x;y.ovf',
    'images/100/vm-100-disk-0.raw', 'rootdir/100/subvol-100-disk-0.subvol', 'private/100', 'dump/x.tar',
    'template/iso/x.iso', 'none/x', 'x', ':', ' ', "iso/caf\x{e9}.iso",
);
# The same Latin-1 name, held in Perl's upgraded (UTF-8) representation.
push @volnames, do { my $name = "iso/caf\x{e9}.iso"; utf8::upgrade($name); $name };

$config = PVE::Storage::config();
for my $volname (@volnames) {
    my %r = map {
        my $sid = $_;
        ($sid => normalise(caught(sub { PVE::Storage::parse_volname($config, "$sid:$volname") }), $sid))
    } qw(swift1 dir1);
    if (refused_by_swift_only($volname)) {
        my $message = $volname =~ /\0/
            ? "unable to parse directory volume name '" . escaped($volname) . "'\n"
            : "invalid volname '" . escaped($volname) . "' - not valid UTF-8\n";
        is($r{swift1}->{error}, $message, 'parse_volname ' . printable($volname) . ' (deliberate: refused)');
        note('  dir: ' . describe($r{dir1}));
        next;
    }
    same($r{swift1}, $r{dir1}, 'parse_volname ' . printable($volname) . (utf8::is_utf8($volname) ? ' (Perl character string)' : ''));
}
# What the storage layer cannot pass on: an empty or undefined volname.
for my $volname ('', undef) {
    my %r = map { ($_ => caught(sub { PVE::Storage::Plugin->lookup($_)->parse_volname($volname) })) } qw(swift dir);
    same($r{swift}, $r{dir}, 'plugin parse_volname ' . printable($volname));
}
{
    my %r = map {
        ($_ => caught(sub { PVE::Storage::Plugin->lookup($_)->parse_volname(taint('100/base-100-disk-0.raw')) }))
    } qw(swift dir);
    same($r{swift}, $r{dir}, 'plugin parse_volname, tainted input');
}

# ---------------------------------------------------------------------------------------
# path, for every content type, in list and scalar context, with snapshots.

my @path_volnames = (
    '100/vm-100-disk-0.raw', '100/vm-100-disk-0.qcow2', '100/vm-100-disk-0.vmdk', '100/subvol-100-disk-0.subvol',
    '100/base-100-disk-0.qcow2', '100/base-100-disk-0.raw', '100/custom.qcow2',
    '9/base-9-disk-0.qcow2/100/vm-100-disk-0.qcow2', '9/base-9-disk-0.raw/100/vm-100-disk-1.raw',
    'iso/debian.iso', 'iso/x.IMG', 'vztmpl/a.tar.zst', 'backup/vzdump-lxc-101-2024_01_01-00_00_00.tar.zst',
    'backup/vzdump-qemu-102-2024_01_01-00_00_00.vma.gz', 'backup/other.tgz', 'snippets/hook.pl',
    'import/x.ova', 'import/x.ovf', 'import/x.ova/disk.vmdk', 'import/x.qcow2', 'import/x.raw',
    '100/snap-s1-vm-100-disk-0.qcow2', 'bogus/x', '100/vm-100-disk-0',
);
my @snapnames = (undef, 'snap1', '', 'current', '0');
for my $pair (@pairs) {
    my ($sid_s, $sid_d) = $pair->{ids}->@*;
    my $resolved = 0;
    for my $volname (@path_volnames) {
        for my $snap (@snapnames) {
            my $label = "$pair->{name}: path $volname, snapshot " . printable($snap);
            my %list = map {
                my $sid = $_;
                ($sid => normalise(caught(sub { [PVE::Storage::path($config, "$sid:$volname", $snap)] }), $sid))
            } ($sid_s, $sid_d);
            same($list{$sid_s}, $list{$sid_d}, "$label (list)");
            $resolved++ if $list{$sid_d}->{error} eq '';
            my %scalar = map {
                my $sid = $_;
                ($sid => normalise(caught(sub { scalar(PVE::Storage::path($config, "$sid:$volname", $snap)) }), $sid))
            } ($sid_s, $sid_d);
            same($scalar{$sid_s}, $scalar{$sid_d}, "$label (scalar)");
            my %plugin_list = map {
                my $sid = $_;
                my $scfg = $config->{ids}->{$sid};
                my $plugin = PVE::Storage::Plugin->lookup($scfg->{type});
                ($sid => normalise(caught(sub { [$plugin->path($scfg, $volname, $sid, $snap)] }), $sid))
            } ($sid_s, $sid_d);
            same($plugin_list{$sid_s}, $plugin_list{$sid_d}, "$label (plugin path, list)");
        }
    }
    ok($resolved >= 30, "$pair->{name}: $resolved of the compared volids resolve to a path");
}

# ---------------------------------------------------------------------------------------
# get_subdir, the storage layer's directory helpers, get_formats.

my @vtypes = (qw(images rootdir iso vztmpl backup snippets import none bogus), '', undef);
for my $pair (@pairs) {
    my ($sid_s, $sid_d) = $pair->{ids}->@*;
    for my $vtype (@vtypes) {
        my %r = map {
            my $scfg = $config->{ids}->{$_};
            ($_ => caught(sub { PVE::Storage::Plugin->lookup($scfg->{type})->get_subdir($scfg, $vtype) }))
        } ($sid_s, $sid_d);
        same($r{$sid_s}, $r{$sid_d}, "$pair->{name}: get_subdir " . printable($vtype));
    }
    for my $helper (qw(get_image_dir get_private_dir get_iso_dir get_vztmpl_dir get_backup_dir get_import_dir)) {
        for my $vmid (undef, 100) {
            my %r = map {
                my $sid = $_;
                no strict 'refs';
                ($sid => caught(sub { &{"PVE::Storage::$helper"}($config, $sid, $vmid) }))
            } ($sid_s, $sid_d);
            same($r{$sid_s}, $r{$sid_d}, "$pair->{name}: $helper " . printable($vmid));
        }
    }
    if (!$DIR->can('get_formats')) {
        # PVE 8: no get_formats and no resolve_format_hint; the formats are those of
        # PVE::Storage::Plugin::default_format, from the plugindata (compared above).
        my %formats = map {
            my $sid = $_;
            my $scfg = $config->{ids}->{$sid};
            ($sid => caught(sub {
                ([PVE::Storage::Plugin::default_format($scfg)], PVE::Storage::storage_default_format($config, $sid))
            }))
        } ($sid_s, $sid_d);
        same($formats{$sid_s}, $formats{$sid_d}, "$pair->{name}: default_format, storage_default_format");
        formats_as_default_format($config->{ids}->{$sid_s}, $config->{ids}->{$sid_d}, $pair->{name});
        next;
    }
    my %formats = map {
        my $sid = $_;
        my $scfg = $config->{ids}->{$sid};
        ($sid => caught(sub {
            my $plugin = PVE::Storage::Plugin->lookup($scfg->{type});
            my $first = $plugin->get_formats($scfg, $sid);
            $first->{valid}->{extra} = 1;
            return ($plugin->get_formats($scfg, $sid), PVE::Storage::storage_default_format($config, $sid),
                map { PVE::Storage::resolve_format_hint($config, $sid, $_) } (undef, 'qcow2', 'vmdk', 'vhdx'));
        }))
    } ($sid_s, $sid_d);
    same($formats{$sid_s}, $formats{$sid_d}, "$pair->{name}: get_formats, storage_default_format, resolve_format_hint");
}
for my $scfg ({}, { path => '/p' }, { format => 'vmdk' }, { path => '/p', 'content-dirs' => { iso => 'i' } }) {
    my $label = printable(join(',', map { "$_=$scfg->{$_}" } sort keys %$scfg)) || 'empty';
    for my $vtype (qw(iso images none)) {
        my %r = map {
            my $type = $_;
            ($type => caught(sub { PVE::Storage::Plugin->lookup($type)->get_subdir({ %$scfg, type => $type }, $vtype) }))
        } qw(swift dir);
        same($r{swift}, $r{dir}, "get_subdir on scfg {$label}, $vtype");
    }
    if (!$DIR->can('get_formats')) {
        formats_as_default_format({ %$scfg, type => 'swift' }, { %$scfg, type => 'dir' }, "scfg {$label}");
        next;
    }
    my %r = map {
        my $type = $_;
        ($type => caught(sub { PVE::Storage::Plugin->lookup($type)->get_formats({ %$scfg, type => $type }, 's') }))
    } qw(swift dir);
    same($r{swift}, $r{dir}, "get_formats on scfg {$label}");
}

# ---------------------------------------------------------------------------------------
# Deleting the storages through the API leaves the data alone, as for dir.

for my $pair (@pairs) {
    my ($sid_s, $sid_d) = $pair->{ids}->@*;
    my $path = $config->{ids}->{$sid_d}->{path};
    my $before = tree($path);
    my %r = map {
        my $sid = $_;
        ($sid => normalise(caught(sub { PVE::API2::Storage::Config->delete({ storage => $sid }) }), $sid))
    } ($sid_s, $sid_d);
    same($r{$sid_s}, $r{$sid_d}, "$pair->{name}: delete API returns the same");
    is_deeply(tree($path), $before, "$pair->{name}: deleting leaves the directory alone");
}
is_deeply([sort keys PVE::Storage::config()->{ids}->%*], ['local'], 'only local is left in storage.cfg');

done_testing();

# ---------------------------------------------------------------------------------------
# Helpers.

sub pair_path {
    my ($pair) = @_;
    return $pair->{path} =~ m{^/} ? $pair->{path} : "$base/$pair->{path}";
}

# Removes a pair's directory (or, if it must exist beforehand, empties it); a system
# directory (/dev/shm) is left alone.
sub fresh_dir {
    my ($pair) = @_;
    return if $pair->{path} =~ m{^/};
    my $path = pair_path($pair);
    remove_tree($path);
    mkdir($path) or die "mkdir $path: $!\n" if $pair->{existing};
}

# Deliberate on PVE 8, whose DirPlugin has no get_formats (PVE 8 calls none: its storage
# layer asks PVE::Storage::Plugin::default_format): swift's get_formats, which it has on
# every release, gives what PVE 8's default_format gives for dir's configuration, as
# PVE 9's dir does, and a copy the caller may change.
sub formats_as_default_format {
    my ($swift_scfg, $dir_scfg, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($default, $valid) = PVE::Storage::Plugin::default_format($dir_scfg);
    my $got = caught(sub {
        my $first = PLUGIN->get_formats($swift_scfg, 's');
        $first->{valid}->{extra} = 1;
        return PLUGIN->get_formats($swift_scfg, 's');
    });
    ok(!$DIR->can('get_formats'), "$name: PVE " . host_release() . "'s dir has no get_formats");
    is_deeply($got, { result => [{ default => $default, valid => { map { ($_ => 1) } @$valid } }], error => '', warnings => [] },
        "$name: deliberate: swift's get_formats gives dir's default_format");
}

# The plugins' status() of two storages: dir's is measured before and after swift's.
# The number of values, total, active, errors and warnings must be equal; avail and
# used must lie between dir's two measurements.
sub compare_status {
    my ($name, $cfg, $sid_s, $sid_d, $make_cache) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $status = sub {
        my ($sid) = @_;
        my $scfg = $cfg->{ids}->{$sid};
        my $plugin = PVE::Storage::Plugin->lookup($scfg->{type});
        return normalise(caught(sub { $plugin->status($sid, $scfg, $make_cache->()) }), $sid);
    };
    my $d1 = $status->($sid_d);
    my $s = $status->($sid_s);
    my $d2 = $status->($sid_d);
    same({ %$s, result => undef }, { %$d1, result => undef }, "$name: status error");
    my @s = $s->{result}->@*;
    my @d1 = $d1->{result}->@*;
    my @d2 = $d2->{result}->@*;
    is_deeply(
        [map { !defined($_) ? undef : /^\d+$/ ? 'integer' : $_ } @s],
        [map { !defined($_) ? undef : /^\d+$/ ? 'integer' : $_ } @d1],
        "$name: status returns the same list shape (" . scalar(@s) . ' vs ' . scalar(@d1) . ' values)',
    );
    is($s[0], $d1[0], "$name: status total");
    is($s[3], $d1[3], "$name: status active");
    for my $i (1, 2) {
        my $what = $i == 1 ? 'avail' : 'used';
        if (!defined($d1[$i]) && !defined($d2[$i])) {
            is($s[$i], undef, "$name: status $what");
        } else {
            ok(between($s[$i], $d1[$i], $d2[$i]),
                "$name: status $what " . ($s[$i] // 'undef') . " within dir's " . ($d1[$i] // 'undef') . ' .. ' . ($d2[$i] // 'undef'));
        }
    }
}

# $value lies between two measurements of dir (either order), give or take 4 MiB of
# writes by other processes in between.
sub between {
    my ($value, $a, $b) = @_;
    return 0 if grep { !defined($_) } ($value, $a, $b);
    my ($lo, $hi) = $a < $b ? ($a, $b) : ($b, $a);
    return $value >= $lo - 4 * MiB && $value <= $hi + 4 * MiB;
}
