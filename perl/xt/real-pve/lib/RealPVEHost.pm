package RealPVEHost;

# The real PVE storage layer, driven from Proxmox's sources for comparison tests:
# storage.cfg in a temporary directory served by our PVE::IPCC stand-in, PVE::Cluster's
# file writes and cfs locks mocked (they would go to /etc/pve), a fixed node name, and
# the plugin registered the way PVE's loader does it. Plus the helpers the comparison
# tests share: the config API, outcome capture and comparison, directory trees.
# perl/xt/real-pve/compare-with-dir.t shows the use; tools/check-real-pve runs them.

use strict;
use warnings;

use Exporter qw(import);
use Scalar::Util qw(blessed);
use Test::More;
use Test::MockModule;
use SwiftPluginTest;

no warnings 'once';

use constant NODE => 'cmpnode';
use constant MiB => 1024 * 1024;

our @EXPORT = (qw(NODE MiB start_real_host $CFS_DIR), qw(host_release host_has_volume_chain no_volume_chain
    missing_storage_function), qw(write_file api_create api_update refused_by_swift_only escaped caught same normalise without_type section_text tree remove_tree mount_point_of describe printable));
# The step runner and guest data of the snapshot and guest comparisons (names other tests use for their own).
our @EXPORT_OK = qw(scratch slurp run_step write_data content);

# The temporary directory holding the cluster files (storage.cfg).
our $CFS_DIR;

my ($inotify_mock, $cluster_mock, %cfs_writer);

