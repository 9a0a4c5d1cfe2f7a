#!/usr/bin/perl -T

# Contract of the stand-in PVE host under perl/t/lib (checked here, against the
# stand-in only; run: prove -T -Iperl/t/lib perl/t/00-standin.t):
#   * SectionConfig init(): a property declared twice dies
#     "duplicate property '<name>' at ... line N." and an options() entry naming
#     an undeclared property dies "undefined property '<name>' at ... line N.";
#   * check_config() messages: fixed parameter, undefined value, missing required
#     option, line feed, 'none' combined with other content, dir's path rule;
#   * a storage.cfg with 'dir:' sections round-trips through
#     PVE::Storage::config() / write_config() (parse_config / write_config) with
#     the decoded values PVE's base class produces;
#   * the plugin loader of PVE::Storage: api() range checks and warnings with the
#     upstream wording, failures only warn, a bad properties()/options() makes
#     loading PVE::Storage itself fail; the APIVER/APIAGE/generation knobs;
#   * cluster_lock_storage: runs the code with its arguments, returns its result,
#     re-raises its error, is re-entrant, times out against another process;
#   * the base class has no storage methods (no silent fallback).

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(_exit);

my $TMP;

BEGIN {
    ($TMP) = tempdir(CLEANUP => 1) =~ m/^(.*)$/s;
    # never pick up a plugin installed on this machine
    mkdir "$TMP/empty-custom" or die "mkdir: $!\n";
    $ENV{PVE_STORAGE_CUSTOM_DIR} = "$TMP/empty-custom";
    $ENV{PVE_STORAGE_LOCK_DIR} = "$TMP/locks";
    delete $ENV{$_} for qw(PVE_STANDIN_GENERATION PVE_STANDIN_APIVER PVE_STANDIN_APIAGE);
}

use PVE::Storage;

plan skip_all => 'stand-in self-test: PVE::Storage here is not the stand-in'
    if !defined(do { no warnings 'once'; $PVE::Storage::Plugin::STANDIN_GENERATION });

my ($STANDIN_LIB) = $INC{'PVE/Storage.pm'} =~ m{^(.*)/PVE/Storage\.pm$};

$ENV{PATH} = '/usr/bin:/bin';
delete @ENV{qw(IFS CDPATH ENV BASH_ENV PERL5OPT)};
my ($PERL) = $^X =~ m/^(.*)$/s;

sub write_file {
    my ($path, $text) = @_;
    open(my $fh, '>', $path) or die "open $path: $!\n";
    print $fh $text;
    close($fh) or die "close $path: $!\n";
}

sub read_file {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "open $path: $!\n";
    local $/;
    return scalar(<$fh>);
}

sub warnings_of {
    my ($code) = @_;
    my @w;
    local $SIG{__WARN__} = sub { push @w, $_[0] };
    $code->();
    return \@w;
}

my $P = 'PVE::Storage::Plugin';

subtest 'defaults' => sub {
    is(PVE::Storage::APIVER, 15, 'APIVER');
    is(PVE::Storage::APIAGE, 6, 'APIAGE');
    is_deeply($P->lookup_types(), ['dir'], 'only dir is built in');
    my $props = $P->private()->{propertyList};
    for my $p (qw(type storage nodes content disable prune-backups max-protected-backups shared
        subdir format preallocation content-dirs options port snapshot-as-volume-chain
        path mkdir create-base-path create-subdirs is_mountpoint bwlimit)
    ) {
        ok($props->{$p}, "property '$p' exists");
    }
    ok(!$props->{maxfiles}, "no 'maxfiles' on PVE 9");
    is($props->{path}->{optional}, 1, 'plugin properties are forced optional');
    is_deeply($props->{type}->{enum}, ['dir'], 'type enum');
};

subtest 'base class has no storage methods' => sub {
    for my $m (qw(status parse_volname path filesystem_path alloc_image free_image list_images
        activate_storage on_add_hook on_update_hook get_formats volume_has_feature
        check_connection get_subdir)
    ) {
        ok(!$P->can($m), "PVE::Storage::Plugin cannot $m");
    }
    ok($P->can('cluster_lock_storage'), 'cluster_lock_storage is there');
};

