package SwiftPluginTest;

# Test support for the Perl tests of PVE::Storage::Custom::SwiftPlugin. Works with
# the stand-in PVE host (perl/t/lib) and with the real PVE modules on @INC.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp ();
use JSON::PP ();
use Cwd ();
use File::Path ();
use POSIX ();

our @EXPORT = qw(
    PLUGIN load_host storage_dir vectors dies warnings_of taint untaint project_file
    make_file make_setup with_real_metadata prune_vectors fixture_text
    qemu_img qemu_img_info files_below loop_mounted_dir checksum output_of snapshot_names
    host_is_pve8 poke run_quiet
);

use constant PLUGIN => 'PVE::Storage::Custom::SwiftPlugin';

sub untaint {
    my ($value) = @_;
    return undef if !defined($value);
    $value =~ /^(.*)$/s;
    return $1;
}

# A copy of $value carrying Perl's taint flag (pvedaemon runs with -T; arguments
# arriving from the API are tainted).
sub taint {
    my ($value) = @_;
    return $value . substr($ENV{PATH} // '', 0, 0) . substr($0, 0, 0);
}

# The project root, from this file's location (perl/t/testlib).
sub project_file {
    my ($relative) = @_;
    my $here = untaint(Cwd::abs_path(__FILE__));
    $here =~ s{/perl/t/testlib/SwiftPluginTest\.pm$}{};
    return "$here/$relative";
}

# Loads PVE::Storage, whose plugin scan finds and registers the plugin, and
# returns the warnings the load produced. With the real PVE modules, whose scan
# only looks in /usr/share/perl5/PVE/Storage/Custom, an uninstalled plugin is
# registered where the scan would have registered it: just before PVE::Storage
# runs the plugins' init() (which PVE 8 cannot run twice).
sub load_host {
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    if (!defined($ENV{PVE_STORAGE_CUSTOM_DIR})) {
        for my $dir (@INC) {
            next if ref($dir) || !-f "$dir/PVE/Storage/Custom/SwiftPlugin.pm";
            $ENV{PVE_STORAGE_CUSTOM_DIR} = untaint("$dir/PVE/Storage/Custom");
            last;
        }
    }
    require PVE::Storage::Plugin;
    my $init = PVE::Storage::Plugin->can('init');
    no warnings 'redefine';
    local *PVE::Storage::Plugin::init = sub {
        if (!PVE::Storage::Plugin->private()->{plugins}->{swift}) {
            require PVE::Storage::Custom::SwiftPlugin;
            PLUGIN->register();
        }
        goto &$init;
    };
    require PVE::Storage;
    return @warnings;
}

# Whether the loaded host is PVE 8 (storage API below 12), whose dir the plugin follows
# there (the Perl tests run on both: `make test-perl-pve8`).
sub host_is_pve8 {
    return PVE::Storage::APIVER() < 12;
}

# A fresh, symlink-free storage directory, removed at exit.
sub storage_dir {
    my $dir = File::Temp::tempdir('swiftplugin-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    return untaint(Cwd::realpath($dir));
}

# The project's own copy of the spec data (Tests/Fixtures); dies when it is missing.
sub fixture_text {
    my ($name) = @_;
    my $file = project_file("Tests/Fixtures/$name");
    open(my $fh, '<', $file) or die "cannot read fixture $file: $!\n";
    return do { local $/; <$fh> };
}

# The vectors of one suite (Tests/Fixtures/test-vectors.json, the spec's test-vectors.json).
sub vectors {
    my ($suite) = @_;
    my $data = JSON::PP::decode_json(fixture_text('test-vectors.json'));
    return grep { $_->{suite} eq $suite } $data->{vectors}->@*;
}

# Runs a program (no shell, output discarded) with a clean environment (taint mode):
# true when it exits 0, $? its wait status.
sub run_quiet {
    my @cmd = map { untaint($_) } @_;
    local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', '/dev/null');
        exec(@cmd) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $? == 0;
}

# Runs /usr/bin/qemu-img with a clean environment (taint mode); dies when it fails.
sub qemu_img {
    my @args = map { untaint($_) } @_;
    local $ENV{PATH} = '/usr/bin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    open(my $null, '>', '/dev/null') or die "/dev/null: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        open(STDOUT, '>&', $null);
        exec('/usr/bin/qemu-img', @args) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "qemu-img @args failed: $?\n" if $?;
}

# qemu-img's own view of an image (what PVE's dir storage reports).
sub qemu_img_info {
    my ($path, $format) = @_;
    local $ENV{PATH} = '/usr/bin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    my @cmd = ('/usr/bin/qemu-img', 'info', '--output=json', untaint($path), $format ? ('-f', $format) : ());
    open(my $fh, '-|', @cmd) or die "qemu-img info: $!\n";
    my $json = do { local $/; <$fh> };
    close($fh);
    return JSON::PP::decode_json($json);
}

# A fresh directory on a loop-mounted file system of $type ('xfs' with reflinks,
# 'btrfs' or 'ext4'), unmounted at exit. Needs root; dies with the reason when the
# file system cannot be made or mounted (a test must not pass without it).
my @loop_mounts;
END {
    local $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
    system('/bin/umount', $_) for reverse @loop_mounts;
}

sub loop_mounted_dir {
    my ($type) = @_;
    my %mkfs = (
        xfs => ['/sbin/mkfs.xfs', '-q', '-f', '-m', 'reflink=1'],
        btrfs => ['/sbin/mkfs.btrfs', '-q', '-f'],
        ext4 => ['/sbin/mkfs.ext4', '-q', '-F'],
    );
    my $mkfs = $mkfs{$type} or die "no file system type '$type'\n";
    die "mounting a $type file system needs root\n" if $> != 0;
    my $base = storage_dir();
    my $image = "$base/$type.img";
    my $mount = "$base/mnt";
    mkdir($mount) or die "mkdir $mount: $!\n";
    truncate_file($image, 512 * 1024 * 1024);
    -x $mkfs->[0] or die "$mkfs->[0] is missing (tools/install-deps installs it)\n";
    run_quiet(@$mkfs, $image) or die "$mkfs->[0] $image failed\n";
    run_quiet('/bin/mount', '-o', 'loop', $image, $mount) or die "cannot loop-mount a $type file system at $mount\n";
    push @loop_mounts, $mount;
    my $dir = "$mount/storage";
    mkdir($dir) or die "mkdir $dir: $!\n";
    return $dir;
}

sub truncate_file {
    my ($path, $size) = @_;
    open(my $fh, '>', $path) or die "cannot create $path: $!\n";
    truncate($fh, $size) or die "truncate $path: $!\n";
    close($fh);
}

# Writes $length bytes of $byte at $offset of a file, in place (a guest's write).
sub poke {
    my ($path, $byte, $offset, $length) = @_;
    open(my $fh, '+<', $path) or die "$path: $!\n";
    binmode($fh);
    seek($fh, $offset, 0);
    print $fh chr($byte) x $length;
    close($fh) or die "$path: $!\n";
}

# The SHA-256 of a file's contents (to check data after rollbacks).
sub checksum {
    my ($path) = @_;
    require Digest::SHA;
    return Digest::SHA->new(256)->addfile($path)->hexdigest;
}

# Every entry below $root (relative paths, sorted), hidden ones included.
sub files_below {
    my ($root) = @_;
    my @found;
    my @todo = ('');
    while (defined(my $rel = shift @todo)) {
        opendir(my $dh, $rel eq '' ? $root : "$root/$rel") or next;
        for my $name (sort grep { $_ ne '.' && $_ ne '..' } readdir($dh)) {
            my $path = $rel eq '' ? untaint($name) : untaint("$rel/$name");
            push @found, $path;
            push @todo, $path if -d "$root/$path" && !-l "$root/$path";
        }
    }
    return [sort @found];
}

# The exception a call raises ('' when it succeeds).
sub dies(&) {
    my ($code) = @_;
    local $@;
    eval { $code->(); 1 } and return '';
    return $@;
}

# The warnings a call emits, and its result.
sub warnings_of(&) {
    my ($code) = @_;
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    my @result = $code->();
    return (\@warnings, @result);
}

# What a call prints on the selected output handle (as dir prints progress), and its result.
sub output_of(&) {
    my ($code) = @_;
    open(my $fh, '>', \my $output) or die;
    my $previous = select($fh);
    my @result = eval { $code->() };
    my $error = $@;
    select($previous);
    close($fh);
    die $error if $error;
    return ($output // '', @result);
}

# The names of a qcow2 image's internal snapshots, as qemu-img lists them.
sub snapshot_names {
    my ($path) = @_;
    return [sort map { $_->{name} } (qemu_img_info($path)->{snapshots} // [])->@*];
}

# Creates a file (and its parent directories) with $content (default empty).
sub make_file {
    my ($path, $content) = @_;
    my $parent = $path =~ s{/[^/]*$}{}r;
    File::Path::make_path($parent);
    open(my $fh, '>', $path) or die "cannot create $path: $!\n";
    print $fh $content // '';
    close($fh) or die "cannot close $path: $!\n";
}

# Creates a vector's `setup` entries in $dir: directories, empty files, and images
# made with qemu-img (format, size, optional backing file) as the vectors describe.
sub make_setup {
    my ($dir, $setup) = @_;
    for my $step ($setup->@*) {
        my $path = untaint($step->{path} =~ s/\$\{STORAGE_DIR\}/$dir/r);
        if ($step->{create} eq 'dir') {
            File::Path::make_path($path);
        } elsif ($step->{create} eq 'qemu-img' && -x '/usr/bin/qemu-img' && $step->{format} ne 'raw') {
            make_file($path);
            local $ENV{PATH} = '/usr/bin:/bin';
            my @backing = defined($step->{backing})
                ? ('-u', '-b', untaint($step->{backing}), '-F', untaint($step->{backing_format})) : ();
            system('/usr/bin/qemu-img', 'create', '-q', '-f', untaint($step->{format}), @backing, $path,
                untaint($step->{size})) == 0 or die "qemu-img create $path failed\n";
        } elsif ($step->{create} eq 'qemu-img' && $step->{format} eq 'raw') {
            make_file($path);
            truncate($path, untaint($step->{size})) or die "truncate $path: $!\n"; # qemu-img create -f raw
        } else {
            make_file($path);
        }
    }
}

# The items a shared vector expects, with the values its `mocks` stand for (stat's
# ctime, an image's allocation) replaced by the real ones of the files its setup made
# in $dir: the plugin reports the file system's metadata, and no test hook in the
# library replaces it. Sizes are real already (the setup makes files of that size).
sub with_real_metadata {
    my ($items, $mocks, $dir, $setup) = @_;
    my %path_of = map { my $path = $_->{path} =~ s/\$\{STORAGE_DIR\}/$dir/r; (($path =~ m{([^/]+)$})[0] => $path) } @$setup;
    return [map {
        my %item = %$_;
        my ($name) = $item{volid} =~ m{([^/:]+)$};
        my @stat = stat($path_of{$name} // die "no file of the setup for $item{volid}\n") or die "stat $name: $!\n";
        $item{ctime} = $stat[10] if defined($mocks->{stat_ctime}) && $item{ctime} == $mocks->{stat_ctime};
        $item{used} = $stat[12] * 512
            if defined($item{used}) && defined($mocks->{image_actual_size}) && $item{used} == $mocks->{image_actual_size};
        \%item;
    } @$items];
}

# The prune vectors (Tests/Fixtures/prune-vectors.json, the JSON block of the spec's prune.md §8).
# Untainted, as they were when cut out of prune.md by a regex: the tests make files from them.
sub prune_vectors {
    return JSON::PP::decode_json(untaint(fixture_text('prune-vectors.json')));
}

1;