# Sets up the host (asserting what it relies on) and loads PVE::Storage with the
# plugin registered; returns the warnings of loading.
sub start_real_host {
    $ENV{PATH} = '/usr/sbin:/usr/bin:/sbin:/bin';
    delete @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    $ENV{TZ} = 'UTC';
    umask(0022);


    # ---------------------------------------------------------------------------------------
    # The cluster file system: storage.cfg in a temporary directory.

    ok(${^TAINT}, 'taint mode is on, as in pvedaemon');

    $CFS_DIR = storage_dir();
    my $seed = "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\tdisable\n\n";
    write_file("$CFS_DIR/storage.cfg", $seed);

    require PVE::IPCC;
    like($INC{'PVE/IPCC.pm'}, qr{/perl/xt/real-pve/lib/PVE/IPCC\.pm$}, 'PVE::IPCC is the test stand-in');
    $PVE::IPCC::CFS_DIR = $CFS_DIR;
    $PVE::IPCC::NODENAME = NODE;

    require PVE::INotify;
    $inotify_mock = Test::MockModule->new('PVE::INotify');
    $inotify_mock->redefine(nodename => sub { return NODE });

    require PVE::Cluster;
    $cluster_mock = Test::MockModule->new('PVE::Cluster');
    my $register_file = \&PVE::Cluster::cfs_register_file;
    $cluster_mock->redefine(cfs_register_file => sub {
        my ($filename, $parser, $writer) = @_;
        $cfs_writer{$filename} = $writer;
        return $register_file->(@_);
    });
    # Like the real one, but into the temporary directory.
    $cluster_mock->redefine(cfs_write_file => sub {
        my ($filename, $data) = @_;
        my $writer = $cfs_writer{$filename} or die "no writer for '$filename'\n";
        write_file("$CFS_DIR/$filename", $writer->("/etc/pve/$filename", $data));
        return;
    });
    # The cfs locks: one process, so only their contract is kept: run the code after
    # refreshing the cluster state, return its result, leave its error in $@.
    for my $name (grep { /^cfs_lock_/ && defined(&{"PVE::Cluster::$_"}) } keys %PVE::Cluster::) {
        $cluster_mock->redefine($name => sub {
            my $code = $_[2];
            my @param = @_[3 .. $#_];
            my $res;
            my $ok = eval { PVE::Cluster::cfs_update(); $res = $code->(@param); 1 };
            $@ = $ok ? undef : $@;
            return $res;
        });
    }

    # ---------------------------------------------------------------------------------------
    # Loading.

    return load_host();
}

# ---------------------------------------------------------------------------------------
# The release of the loaded storage layer. The comparisons run on PVE 9's sources and on
# PVE 8's (tools/check-real-pve --pve8); where the two releases' dir differ, the tests ask
# these helpers, not PVE::Storage::APIVER themselves.

# The Proxmox VE release whose storage layer is loaded, as the plugin tells them apart:
# 8 below storage API 12 (pve-storage stable-8), 9 from there on.
sub host_release {
    return host_is_pve8() ? 8 : 9;
}

# Whether the loaded storage layer has the option snapshot-as-volume-chain (PVE 9 on):
# the registered schema is asked, not the release.
sub host_has_volume_chain {
    return defined(PVE::Storage::Plugin->private()->{propertyList}->{'snapshot-as-volume-chain'});
}

# The skip reason of the volume-chain parts where the host has no such option.
sub no_volume_chain {
    return 'PVE ' . host_release() . "'s storage layer has no snapshot-as-volume-chain option";
}

# The function of PVE::Storage an outcome of caught() failed to call because this
# release's storage layer does not define it (PVE 8: rename_snapshot,
# volume_qemu_snapshot_method, qemu_blockdev_options), or undef.
sub missing_storage_function {
    my ($outcome) = @_;
    my $error = $outcome->{error};
    return undef if ref($error) || !defined($error);
    my ($name) = $error =~ /^Undefined subroutine &PVE::Storage::(\w+) called at /;
    return defined($name) && !PVE::Storage->can($name) ? $name : undef;
}

sub write_file {
    my ($file, $content) = @_;
    open(my $fh, '>', untaint($file)) or die "cannot write $file: $!\n";
    print {$fh} $content;
    close($fh) or die "cannot write $file: $!\n";
}

# pvesm add <type> <storeid> --path <path> <opts>, with the API's return value, error
# (an exception's text and its parameter errors) and warnings, storeid and type replaced.
sub api_create {
    my ($type, $sid, $path, $opts) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $outcome = caught(sub {
        PVE::API2::Storage::Config->create({ type => $type, storage => $sid, path => $path, %$opts });
    });
    for my $result ($outcome->{result}->@*) {
        next if ref($result) ne 'HASH';
        is($result->{type}, $type, "create $sid returns its type") if defined($result->{type});
        delete $result->{type};
    }
    return normalise($outcome, $sid);
}

# The update API (`pvesm set <storeid> ...`), like api_create.
sub api_update {
    my ($type, $sid, $param) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $outcome = caught(sub { PVE::API2::Storage::Config->update({ storage => $sid, %$param }) });
    for my $result ($outcome->{result}->@*) {
        next if ref($result) ne 'HASH';
        is($result->{type}, $type, "update $sid returns its type") if defined($result->{type});
        delete $result->{type};
    }
    return normalise($outcome, $sid);
}

# Names swift refuses on purpose: with a NUL, or bytes that are not UTF-8.
sub refused_by_swift_only {
    my ($string) = @_;
    return 1 if $string =~ /\0/;
    return 0 if utf8::is_utf8($string);
    my $copy = $string;
    return !utf8::decode($copy);
}

# A string as swift's messages show it: UTF-8 kept, other bytes as \xNN, NUL as \0.
sub escaped {
    my ($string) = @_;
    my $bytes = $string;
    utf8::encode($bytes) if utf8::is_utf8($bytes);
    my $result = '';
    while (length($bytes)) {
        if ($bytes =~ s/^([\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})//) {
            $result .= $1 eq "\0" ? '\\0' : $1;
        } else {
            $bytes =~ s/^(.)//s;
            $result .= sprintf('\\x%02x', ord($1));
        }
    }
    return $result;
}

# Runs $code in list context: its result, its error ('' if none) and its warnings.
sub caught {
    my ($code) = @_;
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    my @result;
    my $ok = eval { @result = $code->(); 1 };
    my $error = $ok ? '' : $@;
    if (blessed($error) && $error->isa('PVE::Exception')) {
        $error = { message => "$error", errors => $error->{errors}, code => $error->{code} };
    } elsif (ref($error)) {
        $error = "$error";
    }
    return { result => \@result, error => $error, warnings => \@warnings };
}

# A temporary directory for the step runner's output and images read as raw.
our $SCRATCH;

sub scratch {
    $SCRATCH //= storage_dir();
    return $SCRATCH;
}

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or return '';
    return do { local $/; <$fh> } // '';
}