# register a throw-away type, run init() and restore the registry afterwards
sub init_with {
    my ($class) = @_;
    my $pdata = $P->private();
    $class->register();
    my $ok = eval { $P->init(); 1 };
    my $err = $@;
    delete $pdata->{plugins}->{ $class->type() };
    delete $pdata->{plugindata}->{ $class->type() };
    $P->init();
    return $ok ? undef : $err;
}

{

    package Test::DupProp;
    use base 'PVE::Storage::Plugin';
    sub type { 'tdup' }
    sub properties { return { path => { type => 'string' } } }

    package Test::UndefOpt;
    use base 'PVE::Storage::Plugin';
    sub type { 'tundef' }
    sub options { return { path => { fixed => 1 }, 'no-such-prop' => { optional => 1 } } }

    package Test::DirType;
    use base 'PVE::Storage::Plugin';
    sub type { 'dir' }
}

subtest 'SectionConfig init errors' => sub {
    like(
        init_with('Test::DupProp'),
        qr/^duplicate property 'path' at \S+ line \d+\.\n\z/,
        'duplicate property',
    );
    like(
        init_with('Test::UndefOpt'),
        qr/^undefined property 'no-such-prop' at \S+ line \d+\.\n\z/,
        'undefined property',
    );
    eval { Test::DirType->register() };
    like($@, qr/^duplicate plugin registration \(type = dir\) at /, 'duplicate type');
    is_deeply($P->lookup_types(), ['dir'], 'registry restored');
    is(eval { $P->lookup('dir') }, 'PVE::Storage::DirPlugin', 'lookup');
    eval { $P->lookup('nope') };
    is($@, "unknown section type 'nope'\n", 'lookup of unknown type');
};

