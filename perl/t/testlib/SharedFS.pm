package SharedFS;

# Two PVE nodes on one shared storage, for the perl/xt/shared/*.t tests: a real
# distributed file system on loopback, mounted twice by two clients of its own, node A
# on one mount and node B on the other, each with its own storage configuration of the
# same storage id ('shared 1', path A vs path B). The file system is a rig's:
#
#   SPVE_SHARED_RIG=ceph     CephFS (tools/ceph-rig), two ceph-fuse mounts (the default)
#   SPVE_SHARED_RIG=moosefs  MooseFS (tools/moosefs-rig), two mfsmount mounts
#
# shared_storage() returns the two configurations; it
# - skips the test when not root (FUSE mounts and the rigs need it);
# - uses the mounts named by SPVE_SHARED_MOUNTS="<mount A>:<mount B>" when set (a rig
#   brought up once for several tests: `tools/ceph-rig up DIR`); they must be two
#   mounts of the rig's file system type, or the test fails (SPVE_CEPH_MOUNTS, the
#   earlier name, means SPVE_SHARED_RIG=ceph with those mounts);
# - otherwise brings the rig up in a temporary directory and takes it down at exit: a
#   machine whose Debian archive cannot be reached (the rig's exit code 3) skips the
#   test, any other failure fails it.
# Each test works in a fresh directory of its own on the file system, removed at exit.
# shared_rig() names the rig ('ceph' or 'moosefs'), shared_fs_name() its file system
# ('CephFS', 'MooseFS'), for the expectations that differ between them.
#
# PVE's cluster lock (cfs_lock_storage on /etc/pve, one lock for the whole cluster) is
# emulated by the stand-in's cluster_lock_storage: a flock on a file in one local
# directory (PVE_STORAGE_LOCK_DIR) that both nodes' processes share.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp ();
use File::Path ();
use JSON::PP ();
use POSIX ();
use Test::More ();
use Time::HiRes ();
use SwiftPluginTest;

our @EXPORT = qw(shared_storage shared_rig shared_fs_name other_node other_boot_node boot_prefix in_child wait_for_path
    temporaries_below);