# Runs a step: caught()'s outcome plus what it printed (stdout, stderr; child processes'
# too, as a task log would show them). GUESTS_COMPARE_DEBUG=1 shows every step's output.
sub run_step {
    my ($code) = @_;
    my $dir = scratch();
    my ($out, $err) = ("$dir/stdout", "$dir/stderr");
    open(my $saved_out, '>&', \*STDOUT) or die "dup stdout: $!\n";
    open(my $saved_err, '>&', \*STDERR) or die "dup stderr: $!\n";
    open(STDOUT, '>', $out) or die "$out: $!\n";
    open(STDERR, '>', $err) or die "$err: $!\n";
    my $previous = select(STDOUT);
    local $| = 1;
    my $outcome = eval { caught($code) };
    my $failure = $@;
    select($previous);
    open(STDOUT, '>&', $saved_out) or die "restore stdout: $!\n";
    open(STDERR, '>&', $saved_err) or die "restore stderr: $!\n";
    die $failure if !$outcome;
    $outcome->{stdout} = slurp($out);
    $outcome->{stderr} = slurp($err);
    if ($ENV{GUESTS_COMPARE_DEBUG}) {
        diag("error: $outcome->{error}") if !ref($outcome->{error}) && $outcome->{error} ne '';
        diag("stdout: $outcome->{stdout}") if $outcome->{stdout} ne '';
        diag("stderr: $outcome->{stderr}") if $outcome->{stderr} ne '';
    }
    return $outcome;
}

sub format_of {
    my ($volid) = @_;
    return $volid =~ /\.qcow2$/ ? 'qcow2' : $volid =~ /\.vmdk$/ ? 'vmdk' : 'raw';
}

# Writes 1 MiB of $byte into a disk image (the guest's view), at an offset depending on $byte.
sub write_data {
    my ($cfg, $volid, $byte) = @_;
    my $path = PVE::Storage::path($cfg, $volid);
    my $offset = (($byte - 0x41) % 4) * 1024 * 1024;
    run_quiet('/usr/bin/qemu-io', '-f', format_of($volid), '-c', sprintf('write -P 0x%x %d 1M', $byte, $offset), $path)
        or die "qemu-io write $path failed: $?\n";
    return content($cfg, $volid);
}

# The SHA-256 of what the guest sees in its first 4 MiB (backing chain included).
sub content {
    my ($cfg, $volid, $snap) = @_;
    my $path = PVE::Storage::path($cfg, $volid);
    my $raw = scratch() . "/content.raw";
    run_quiet('/usr/bin/qemu-img', 'convert', '-f', format_of($volid), '-O', 'raw', $path, $raw)
        or die "qemu-img convert $path failed: $?\n";
    truncate($raw, 4 * 1024 * 1024) or die "truncate $raw: $!\n"; # the data written; a resize may have grown the disk
    my $sum = checksum($raw);
    unlink($raw);
    return $sum;
}

# Compares two outcomes of caught(): result and error, then, if there are any,
# the warnings, as a separate test.
sub same {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %got = %$got;
    my %expected = %$expected;
    my ($got_warnings, $expected_warnings) = (delete $got{warnings}, delete $expected{warnings});
    $expected_warnings = [grep { !/^Use of uninitialized value/ } @$expected_warnings];
    for my $outcome (\%got, \%expected) {
        utf8::encode($outcome->{error}) if defined($outcome->{error}) && !ref($outcome->{error}) && utf8::is_utf8($outcome->{error});
    }
    is_deeply(\%got, \%expected, $name);
    is_deeply($got_warnings, $expected_warnings, "$name (warnings)") if @$got_warnings || @$expected_warnings;
}

# A deep copy with the storage ID replaced by <storeid>.
sub normalise {
    my ($value, $sid) = @_;
    if (ref($value) eq 'HASH') {
        return { map { (normalise($_, $sid) => normalise($value->{$_}, $sid)) } keys %$value };
    } elsif (ref($value) eq 'ARRAY') {
        return [map { normalise($_, $sid) } @$value];
    } elsif (defined($value) && !ref($value)) {
        (my $copy = $value) =~ s/\b\Q$sid\E\b/<storeid>/g;
        return $copy;
    }
    return $value;
}