subtest 'check_config messages' => sub {
    my $D = 'PVE::Storage::DirPlugin';
    my @cases = (
        [{ path => '/a' }, 0, "can't change value of fixed parameter 'path'\n"],
        [{ path => '/a', disable => undef }, 1, "got undefined value for option 'disable'\n"],
        [{ content => 'iso' }, 1, "missing value for required option 'path'\n"],
        [{ path => '/a', content => "iso\nimages" }, 1, "property contains a line feed\n"],
        [{ path => '/a', content => 'none,iso' }, 1,
            "unable to combine 'none' with other content types\n"],
        [{ path => '/a b' }, 1, "illegal path for directory storage: /a b\n"],
        [{ path => '/a', port => 3 }, 1, "unexpected property 'port'\n"],
        [{ path => '/a', disable => 'yes' }, 1, "type check ('boolean') failed - got 'yes'\n"],
        [{ path => '/a', content => 'foo' }, 1,
            "invalid format - invalid content type 'foo'\n\n"],
        [{ path => '/a', 'max-protected-backups' => -2 }, 1,
            "value must have a minimum value of -1\n"],
        [{ path => '/a', preallocation => 'x' }, 1,
            "value 'x' does not have a value in the enumeration 'off, metadata, falloc, full'\n"],
        [{ path => '/a', 'prune-backups' => 'keep-all=1,keep-last=2' }, 1,
            "invalid format - keep-all cannot be set together with other options.\n\n"],
        [{ path => '/a', 'content-dirs' => 'iso=a..b' }, 1,
            "invalid format - invalid override 'iso=a..b'\n\n"],
    );
    for my $c (@cases) {
        my ($config, $create, $msg) = @$c;
        eval { $D->check_config('st', $config, $create) };
        is($@, $msg, "message: " . ($msg =~ s/\n+\z//r));
    }

    my $ok = $D->check_config(
        'st',
        {
            path => '/srv//x/./y/',
            content => 'iso,backup',
            nodes => 'n1',
            'content-dirs' => 'iso=isos',
            shared => '1',
            'max-protected-backups' => '3',
        },
        1,
    );
    is_deeply(
        $ok,
        {
            type => 'dir',
            path => '/srv/x/y',
            content => { iso => 1, backup => 1 },
            nodes => { n1 => 1 },
            'content-dirs' => { iso => 'isos' },
            shared => 1,
            'max-protected-backups' => 3,
        },
        'decoded values, canonical path',
    );
    is_deeply($D->check_config('st', { content => '' }, 0)->{content}, {}, 'empty content');
    is($P->encode_value('dir', 'content', {}), 'none', 'empty content is written as none');
};

subtest 'storage.cfg round trip' => sub {
    my $cfgfile = "$TMP/storage.cfg";
    local $ENV{PVE_STORAGE_CFG} = $cfgfile;

    my $cfg = PVE::Storage::config();
    is_deeply($cfg->{ids}, {}, 'missing file: no storages (no forced local)');

    write_file($cfgfile, <<'EOF');
# comment before the first section
dir: store1
	path /srv/store1/
	content iso
	disable

dir: store2
  # comment inside a section
	path /srv/store2
	content none
	nodes node1
	prune-backups keep-last=3
	content-dirs backup=bk
	create-base-path
	snapshot-as-volume-chain 1

nfs: other
	path /mnt/x
	server 10.0.0.1

dir: bad
	path relative
EOF

    my $w = warnings_of(sub { $cfg = PVE::Storage::config() });
    like($w->[0], qr/^file \S+ line 17 \(skip section 'other'\): unsupported type 'nfs'\n\z/,
        'unknown type skipped with a warning');
    like($w->[1], qr/^file \S+ line 22 \(section 'bad'\) - unable to parse value of 'path': /,
        'invalid value warned');
    is($w->[2] =~ s/^file \S+ //r, "line 22 (skip section 'bad'): missing value for required option 'path'\n",
        'section skipped');
    is_deeply(
        $cfg->{ids}->{store1},
        { type => 'dir', path => '/srv/store1', content => { iso => 1 }, disable => 1 },
        'store1 decoded',
    );
    is_deeply(
        $cfg->{ids}->{store2},
        {
            type => 'dir',
            path => '/srv/store2',
            content => { none => 1 },
            nodes => { node1 => 1 },
            'prune-backups' => 'keep-last=3',
            'content-dirs' => { backup => 'bk' },
            'create-base-path' => 1,
            'snapshot-as-volume-chain' => 1,
        },
        'store2 decoded',
    );
    ok(exists($cfg->{ids}->{bad}) && !defined($cfg->{ids}->{bad}),
        'a section failing check_config stays as undef (upstream behaviour)');
    is_deeply($cfg->{order}, { store1 => 1, store2 => 2, bad => 3 }, 'order');

    delete $cfg->{ids}->{bad};
    $cfg->{ids}->{store3} = { type => 'dir', path => '/srv/s3', shared => 0, content => {} };
    PVE::Storage::write_config($cfg);
    is(read_file($cfgfile), <<'EOF', 'written text');
dir: store1
	disable
	path /srv/store1
	content iso

dir: store2
	path /srv/store2
	content none
	content-dirs backup=bk
	create-base-path 1
	nodes node1
	prune-backups keep-last=3
	snapshot-as-volume-chain 1

dir: store3
	path /srv/s3
	content none
	shared 0

EOF

    my $again = PVE::Storage::config();
    $cfg->{ids}->{store3}->{content} = { none => 1 }; # empty content was written as 'none'
    is_deeply($again->{ids}, $cfg->{ids}, 'parsed again: same storages');

    is(PVE::Storage::storage_config($again, 'store1')->{path}, '/srv/store1', 'storage_config');
    eval { PVE::Storage::storage_config($again, 'nope') };
    is($@, "storage 'nope' does not exist\n", 'storage_config: unknown');
    eval { PVE::Storage::storage_config($again, '') };
    is($@, "no storage ID specified\n", 'storage_config: empty');
    is_deeply([PVE::Storage::parse_volume_id('store1:iso/a.iso')], ['store1', 'iso/a.iso'],
        'parse_volume_id');
    eval { PVE::Storage::parse_volume_id('x') };
    is($@, "unable to parse volume ID 'x'\n", 'parse_volume_id: invalid');
};

# --- the loader, in child processes -------------------------------------------

my $n = 0;

sub plugin_source {
    my (%o) = @_;
    my $name = $o{name};
    my $base = $o{base} // 'PVE::Storage::Plugin';
    my $src = "package PVE::Storage::Custom::$name;\nuse strict;\nuse warnings;\nuse base '$base';\n";
    $src .= "sub api { return $o{api} }\n" if defined($o{api});
    $src .= "sub type { return '" . lc($name) . "' }\n";
    $src .= "sub plugindata { return { content => [{ images => 1 }, { images => 1 }] } }\n";
    $src .= "$o{extra}\n" if $o{extra};
    return $src . "1;\n";
}

# write the plugins into a fresh @INC dir, load PVE::Storage in a child perl;
# returns its combined output and exit code
sub load_with {
    my ($env, @plugins) = @_;
    my $inc = "$TMP/inc" . $n++;
    my $dir = "$inc/PVE/Storage/Custom";
    for my $d ($inc, "$inc/PVE", "$inc/PVE/Storage", $dir) {
        mkdir $d or die "mkdir $d: $!\n";
    }
    write_file("$dir/$_->{name}.pm", plugin_source(%$_)) for @plugins;

    local %ENV = (%ENV, PVE_STORAGE_CUSTOM_DIR => $dir, %$env);
    my $code = 'open(STDERR, ">&", \*STDOUT); $| = 1; require PVE::Storage; '
        . 'print "types: ", join(",", @{PVE::Storage::Plugin->lookup_types()}), "\n"; '
        . 'print "api: ", PVE::Storage::APIVER(), "/", PVE::Storage::APIAGE(), "\n";';
    open(my $fh, '-|', $PERL, '-T', "-I$STANDIN_LIB", "-I$inc", '-e', $code)
        or die "cannot run perl: $!\n";
    local $/;
    my $out = <$fh> // '';
    close($fh);
    return ($out, $? >> 8);
}

subtest 'loader: api() range' => sub {
    my ($out, $rc) = load_with(
        {},
        { name => 'Current', api => 15 },
        { name => 'Older', api => 9 },
        { name => 'TooOld', api => 8 },
        { name => 'TooNew', api => 16 },
        { name => 'NoApi' },
        { name => 'NotDerived', api => 15, base => 'Exporter' },
        { name => 'Broken', api => 15, extra => 'sub {' },
        { name => 'Dir', api => 15 },
    );
    is($rc, 0, 'PVE::Storage loads');
    my @lines = split(/\n/, $out);
    my %has = map { $_ => 1 } @lines;
    ok($has{$_}, $_) for (
        'Plugin "PVE::Storage::Custom::Older" is implementing an older storage API, '
            . 'an upgrade is recommended',
        'Error loading storage plugin "PVE::Storage::Custom::TooOld": '
            . 'API version too old, please update the plugin (8 < 9)',
        'Error loading storage plugin "PVE::Storage::Custom::TooNew": '
            . 'implements an API version newer than current (16 > 15)',
        'Error loading storage plugin "PVE::Storage::Custom::NoApi": '
            . 'does not provide an api() method',
        'Error loading storage plugin "PVE::Storage::Custom::NotDerived": '
            . 'not derived from PVE::Storage::Plugin',
        'types: current,dir,older',
        'api: 15/6',
    );
    like($out, qr/^Error loading storage plugin "PVE::Storage::Custom::Broken": .*syntax error/ms,
        'a plugin that does not compile is skipped');
    like($out, qr/^Error loading storage plugin "PVE::Storage::Custom::Dir": duplicate plugin registration \(type = dir\) at /m,
        'a plugin reusing a type is skipped');
    ok(!grep({ m/Current/ } @lines), 'api() == APIVER loads silently');
};

subtest 'loader: a bad property declaration breaks PVE::Storage' => sub {
    my ($out, $rc) = load_with({},
        { name => 'Dup', api => 15, extra => 'sub properties { { mkdir => { type => "boolean" } } }' });
    isnt($rc, 0, 'duplicate property: load fails');
    like($out, qr/^duplicate property 'mkdir' at \S+ line \d+\.\nCompilation failed in require/,
        'duplicate property message');

    ($out, $rc) = load_with({},
        { name => 'Undef', api => 15, extra => 'sub options { { foo => { optional => 1 } } }' });
    isnt($rc, 0, 'undefined property: load fails');
    like($out, qr/^undefined property 'foo' at \S+ line \d+\.\n/, 'undefined property message');

    ($out, $rc) = load_with({},
        { name => 'Own', api => 15,
          extra => 'sub properties { { "own-x" => { type => "integer" } } } '
            . 'sub options { { path => { fixed => 1 }, "own-x" => { optional => 1 } } }' });
    is($rc, 0, 'a new property and an existing one: load succeeds');
    like($out, qr/^types: dir,own$/m, 'registered');
};

subtest 'loader: version knobs' => sub {
    my ($out) = load_with({ PVE_STANDIN_APIVER => 13, PVE_STANDIN_APIAGE => 4 },
        { name => 'New', api => 15 }, { name => 'Mid', api => 12 });
    like($out, qr/^api: 13\/4$/m, 'APIVER/APIAGE overridden');
    like($out, qr/^Error loading storage plugin "PVE::Storage::Custom::New": implements an API version newer than current \(15 > 13\)$/m,
        'newer than the overridden APIVER');
    like($out, qr/^Plugin "PVE::Storage::Custom::Mid" is implementing an older storage API/m,
        'older than the overridden APIVER');

    ($out) = load_with({ PVE_STANDIN_GENERATION => 8 },
        { name => 'Fifteen', api => 15 }, { name => 'Nine', api => 9 },
        { name => 'Eight', api => 8 });
    like($out, qr/^api: 11\/2$/m, 'PVE 8: 11/2');
    like($out, qr/\(15 > 11\)$/m, 'PVE 8: api 15 is too new');
    like($out, qr/\(8 < 9\)$/m, 'PVE 8: api 8 is too old');
    like($out, qr/^types: dir,nine$/m, 'PVE 8: api 9 loads');

    ($out) = load_with({ PVE_STANDIN_GENERATION => 8 },
        { name => 'Chain', api => 11,
          extra => 'sub options { { path => { fixed => 1 }, "snapshot-as-volume-chain" => {} } }' });
    like($out, qr/^undefined property 'snapshot-as-volume-chain' at /m,
        'PVE 8 has no snapshot-as-volume-chain');
    ($out) = load_with({ PVE_STANDIN_GENERATION => 8 },
        { name => 'Maxf', api => 11, extra => 'sub properties { { maxfiles => { type => "integer" } } }' });
    like($out, qr/^duplicate property 'maxfiles' at /m, 'PVE 8 still has maxfiles');
    ($out) = load_with({ PVE_STANDIN_GENERATION => 'x' });
    like($out, qr/^PVE_STANDIN_GENERATION must be 8 or 9/m, 'bad generation value refused');
};

subtest 'cluster_lock_storage' => sub {
    my $res = $P->cluster_lock_storage('st1', 0, 5, sub { return "args=@_" }, 'a', 'b');
    is($res, 'args=a b', 'runs with the arguments, returns the result');
    ok(-e "$TMP/locks/pve-storage-st1", 'lock file in PVE_STORAGE_LOCK_DIR');

    $res = $P->cluster_lock_storage('st1', 0, 1,
        sub { return 'outer+' . $P->cluster_lock_storage('st1', 0, 1, sub { 'inner' }) });
    is($res, 'outer+inner', 're-entrant in one process');

    eval { $P->cluster_lock_storage('st1', 0, 1, sub { die "boom\n" }) };
    is($@, "boom\n", 'error re-raised');
    eval { $P->cluster_lock_storage('st1', 0, 1, sub { die { code => 1 } }) };
    is(ref($@), 'HASH', 'error object re-raised as is');

    $res = $P->cluster_lock_storage('st2', 1, 1, sub { 'shared' });
    is($res, 'shared', 'shared storage lock');

    pipe(my $rd, my $wr) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($rd);
        $P->cluster_lock_storage('st1', 0, 5, sub { print $wr "locked\n"; close($wr); sleep 3 });
        _exit(0);
    }
    close($wr);
    my $line = <$rd>;
    is($line, "locked\n", 'another process holds the lock');
    my $w = warnings_of(sub {
        local *STDERR;
        open(STDERR, '>', '/dev/null');
        $res = eval { $P->cluster_lock_storage('st1', 0, 1, sub { 'never' }) };
    });
    is($@, "can't lock file '$TMP/locks/pve-storage-st1' - got timeout\n", 'timeout message');
    ok(!defined($res), 'code not run');
    waitpid($pid, 0);
    is($P->cluster_lock_storage('st1', 0, 5, sub { 'free' }), 'free', 'lock free again');
};

done_testing();
