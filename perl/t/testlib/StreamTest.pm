package StreamTest;

# Helpers for the migration stream tests (perl/t/8*-volume_*.t): streams through real
# pipes between a forked exporter and an importer, stderr (progress lines) captured.

use strict;
use warnings;

use Exporter qw(import);
use POSIX ();
use Digest::SHA ();
use Test::More;
use SwiftPluginTest;

our @EXPORT = qw(export_bytes import_bytes pipe_move header sha_file stderr_of blocks_of formats_matrix_ok);

# The 8-byte little-endian size header.
sub header { return pack('Q<', $_[0]) }

# Runs $code with STDERR going to a temporary file; returns (its text, $code's result or error).
sub stderr_of(&) {
    my ($code) = @_;
    open(my $saved, '>&', \*STDERR) or die "dup stderr: $!\n";
    my $file = File::Temp->new();
    open(STDERR, '>', $file->filename) or die "redirect: $!\n";
    my @result = eval { $code->() };
    my $error = $@;
    open(STDERR, '>&', $saved) or die "restore stderr: $!\n";
    open(my $fh, '<', $file->filename) or die;
    my $text = do { local $/; <$fh> } // '';
    return ($text, $error, @result);
}

# The stream volume_export writes into a pipe (a forked child exports, we read):
# (bytes, error of the export, stderr of the export).
sub export_bytes {
    my ($scfg, $sid, $volname, $format, $with_snapshots) = @_;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $errfile = File::Temp->new();
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($r);
        open(STDERR, '>', $errfile->filename);
        my $ok = eval { PLUGIN->volume_export($scfg, $sid, $w, $volname, $format, undef, undef, $with_snapshots); 1 };
        print STDERR "EXPORT-ERROR: $@" if !$ok;
        close($w);
        POSIX::_exit($ok ? 0 : 1);
    }
    close($w);
    my $bytes = do { local $/; <$r> } // '';
    close($r);
    waitpid($pid, 0);
    open(my $fh, '<', $errfile->filename) or die;
    my $err = do { local $/; <$fh> } // '';
    my ($error) = $err =~ /EXPORT-ERROR: (.*)\z/s;
    return ($bytes, $error // '', $err);
}

# Imports $bytes (written by a forked child into a pipe): (volid, error, stderr, stdout).
sub import_bytes {
    my ($scfg, $sid, $volname, $format, $bytes, $with_snapshots, $allow_rename) = @_;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($r);
        local $SIG{PIPE} = 'IGNORE';
        syswrite($w, substr($bytes, $_ * 65536, 65536)) for 0 .. int((length($bytes) - 1) / 65536);
        close($w);
        POSIX::_exit(0);
    }
    close($w);
    my $stdout = '';
    my ($stderr, $error, $volid) = stderr_of {
        open(my $capture, '>', \$stdout);
        my $old = select($capture);
        my $v = eval { PLUGIN->volume_import($scfg, $sid, $r, $volname, $format, undef, undef, $with_snapshots, $allow_rename) };
        my $e = $@;
        select($old);
        die $e if $e;
        return $v;
    };
    close($r);
    waitpid($pid, 0);
    return ($volid, $error, $stderr, $stdout);
}

# Moves a volume through a real pipe: a forked child runs $export->($w), we run $import->($r).
sub pipe_move {
    my ($export, $import) = @_;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($r);
        open(STDERR, '>', '/dev/null');
        my $ok = eval { $export->($w); 1 };
        close($w);
        POSIX::_exit($ok ? 0 : 1);
    }
    close($w);
    my ($stderr, $error, $result) = stderr_of { $import->($r) };
    close($r);
    waitpid($pid, 0);
    return ($result, $error, $? >> 8);
}

sub sha_file {
    my ($path) = @_;
    return Digest::SHA->new(256)->addfile(untaint($path))->hexdigest;
}

# Bytes allocated on disk for $path.
sub blocks_of { return (stat($_[0]))[12] * 512 }

# What volume_export_formats and volume_import_formats ($method) share, dir's matrix:
# every case but a $snapshot's, which the two treat differently.
sub formats_matrix_ok {
    my ($method, $scfg) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1; # failures at the caller's line
    my @cases = (
        ['100/vm-100-disk-0.raw', 0, ['raw+size']], ['100/vm-100-disk-0.raw', 1, []],
        ['100/vm-100-disk-1.qcow2', 0, ['raw+size']], ['100/vm-100-disk-1.qcow2', 1, ['qcow2+size']],
        ['100/vm-100-disk-2.vmdk', 0, ['raw+size']], ['100/vm-100-disk-2.vmdk', 1, ['vmdk+size']],
        ['100/subvol-100-disk-3.subvol', 0, ['tar+size']], ['100/subvol-100-disk-3.subvol', 1, []],
        ['100/base-100-disk-4.qcow2/101/vm-101-disk-0.qcow2', 1, ['qcow2+size']],
        ['iso/a.iso', 0, ['raw+size']], ['iso/a.iso', 1, []],
        ['vztmpl/t.tar.zst', 0, ['raw+size']], ['snippets/s.yaml', 0, ['raw+size']],
        ['import/x.ova', 0, ['raw+size']], ['import/x.qcow2', 1, ['qcow2+size']], ['import/x.vmdk', 1, ['vmdk+size']],
        # PVE 8's dir offers raw+size for every volume but a subvol; PVE 9's not for backups.
        ['backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst', 0, host_is_pve8() ? ['raw+size'] : []],
    );
    for my $case (@cases) {
        my ($volname, $snaps, $expected) = @$case;
        is_deeply([PLUGIN->$method($scfg, 's', $volname, undef, undef, $snaps)], $expected,
            "$volname, with_snapshots=$snaps");
    }
    is_deeply([PLUGIN->$method($scfg, 's', '100/vm-100-disk-1.qcow2', undef, 'base', 1)], [], 'incremental: none');
    is_deeply([PLUGIN->$method({ type => 'swift' }, 's', '100/vm-100-disk-0.raw', undef, undef, 0)], [],
        'no path: none');
    is_deeply([PLUGIN->$method({ type => 'swift' }, 's', 'nonsense', undef, undef, 0)], [],
        'no path: the name is not even parsed');
    is(dies { PLUGIN->$method($scfg, 's', 'nonsense', undef, undef, 0) },
        "unable to parse directory volume name 'nonsense'\n", 'unparsable name');
    my @list = PLUGIN->$method($scfg, 's', '100/vm-100-disk-0.raw', undef, undef, 0);
    is(scalar(@list), 1, 'a list in list context');
}

1;