sub without_type {
    my ($scfg) = @_;
    return $scfg if ref($scfg) ne 'HASH';
    my %copy = %$scfg;
    delete $copy{type};
    return \%copy;
}

# The storage.cfg section of a storage, its header line reduced to the storeid
# placeholder. The lists of `content` and `nodes` are sorted: PVE writes them in the
# order of a Perl hash, which differs between any two storages.
sub section_text {
    my ($sid, $type) = @_;
    open(my $fh, '<', "$CFS_DIR/storage.cfg") or die "storage.cfg: $!\n";
    my $text = do { local $/; <$fh> };
    for my $section (split(/\n\n+/, $text)) {
        next if $section !~ s/^\Q$type: $sid\E\n/<type>: <storeid>\n/;
        $section =~ s/^(\t(?:content|nodes) )(\S+)$/$1 . join(',', sort split(m{,}, $2))/gme;
        return $section;
    }
    return undef;
}

# Every entry below $root: relative path => "<type> <mode>" (undef if $root is missing).
sub tree {
    my ($root) = @_;
    return undef if !lstat($root);
    my %tree;
    my @todo = ('');
    while (defined(my $rel = shift @todo)) {
        my $abs = $rel eq '' ? $root : "$root/$rel";
        my @st = lstat($abs) or next;
        my $kind = -l _ ? 'link' : -d _ ? 'dir' : -f _ ? 'file' : 'other';
        $tree{$rel eq '' ? '.' : $rel} = sprintf('%s %04o', $kind, $st[2] & 07777);
        next if $kind ne 'dir' || ($rel eq '' && $root eq '/dev/shm');
        opendir(my $dh, $abs) or next;
        push @todo, map { $rel eq '' ? $_ : "$rel/$_" } sort grep { $_ ne '.' && $_ ne '..' } readdir($dh);
        closedir($dh);
    }
    return \%tree;
}

sub remove_tree {
    my ($path) = @_;
    $path = untaint($path);
    return if !lstat($path);
    if (-d _ && !-l _) {
        opendir(my $dh, $path) or die "opendir $path: $!\n";
        my @entries = grep { $_ ne '.' && $_ ne '..' } readdir($dh);
        closedir($dh);
        remove_tree("$path/" . untaint($_)) for @entries;
        rmdir($path) or die "rmdir $path: $!\n";
    } else {
        unlink($path) or die "unlink $path: $!\n";
    }
}

# The mount point (from /proc/mounts) that $path lives on.
sub mount_point_of {
    my ($path) = @_;
    my $real = Cwd::realpath($path) // return undef;
    open(my $fh, '<', '/proc/mounts') or return undef;
    my $best;
    while (my $line = <$fh>) {
        my $target = (split(' ', $line))[1];
        $target =~ s/\\([0-7]{3})/chr(oct($1))/ge;
        next if !($real eq $target || $target eq '/' || index($real, "$target/") == 0);
        $best = $target if !defined($best) || length($target) > length($best);
    }
    return untaint($best);
}

# An outcome of caught() in one line, for notes.
sub describe {
    my ($outcome) = @_;
    my $error = $outcome->{error};
    my $text = !ref($error) ? ($error eq '' ? 'succeeds' : $error)
        : "$error->{message} " . join(', ', map { "$_: $error->{errors}->{$_}" } sort keys(($error->{errors} // {})->%*));
    $text .= ' [written to storage.cfg]' if $outcome->{written};
    $text .= ' [warns: ' . join(' / ', $outcome->{warnings}->@*) . ']' if $outcome->{warnings}->@*;
    return printable($text =~ s/\s+$//r);
}

sub printable {
    my ($value) = @_;
    return 'undef' if !defined($value);
    return "''" if $value eq '';
    return join('', map { my $o = ord($_); $o < 0x20 || $o == 0x7f || $o > 0x7e ? sprintf('\\x{%x}', $o) : $_ } split(//, $value));
}

1;