# The rigs: the script that brings one up, its file system's name, and how /proc/mounts
# shows its mounts (type, and the source's pattern).
my %RIGS = (
    ceph => { tool => 'tools/ceph-rig', name => 'CephFS', client => 'ceph-fuse', type => 'fuse.ceph-fuse', source => qr/^ceph-fuse$/ },
    moosefs => { tool => 'tools/moosefs-rig', name => 'MooseFS', client => 'mfsmount', type => 'fuse', source => qr/^mfs#/ },
);

my $owner_pid = $$;
my ($rig_dir, $rig_base, @cleanup);

sub shared_rig {
    my $rig = $ENV{SPVE_SHARED_RIG} // 'ceph';
    die "SPVE_SHARED_RIG='$rig': no such rig (" . join(', ', sort keys %RIGS) . ")\n" if !$RIGS{$rig};
    return untaint($rig);
}

sub shared_fs_name { return $RIGS{ shared_rig() }{name} }

END {
    if ($$ == $owner_pid) {
        my $status = $?;
        File::Path::remove_tree($_, { safe => 0 }) for @cleanup;
        if ($rig_dir) {
            my $tool = $RIGS{ shared_rig() }{tool};
            local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
            local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
            delete local @ENV{qw(LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS)};
            system(untaint(project_file($tool)), 'down', $rig_dir) == 0
                ? rmdir($rig_base) : Test::More::diag("$tool down $rig_dir failed");
        }
        $? = $status;
    }
}

# Mount point => [source, type], from /proc/mounts.
sub fuse_mounts {
    open(my $fh, '<', '/proc/mounts') or die "/proc/mounts: $!\n";
    my %mount;
    while (my $line = <$fh>) {
        my ($source, $point, $type) = (split(' ', $line))[0, 1, 2];
        s/\\([0-7]{3})/chr(oct($1))/ge for $source, $point;
        $mount{$point} = [$source, $type];
    }
    return \%mount;
}

my sub fail_all {
    my ($why, $detail) = @_;
    Test::More::plan(tests => 1);
    Test::More::fail($why);
    Test::More::diag($detail) if defined($detail) && length($detail);
    exit(1);
}

# The two mount points (untainted, absolute).
sub mounts {
    my $rig = $RIGS{ shared_rig() };
    Test::More::plan(skip_all => "needs root: mounts a $rig->{name} with $rig->{client} ($rig->{tool})") if $> != 0;
    my $variable = defined($ENV{SPVE_SHARED_MOUNTS}) ? 'SPVE_SHARED_MOUNTS' : 'SPVE_CEPH_MOUNTS';
    if (my $given = $ENV{$variable}) {
        my ($a, $b) = map { untaint($_) } split(/:/, $given, 2);
        my $mount = fuse_mounts();
        for my $point ($a, $b) {
            my ($source, $type) = @{ $mount->{ $point // '' } // ['', ''] };
            fail_all("$variable='$given': '" . ($point // '') . "' is not a $rig->{client} mount")
                if !defined($point) || $type ne $rig->{type} || $source !~ $rig->{source};
        }
        fail_all("$variable='$given': the two nodes need two mounts") if $a eq $b;
        return ($a, $b);
    }
    my $base = File::Temp::tempdir('spve-' . shared_rig() . '-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    my $dir = untaint("$base/rig");
    local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    my $started = Time::HiRes::time();
    pipe(my $reader, my $writer) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($reader);
        open(STDOUT, '>&', $writer) or POSIX::_exit(126);
        open(STDERR, '>&', $writer) or POSIX::_exit(126);
        # Under tools/check-asan the sanitizer runtime is preloaded: not into the rig's daemons.
        delete @ENV{qw(LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS)};
        exec(untaint(project_file($rig->{tool})), 'up', $dir) or POSIX::_exit(127);
    }
    close($writer);
    my $output = do { local $/; <$reader> } // '';
    waitpid($pid, 0);
    my $code = $? >> 8;
    my ($prefix) = $rig->{tool} =~ m{([^/]+)$};
    if ($? == 0) {
        ($rig_dir, $rig_base) = ($dir, untaint($base));
        Test::More::note(sprintf('%s rig up in %.1f s', $rig->{name}, Time::HiRes::time() - $started));
        my @points = grep { m{^/} } split(/\n/, $output);
        fail_all("$rig->{tool} printed no mount points", $output) if @points != 2;
        return map { untaint($_) } @points;
    }
    rmdir($dir);
    rmdir($base);
    if ($code == 3) {
        my ($why) = reverse grep { /^\Q$prefix\E: / } split(/\n/, $output);
        Test::More::plan(skip_all => "$rig->{tool}: " . (($why // '') =~ s/^\Q$prefix\E: //r || "the $rig->{name} packages cannot be installed"));
    }
    fail_all("$rig->{tool} up failed (exit status $code)", $output);
}

# (scfg A, scfg B): the same storage 's' on both nodes, in a fresh directory of the
# file system; PVE_STORAGE_LOCK_DIR points at one local directory for both.
sub shared_storage {
    my (%extra) = @_;
    my ($a, $b) = mounts();
    my $name = untaint(sprintf('spve-%s-%d-%04x', ($0 =~ m{([^/]+)\.t$})[0] // 'test', $$, int(rand(65536))));
    mkdir("$a/$name") or fail_all('cannot make a directory on the ' . shared_fs_name() . " mount $a: $!");
    push @cleanup, "$a/$name";
    # The two mounts are one file system: what A makes, B sees.
    fail_all("$b/$name does not exist: $a and $b are not one " . shared_fs_name()) if !-d "$b/$name";
    $ENV{PVE_STORAGE_LOCK_DIR} = storage_dir();
    my %common = (
        type => 'swift', shared => 1,
        content => { map { $_ => 1 } qw(images rootdir iso vztmpl backup snippets import) },
        %extra,
    );
    return ({ %common, path => "$a/$name" }, { %common, path => "$b/$name" });
}

# The first 8 hex digits of this kernel's boot ID (how the plugin names its temporaries).
sub boot_prefix {
    open(my $fh, '<', '/proc/sys/kernel/random/boot_id') or die "boot_id: $!\n";
    my $id = <$fh>;
    $id =~ s/-//g;
    return untaint(substr($id, 0, 8));
}

# Runs $code (Perl source, a string) as node B in namespaces of its own: with
# boot_id => ID, a mount namespace (unshare -m) whose /proc/sys/kernel/random/boot_id
# is a bind mount of a file holding ID (another boot, as another node has); with
# pid_namespace => 1, a PID namespace with its own /proc (unshare -p -f --mount-proc:
# the same kernel, as a node in a container has). The code gets @ARGV = @args, has the
# plugin loaded (PLUGIN, SwiftPluginTest) and its value (a hash, array or scalar) is
# returned, through JSON. Dies when the child fails.
sub other_node {
    my ($how, $code, @args) = @_;
    my $dir = storage_dir();
    my $boot_file = "$dir/boot_id";
    open(my $fh, '>', $boot_file) or die "$boot_file: $!\n";
    print $fh ($how->{boot_id} // ''), "\n";
    close($fh);
    my $script = "$dir/node.pl";
    open($fh, '>', $script) or die "$script: $!\n";
    print $fh <<"EOF";
use strict; use warnings;
use lib '${\ project_file('perl/t/testlib')}';
use SwiftPluginTest;
use JSON::PP ();
load_host();
\@ARGV = map { untaint(\$_) } \@ARGV;
# What the plugin prints (qemu-img's progress) must not mix with the answer.
open(my \$quiet, '>', \\my \$printed) or die;
my \$previous = select(\$quiet);
my \$result = eval { $code };
my \$error = \$@;
select(\$previous);
die \$error if \$error;
print JSON::PP->new->canonical->allow_nonref->encode(\$result);
EOF
    close($fh);
    # The child loads what this test loaded: the same stand-ins, plugin and library
    # (tools/check-asan stages another build).
    my @inc = map { '-I' . untaint($_) } grep { !ref($_) } @INC;
    local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    my @unshare = ('/usr/bin/unshare', '-m', '--propagation', 'private',
        $how->{pid_namespace} ? ('-p', '-f', '--mount-proc') : ());
    my $setup = defined($how->{boot_id}) ? 'mount --bind "$0" /proc/sys/kernel/random/boot_id && ' : '';
    my @command = (@unshare, '/bin/sh', '-c', $setup . 'exec "$@"', $boot_file, untaint($^X), '-T', @inc, $script, @args);
    open(my $out, '-|', map { untaint($_) } @command) or die "unshare: $!\n";
    my $json = do { local $/; <$out> } // '';
    close($out);
    die "node B failed: exit status $?\n" if $?;
    return JSON::PP->new->allow_nonref->decode($json);
}

# other_node on another boot.
sub other_boot_node {
    my ($boot_id, $code, @args) = @_;
    return other_node({ boot_id => $boot_id }, $code, @args);
}

# Forks $code->() in a child of its own process group (a node: killing the group
# kills the plugin call and the qemu-img it runs); the child writes what $code returns
# (JSON) to a file. Returns (pid, a sub that waits and returns [exit status, result]).
sub in_child {
    my ($code) = @_;
    my $file = storage_dir() . '/result';
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        setpgrp(0, 0);
        my $result = eval { { ok => $code->() } } // { error => $@ };
        if (open(my $fh, '>', $file)) { print $fh JSON::PP->new->canonical->allow_nonref->encode($result); close($fh) }
        POSIX::_exit(0);
    }
    my $wait = sub {
        waitpid($pid, 0);
        my $status = $?;
        my $result;
        if (open(my $fh, '<', $file)) { local $/; $result = JSON::PP->new->allow_nonref->decode(<$fh>) }
        return [$status, $result];
    };
    return ($pid, $wait);
}

# Waits (at most $seconds) until $check->() is true; returns whether it became true.
sub wait_for_path {
    my ($check, $seconds) = @_;
    my $deadline = Time::HiRes::time() + ($seconds // 30);
    until ($check->()) {
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
    return 1;
}

# The temporaries (hidden .tmp.* names) below $dir, relative.
sub temporaries_below {
    my ($dir) = @_;
    return [grep { m{(^|/)\.tmp[.-]} } @{ files_below($dir) }];
}

1;
