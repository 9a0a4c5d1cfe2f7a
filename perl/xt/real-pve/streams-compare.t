#!/usr/bin/perl -T
# Contract (issue 9 acceptance criterion): next to PVE's real storage layer, the migration
# streams of a `swift` storage behave as those of PVE's `dir` storage, through
# PVE::Storage's own volume_export, volume_import, volume_export_formats and
# volume_import_formats, with the file handle passed as PVE passes it (a Perl handle on a
# real pipe; a forked child writes, the test process reads):
#
#  (a) the format lists: every content type and format, with_snapshots, snapshot and
#      base_snapshot, with and without snapshot-as-volume-chain, give the same lists;
#  (b) every stream dir sends or receives moves dir -> swift, swift -> dir (and dir -> dir,
#      swift -> swift) with the same outcome as dir -> dir (returned volid, error,
#      warnings, what the import prints, the tree of the target storage) and the same
#      data: raw bytes by checksum (also the raw+size streams themselves, byte for byte),
#      images by `qemu-img compare` against the source, qcow2 internal snapshot lists,
#      container trees by names, kinds, modes, owners, sizes, contents, link targets and
#      hard links;
#  (c) the same refusals with the same messages (wrong formats, snapshots or a base
#      requested, existing targets with and without allow_rename, backups, no header,
#      volume chains);
#  (d) a qcow2 disk exports as raw+size into a pipe on swift; whether dir's
#      `qemu-img convert ... /dev/stdout` manages that with this machine's qemu-img is
#      measured and reported (note), not assumed.
#
# Sources are made identically on a dir and a swift storage (two directories), targets
# are a dir and a swift storage (two more), emptied and re-activated after each move.
# Normalised before comparing: storage IDs, the storage paths, the plugin class in
# messages. Not compared: the progress lines on standard error (dir prints dd's, swift
# its own; both are only for the task log).
#
# Deliberate differences, asserted by name (the plugin's POD and issue 9): exporting a
# missing file fails with "export: cannot open ..." (dir writes a zero header and fails
# in dd); a raw+size stream longer than announced, or more than one sector shorter, is
# refused (dir writes whatever arrives); under a sector short is accepted; a qcow2/vmdk
# stream whose image's virtual size differs from the header is refused; images naming a
# backing file or an external data file are refused (dir writes them as they come). Each
# refusal leaves the target storage as it was. Run it with tools/check-real-pve.
#
# Differences found by this test that are not deliberate would be strict comparisons
# marked TODO (%KNOWN names them); none is left. Also deliberate: a disk inside an OVA
# is refused by name for export and import (dir fails in qemu-img or dd); a missing
# image exported as raw is named; dir's image imports print qemu-img create's
# "Formatting ..." line, swift's create no empty image and print none. Observed of dir on this
# machine and noted, not asserted against swift: under taint mode dir cannot import an
# image (the size it reads from the stream is tainted and reaches qemu-img: pvesm, which
# runs imports, has no -T; the test therefore untaints that one value for dir); dir's
# raw+size of a qcow2/vmdk fails into a pipe or a socket with qemu-img 7.2 and, into a
# regular file, loses its size header (qemu-img reopens /dev/stdout at offset 0).
#
# On PVE 8's sources (tools/check-real-pve --pve8; RealPVEHost's host_release), swift
# streams as PVE 9's dir does. Deliberate there, asserted by name: PVE 8's dir cannot
# import iso, vztmpl, snippets or import content (it fails in alloc_image or in its format
# check meant for images) and cannot export an OVA or OVF (qemu-img gets them as formats);
# swift imports and exports them, the file as it is, and refuses a second import into an
# existing file, as PVE 9's dir. A disk inside an OVA: PVE 8's dir refuses the format
# where PVE 9's fails in dd; an import into backup/: PVE 8's dir fails in alloc_image and
# leaves an empty images/<vmid>, swift refuses it as PVE 9's dir. The volume-chain parts
# are skipped (no such option).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use StreamTest;
use RealPVEHost;
use File::Path ();
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Fcntl qw(:mode);
use Socket ();

no warnings 'once';

my @load_warnings = start_real_host();
is_deeply(\@load_warnings, [], 'the real PVE::Storage loads with the plugin, without a warning');
unlike($INC{'PVE/Storage.pm'}, qr{/perl/t/lib/}, "PVE::Storage is PVE's own");
require PVE::API2::Storage::Config;

my $base = storage_dir();
my %root = (srcdir => "$base/d1", srcswift => "$base/s1", dstdir => "$base/d2", dstswift => "$base/s2");
my %type = (srcdir => 'dir', dstdir => 'dir', srcswift => 'swift', dstswift => 'swift');
for my $sid (sort keys %root) {
    my $outcome = api_create($type{$sid}, $sid, taint($root{$sid}),
        { content => 'images,rootdir,iso,vztmpl,backup,snippets,import' });
    is($outcome->{error}, '', "$type{$sid} storage $sid created");
}
my $cfg = PVE::Storage::config();
PVE::Storage::activate_storage($cfg, $_) for sort keys %root;
my $MiB = MiB;
my $comparisons = 0;
my $deliberate = 0; # deliberate differences asserted by name
END {
    # base images are immutable (chattr +i): let the temporary directory go
    local $ENV{PATH} = '/usr/bin:/bin';
    my @bases = map { untaint($_) } grep { -f } map { glob("$_/images/*/base-*") } values %root;
    system('/usr/bin/chattr', '-i', @bases) if @bases;
}

# ---------------------------------------------------------------------------------------
# Helpers

sub io { run_quiet('/usr/bin/qemu-io', @_) or die "qemu-io @_ failed\n" }
sub img { run_quiet('/usr/bin/qemu-img', @_) }
sub path_of { return untaint(scalar(PVE::Storage::path($cfg, $_[0]))) }
sub slurp { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; binmode($fh); local $/; return scalar(<$fh>) // '' }

# A value with storage IDs, storage paths and the plugin class replaced.
sub norm {
    my ($value) = @_;
    if (ref($value) eq 'HASH') {
        return { map { ($_ => norm($value->{$_})) } keys %$value };
    } elsif (ref($value) eq 'ARRAY') {
        return [map { norm($_) } @$value];
    } elsif (defined($value) && !ref($value)) {
        my $copy = $value;
        $copy =~ s/\Q$root{$_}\E/<path>/g for keys %root;
        $copy =~ s/\b(?:src|dst)(?:dir|swift)\b/<storeid>/g;
        $copy =~ s/PVE::Storage::(?:DirPlugin|Custom::SwiftPlugin)/<class>/g;
        return $copy;
    }
    return $value;
}

# Runs $code with STDOUT selected into a string: caught()'s outcome plus {stdout}.
sub caught_with_stdout {
    my ($code) = @_;
    my $stdout = '';
    open(my $capture, '>', \$stdout) or die;
    my $old = select($capture);
    my $outcome = caught($code);
    select($old);
    close($capture);
    $outcome->{stdout} = $stdout;
    return $outcome;
}

sub read_all {
    my ($fh) = @_;
    my $bytes = '';
    while (1) {
        my $n = sysread($fh, $bytes, 1 << 20, length($bytes));
        die "read: $!\n" if !defined($n);
        last if !$n;
    }
    return $bytes;
}

# A forked child runs PVE::Storage::volume_export into the write end of a pipe;
# $consume->($read_end) runs here. Returns (export outcome, what $consume returned, export stderr).
our $CHANNEL = 'pipe';
sub with_export {
    my ($volid, $format, $snap, $base_snap, $ws, $consume) = @_;
    my ($r, $w);
    if ($CHANNEL eq 'socket') {
        socketpair($r, $w, Socket::AF_UNIX(), Socket::SOCK_STREAM(), Socket::PF_UNSPEC()) or die "socketpair: $!\n";
    } else {
        pipe($r, $w) or die "pipe: $!\n";
    }
    my $report = File::Temp->new();
    my $errfile = File::Temp->new();
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($r);
        open(STDERR, '>', $errfile->filename);
        my $outcome = caught(sub { PVE::Storage::volume_export($cfg, $w, $volid, $format, $snap, $base_snap, $ws) });
        close($w);
        if (open(my $fh, '>', $report->filename)) {
            print $fh JSON::PP->new->canonical->allow_nonref->allow_blessed->encode($outcome);
            close($fh);
        }
        POSIX::_exit(0);
    }
    close($w);
    my $consumed = $consume->($r);
    close($r);
    waitpid($pid, 0);
    my $status = $?;
    my $json = slurp($report->filename);
    my $outcome = $json ne '' ? JSON::PP->new->decode($json)
        : { error => "exporter killed by signal " . ($status & 127), result => [], warnings => [] };
    return ($outcome, $consumed, slurp($errfile->filename));
}

# Export into a pipe: (outcome, bytes, stderr).
sub export_stream {
    my ($volid, $format, $snap, $base_snap, $ws) = @_;
    return with_export($volid, $format, $snap, $base_snap, $ws, \&read_all);
}

sub import_from {
    my ($fh, $volid, $format, $snap, $base_snap, $ws, $rename) = @_;
    my $outcome;
    my ($stderr) = stderr_of {
        $outcome = caught_with_stdout(sub {
            PVE::Storage::volume_import($cfg, $fh, $volid, $format, $snap, $base_snap, $ws, $rename)
        });
    };
    $outcome->{stderr} = $stderr;
    return $outcome;
}

# Import of $bytes (written into a pipe by a forked child): the outcome.
sub import_stream {
    my ($volid, $format, $bytes, $snap, $base_snap, $ws, $rename) = @_;
    pipe(my $r, my $w) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($r);
        local $SIG{PIPE} = 'IGNORE';
        for (my $at = 0; $at < length($bytes); $at += 65536) {
            defined(syswrite($w, substr($bytes, $at, 65536))) or last;
        }
        close($w);
        POSIX::_exit(0);
    }
    close($w);
    my $outcome = import_from($r, $volid, $format, $snap, $base_snap, $ws, $rename);
    close($r);
    waitpid($pid, 0);
    return $outcome;
}

# Export on one storage, import on another, through one pipe.
sub transfer {
    my ($from, $to, $format, $ws, $rename) = @_;
    my ($export, $import) = with_export($from, $format, undef, undef, $ws,
        sub { import_from($_[0], $to, $format, undef, undef, $ws, $rename) });
    return ($export, $import);
}

# The outcome of an import as compared: result, error, warnings, what it printed
# (without the "Formatting ..." line of qemu-img create, which dir's import prints when
# it allocates an image and swift's does not: a difference in the task log only, see
# %KNOWN and the check of it below).
my $formatting_lines = 0;
sub import_view {
    my ($outcome) = @_;
    my $view = norm({ map { ($_ => $outcome->{$_}) } qw(result error warnings stdout) });
    $formatting_lines += ($view->{stdout} =~ s/^Formatting '[^\n]*\n//mg);
    return $view;
}

# A TODO reason for a difference from dir found by this test (reported as a bug, not
# deliberate); the comparison stays strict and shows as TODO until it is fixed.
my %KNOWN = (
    # None is left on PVE 9 or PVE 8: each difference found is fixed or asserted as deliberate.
);

# PVE 8's dir cannot import iso, vztmpl, snippets or import content (a volume whose name
# is no image file name): alloc_image cannot parse the file name, the check meant for
# images refuses the format, or the name it allocates is not the one asked for. PVE 9's dir
# writes the stream into the file, and so does swift on every release: deliberate on PVE 8.
my $PVE8_DIR_IMPORT_FAILS = qr/^(?:unable to parse volume filename '[^']*'|cannot import format raw\+size into a file of format \w+|internal error: unexpected allocated name: '[^']*' != '[^']*')\n\z/;
sub pve8_non_image {
    my ($volname) = @_;
    return host_release() < 9 && $volname =~ m{^(?:iso|vztmpl|snippets|import)/};
}

# Empties a storage and activates it again (which makes its content directories).
sub reset_storage {
    my ($sid) = @_;
    my $root = $root{$sid};
    opendir(my $dh, $root) or die "$root: $!\n";
    remove_tree("$root/" . untaint($_)) for grep { $_ ne '.' && $_ ne '..' } readdir($dh);
    closedir($dh);
    PVE::Storage::activate_storage($cfg, $sid);
}

# A container tree as compared: every entry with kind, mode, owner, size, content digest
# or link target, and which entries are hard links of an earlier one.
sub ct_tree {
    my ($root) = @_;
    return undef if !-d $root;
    my (%tree, %inode);
    my @todo = ('.');
    while (defined(my $rel = shift @todo)) {
        my $abs = $rel eq '.' ? $root : "$root/$rel";
        my @st = lstat($abs) or next;
        my $mode = $st[2];
        my $kind = S_ISLNK($mode) ? 'link' : S_ISDIR($mode) ? 'dir' : S_ISREG($mode) ? 'file'
            : S_ISFIFO($mode) ? 'fifo' : 'other';
        my $entry = sprintf('%s %04o %d:%d', $kind, $mode & 07777, $st[4], $st[5]);
        if ($kind eq 'file') {
            $entry .= " size=$st[7] sha=" . sha_file($abs) . " mtime=$st[9]";
            my $key = "$st[0]:$st[1]";
            $entry .= " hardlink-of=$inode{$key}" if $st[3] > 1 && defined($inode{$key});
            $inode{$key} //= $rel;
        } elsif ($kind eq 'link') {
            $entry .= ' -> ' . readlink($abs);
        }
        $tree{$rel} = $entry;
        next if $kind ne 'dir';
        opendir(my $dh, $abs) or next;
        push @todo, map { $rel eq '.' ? untaint($_) : untaint("$rel/$_") } sort grep { $_ ne '.' && $_ ne '..' } readdir($dh);
        closedir($dh);
    }
    return \%tree;
}

# qemu-img's snapshot list of an image: id, name, VM state size, date, VM clock.
sub snapshot_list {
    my ($path) = @_;
    return [map { join(' ', @$_{qw(id name vm-state-size date-sec date-nsec vm-clock-sec vm-clock-nsec)}) }
        (qemu_img_info($path)->{snapshots} // [])->@*];
}

# ---------------------------------------------------------------------------------------
# (a) Format lists

{
    my @volnames = ('100/vm-100-disk-0.raw', '100/vm-100-disk-0.qcow2', '100/vm-100-disk-0.vmdk',
        '100/subvol-100-disk-0.subvol', '100/base-100-disk-0.raw', '100/base-100-disk-0.qcow2',
        '100/basevol-100-disk-0.subvol', '100/base-100-disk-0.qcow2/200/vm-200-disk-0.qcow2',
        '100/base-100-disk-0.raw/200/vm-200-disk-0.qcow2', '100/mydisk.qcow2', '100/vm-100-disk-0.vhdx',
        'iso/x.iso', 'iso/x.img', 'vztmpl/x.tar.zst', 'vztmpl/x.tar.gz', 'snippets/x.yaml',
        'import/x.ova', 'import/x.ovf', 'import/x.qcow2', 'import/x.raw', 'import/x.vmdk',
        'import/x.ova/disk.vmdk', 'backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst',
        'backup/vzdump-lxc-100-2024_01_01-00_00_00.tar.zst', 'rootdir/100', 'foo/bar', '');
    my $count = 0;
    for my $chain (0, 1) {
        if ($chain && !host_has_volume_chain()) {
            SKIP: { skip(no_volume_chain() . ': no format lists of a volume-chain storage', 1) }
            next;
        }
        for my $volname (@volnames) {
            for my $ws (0, 1, undef) {
                for my $snap (undef, 's1') {
                    for my $bsnap (undef, 'b1') {
                        for my $method (qw(volume_export_formats volume_import_formats)) {
                            my %got;
                            for my $sid (qw(srcdir srcswift)) {
                                local $cfg->{ids}->{$sid}->{'snapshot-as-volume-chain'} = 1 if $chain;
                                no strict 'refs';
                                $got{$sid} = norm(caught(sub { &{"PVE::Storage::$method"}($cfg, "$sid:$volname", $snap, $bsnap, $ws) }));
                            }
                            my $what = sprintf('%s %s ws=%s snap=%s base=%s%s', $method, $volname,
                                $ws // 'undef', $snap // 'undef', $bsnap // 'undef', $chain ? ' (volume chain)' : '');
                            same($got{srcswift}, $got{srcdir}, "formats: $what");
                            $count++;
                        }
                    }
                }
            }
        }
    }
    note("(a) format lists compared: $count");
    $comparisons += $count;
}

# ---------------------------------------------------------------------------------------
# Sources, made the same way on both source storages

my $sparse_file_data = 'sparse-end';
sub make_sources {
    my ($sid) = @_;
    my $v = sub { "$sid:$_[0]" };
    my $alloc = sub { PVE::Storage::vdisk_alloc($cfg, $sid, $_[0], $_[1], $_[2], $_[3]) };
    $alloc->(100, 'raw', 'vm-100-disk-0.raw', 16384);
    io('-f', 'raw', '-c', 'write -P 0x5a 1M 1M', '-c', 'write -P 0x01 9M 4k', '-c', 'write -P 0x7e 16383k 1k',
        path_of($v->('100/vm-100-disk-0.raw')));
    $alloc->(100, 'qcow2', 'vm-100-disk-1.qcow2', 8192);
    my $q = path_of($v->('100/vm-100-disk-1.qcow2'));
    io('-f', 'qcow2', '-c', 'write -P 0xab 0 64k', '-c', 'write -P 0x11 3M 128k', $q);
    img('snapshot', '-c', 'first', $q) or die;
    io('-f', 'qcow2', '-c', 'write -P 0xcd 0 32k', '-c', 'write -z 3M 64k', '-c', 'write -P 0x22 7M 4k', $q);
    img('snapshot', '-c', 'second', $q) or die;
    io('-f', 'qcow2', '-c', 'write -P 0xef 5M 64k', $q);
    $alloc->(100, 'vmdk', 'vm-100-disk-2.vmdk', 4096);
    io('-f', 'vmdk', '-c', 'write -P 0x77 64k 64k', '-c', 'write -P 0x78 3M 512', path_of($v->('100/vm-100-disk-2.vmdk')));
    # a raw base with a qcow2 linked clone, a qcow2 base with one
    $alloc->(100, 'raw', 'vm-100-disk-3.raw', 2048);
    io('-f', 'raw', '-c', 'write -P 0x33 0 1M', path_of($v->('100/vm-100-disk-3.raw')));
    PVE::Storage::vdisk_create_base($cfg, $v->('100/vm-100-disk-3.raw'));
    my $clone = PVE::Storage::vdisk_clone($cfg, $v->('100/base-100-disk-3.raw'), 200);
    $clone eq $v->('100/base-100-disk-3.raw/200/vm-200-disk-0.qcow2') or die "clone: $clone\n";
    io('-f', 'qcow2', '-c', 'write -P 0x44 512k 64k', path_of($clone));
    $alloc->(100, 'qcow2', 'vm-100-disk-4.qcow2', 4096);
    io('-f', 'qcow2', '-c', 'write -P 0x55 0 2M', path_of($v->('100/vm-100-disk-4.qcow2')));
    PVE::Storage::vdisk_create_base($cfg, $v->('100/vm-100-disk-4.qcow2'));
    $clone = PVE::Storage::vdisk_clone($cfg, $v->('100/base-100-disk-4.qcow2'), 200);
    $clone eq $v->('100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2') or die "clone: $clone\n";
    io('-f', 'qcow2', '-c', 'write -P 0x66 1M 64k', '-c', 'write -z 0 64k', path_of($clone));
    # a container volume
    $alloc->(100, 'subvol', 'subvol-100-disk-5.subvol', 0);
    my $ct = path_of($v->('100/subvol-100-disk-5.subvol'));
    make_file("$ct/etc/hostname", "ct\n");
    make_file("$ct/root/.secret", "secret\n");
    make_file("$ct/usr/bin/tool", "#!/bin/sh\n");
    make_file("$ct/home/u/\x{c3}\x{bc}n\x{c3}\x{ef}code name", "u\n");
    make_file("$ct/var/lib/owned", "mapped\n");
    File::Path::make_path("$ct/var/empty", "$ct/tmp");
    link("$ct/etc/hostname", "$ct/etc/hostname.hard") or die "link: $!";
    symlink('/etc/passwd', "$ct/abs-link") or die;
    symlink('etc/hostname', "$ct/rel-link") or die;
    symlink('../../outside', "$ct/var/dangling") or die;
    POSIX::mkfifo("$ct/var/fifo", 0640) or die "mkfifo: $!";
    open(my $fh, '>', "$ct/var/sparse") or die;
    seek($fh, 3 * $MiB, 0);
    print $fh $sparse_file_data;
    close($fh);
    chmod(0700, "$ct/root"); chmod(0600, "$ct/root/.secret"); chmod(04755, "$ct/usr/bin/tool");
    chmod(01777, "$ct/tmp"); chmod(0750, $ct);
    chown(100000, 100000, "$ct/root", "$ct/root/.secret");
    chown(100033, 100044, "$ct/var/lib/owned");
    POSIX::lchown(100005, 100006, "$ct/rel-link") if defined(&POSIX::lchown);
    my $when = 1_700_000_000;
    utime($when, $when, "$ct/etc/hostname", "$ct/root/.secret", "$ct/usr/bin/tool", "$ct/var/lib/owned", "$ct/var/sparse",
        "$ct/home/u/\x{c3}\x{bc}n\x{c3}\x{ef}code name");
    # other content
    my $root = $root{$sid};
    make_file("$root/template/iso/test.iso", join('', map { chr($_ % 251) } 1 .. 10000));
    make_file("$root/template/cache/ct.tar.zst", 'zstd-data' x 300);
    make_file("$root/snippets/hook.pl", "#!/usr/bin/perl\nexit 0;\n");
    make_file("$root/import/disk.raw", "\0" x 4096 . 'r' x 1000);
    qemu_img('create', '-f', 'qcow2', "$root/import/disk.qcow2", '1M');
    io('-f', 'qcow2', '-c', 'write -P 0x99 0 4k', "$root/import/disk.qcow2");
    make_file("$root/import/vm.ovf", "<?xml version=\"1.0\"?>\n<Envelope/>\n");
    make_file("$root/import/vm.ova", 'ova' x 700);
    make_file("$root/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", 'vma' x 1000);
}
make_sources($_) for qw(srcdir srcswift);

# The two source storages hold the same volumes.
{
    my @images = grep { !/subvol/ } map { $_->{volid} =~ s/^srcdir://r } PVE::Storage::vdisk_list($cfg, 'srcdir')->{srcdir}->@*;
    ok(scalar(@images) >= 7, 'sources: images made');
    for my $volname (@images) {
        ok(img('compare', path_of("srcdir:$volname"), path_of("srcswift:$volname")), "sources: $volname the same on both");
    }
    is_deeply(ct_tree(path_of('srcswift:100/subvol-100-disk-5.subvol')), ct_tree(path_of('srcdir:100/subvol-100-disk-5.subvol')),
        'sources: the container trees are the same');
    is(scalar(@{ snapshot_list(path_of('srcswift:100/vm-100-disk-1.qcow2')) }), 2, 'sources: two internal snapshots');
    is_deeply([map { s/ \d+ \d+ \d+ \d+$//r } @{ snapshot_list(path_of('srcswift:100/vm-100-disk-1.qcow2')) }],
        [map { s/ \d+ \d+ \d+ \d+$//r } @{ snapshot_list(path_of('srcdir:100/vm-100-disk-1.qcow2')) }], 'sources: the same snapshots');
}

# ---------------------------------------------------------------------------------------
# (d) A qcow2 disk as raw+size into a pipe

my %dir_convert_into_pipe;
{
    my $q = '100/vm-100-disk-1.qcow2';
    my $raw_file = "$base/converted.raw";
    qemu_img('convert', '-f', 'qcow2', '-O', 'raw', path_of("srcswift:$q"), $raw_file);
    my $expected = header(8 * $MiB) . slurp($raw_file);
    unlink($raw_file);
    my ($outcome, $bytes) = export_stream("srcswift:$q", 'raw+size', undef, undef, 0);
    is($outcome->{error}, '', 'swift: a qcow2 disk exports as raw+size into a pipe');
    ok($bytes eq $expected, 'swift: the stream is the header and the raw disk (qemu-img convert of the source)');
    $comparisons++;
    for my $volname ($q, '100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2', '100/base-100-disk-3.raw/200/vm-200-disk-0.qcow2',
        '100/vm-100-disk-2.vmdk') {
        my ($format) = $volname =~ /\.(\w+)$/;
        my $file = "$base/converted.raw";
        qemu_img('convert', '-f', $format, '-O', 'raw', path_of("srcdir:$volname"), $file);
        my $want = slurp($file);
        unlink($file);
        my ($d_outcome, $d_bytes) = export_stream("srcdir:$volname", 'raw+size', undef, undef, 0);
        my ($s_outcome, $s_bytes) = export_stream("srcswift:$volname", 'raw+size', undef, undef, 0);
        my $dir_ok = $d_outcome->{error} eq '' && $d_bytes eq header(length($want)) . $want;
        $dir_convert_into_pipe{$volname} = $dir_ok;
        ok($s_outcome->{error} eq '' && $s_bytes eq header(length($want)) . $want, "swift: $volname as raw+size into a pipe: the disk");
        $comparisons++;
        note("dir: $volname as raw+size into a pipe (qemu-img convert ... /dev/stdout, "
            . (qx{/usr/bin/qemu-img --version} =~ /version (\S+)/)[0] . '): '
            . ($dir_ok ? 'works' : 'FAILS: ' . printable(norm($d_outcome->{error}) . ' (' . length($d_bytes) . ' bytes arrived)')));
    }
}

# ---------------------------------------------------------------------------------------
# Taint mode. pvedaemon runs with -T, but imports run in `pvesm import` (no -T). Under -T,
# dir's own import of an image dies: the size it reads from the stream is tainted and
# reaches qemu-img's command line. Observed here, then the size dir reads is untainted
# (wrapping upstream's read_common_header, not changing it) so that dir's imports run as
# they do in pvesm.
{
    my $d = import_stream('dstdir:399/vm-399-disk-0.raw', 'raw+size', header(4096) . ('t' x 4096), undef, undef, 0, 0);
    my $s = import_stream('dstswift:399/vm-399-disk-0.raw', 'raw+size', header(4096) . ('t' x 4096), undef, undef, 0, 0);
    like($d->{error}, qr/^unable to create image: Insecure dependency in exec while running with -T switch/,
        'taint mode: dir cannot import an image (a tainted size from the stream)');
    is($s->{error}, '', 'taint mode: swift imports it');
    note('taint mode: dir: ' . printable($d->{error}));
    reset_storage($_) for qw(dstdir dstswift);
}
my $plugin_mock = Test::MockModule->new('PVE::Storage::Plugin');
my $read_common_header = \&PVE::Storage::Plugin::read_common_header;
$plugin_mock->redefine(read_common_header => sub ($) { return untaint($read_common_header->(@_)) });

# ---------------------------------------------------------------------------------------
# Other channels: a socket (as PVE's insecure migration tunnel hands over), a file.

# Export into a regular file opened for writing: (outcome, bytes).
sub export_to_file {
    my ($volid, $format, $ws) = @_;
    my $file = File::Temp->new();
    open(my $fh, '>', $file->filename) or die;
    my $outcome = norm(caught(sub { PVE::Storage::volume_export($cfg, $fh, $volid, $format, undef, undef, $ws) }));
    close($fh);
    return ($outcome, slurp($file->filename));
}
{
    for my $case (['100/vm-100-disk-0.raw', 'raw+size', 0], ['100/vm-100-disk-1.qcow2', 'raw+size', 0],
        ['100/vm-100-disk-1.qcow2', 'qcow2+size', 1], ['100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2', 'raw+size', 0],
        ['100/vm-100-disk-2.vmdk', 'raw+size', 0], ['iso/test.iso', 'raw+size', 0]) {
        my ($volname, $format, $ws) = @$case;
        # into a file: dir's qemu-img convert works there, so the converted streams compare too
        my ($d_outcome, $d_bytes) = export_to_file("srcdir:$volname", $format, $ws);
        my ($s_outcome, $s_bytes) = export_to_file("srcswift:$volname", $format, $ws);
        is($d_outcome->{error}, '', "into a file: dir exports $volname as $format");
        is($s_outcome->{error}, '', "into a file: swift exports $volname as $format");
        my ($source_format) = $volname =~ /\.(\w+)$/;
        if ($format eq 'raw+size' && $volname =~ /\.(qcow2|vmdk)$/) {
            # dir: qemu-img convert ... /dev/stdout reopens the file from its start: the
            # header is overwritten, the stream is the raw disk alone (dir's defect, noted)
            my $file = "$base/converted.raw";
            qemu_img('convert', '-f', $source_format, '-O', 'raw', path_of("srcdir:$volname"), $file);
            my $disk = slurp($file);
            unlink($file);
            ok($s_bytes eq header(length($disk)) . $disk, "into a file: swift sends $volname as the header and the raw disk");
            my $dir_headerless = $d_bytes eq $disk;
            ok($dir_headerless || $d_bytes eq header(length($disk)) . $disk, "into a file: dir's stream of $volname is known (header and disk, or the disk alone)");
            note("into a file: dir's raw+size stream of $volname: " . ($dir_headerless
                ? 'the raw disk WITHOUT its size header (qemu-img convert reopens /dev/stdout at offset 0): unusable'
                : 'header and disk'));
            $d_bytes = $s_bytes; # for the socket comparison below
        } elsif ($format eq 'raw+size') {
            ok($s_bytes eq $d_bytes, "into a file: $volname as $format, the same bytes as dir's");
        } else {
            # the file as it is: header (the virtual size) and the image's bytes
            my ($size) = unpack('Q<', $d_bytes);
            ok($d_bytes eq header($size) . slurp(path_of("srcdir:$volname")), "into a file: dir sends the image as it is");
            ok($s_bytes eq header($size) . slurp(path_of("srcswift:$volname")), "into a file: swift sends the image as it is, with dir's header");
            $comparisons++;
        }
        $comparisons += 2;
        # into a socket
        local $CHANNEL = 'socket';
        my ($ds, $dsb) = export_stream("srcdir:$volname", $format, undef, undef, $ws);
        my ($ss, $ssb) = export_stream("srcswift:$volname", $format, undef, undef, $ws);
        is($ss->{error}, '', "into a socket: swift exports $volname as $format");
        if ($ds->{error} eq '') {
            ok($format ne 'raw+size' || $ssb eq $dsb, "into a socket: $volname as $format, the same bytes as dir's");
        } else {
            ok($ssb eq $d_bytes, "into a socket: $volname as $format, the stream as into a file");
            note("into a socket: dir fails: " . printable(norm($ds->{error})));
        }
        $comparisons += 2;
    }
}

# ---------------------------------------------------------------------------------------
# (b) Moves in every direction

sub fingerprint {
    my ($sid, $volid_result, $kind) = @_;
    return undef if !defined($volid_result);
    my $path = path_of($volid_result =~ s/^<storeid>:/$sid:/r);
    return { missing => 1 } if !-e $path;
    if ($kind eq 'tar') {
        return { tree => ct_tree($path) };
    } elsif ($kind eq 'qcow2' || $kind eq 'vmdk') {
        my $info = qemu_img_info($path, $kind);
        return { format => $info->{format}, size => $info->{'virtual-size'}, snapshots => snapshot_list($path),
            backing => $info->{'backing-filename'} };
    }
    return { size => -s $path, sha => sha_file($path) };
}

# [source volname, format, with_snapshots, target volname, kind of data]
my @moves = (
    ['100/vm-100-disk-0.raw', 'raw+size', 0, '100/vm-100-disk-0.raw', 'raw'],
    ['100/vm-100-disk-1.qcow2', 'raw+size', 0, '100/vm-100-disk-1.raw', 'raw'],
    ['100/vm-100-disk-1.qcow2', 'qcow2+size', 1, '100/vm-100-disk-1.qcow2', 'qcow2'],
    ['100/vm-100-disk-2.vmdk', 'raw+size', 0, '100/vm-100-disk-2.raw', 'raw'],
    ['100/vm-100-disk-2.vmdk', 'vmdk+size', 1, '100/vm-100-disk-2.vmdk', 'vmdk'],
    ['100/base-100-disk-3.raw', 'raw+size', 0, '100/vm-100-disk-3.raw', 'raw'],
    ['100/base-100-disk-3.raw/200/vm-200-disk-0.qcow2', 'raw+size', 0, '200/vm-200-disk-0.raw', 'raw'],
    ['100/base-100-disk-4.qcow2', 'raw+size', 0, '100/vm-100-disk-4.raw', 'raw'],
    ['100/base-100-disk-4.qcow2', 'qcow2+size', 1, '100/vm-100-disk-4.qcow2', 'qcow2'],
    ['100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2', 'raw+size', 0, '200/vm-200-disk-1.raw', 'raw'],
    ['100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2', 'qcow2+size', 1, '100/base-100-disk-4.qcow2/200/vm-200-disk-1.qcow2', 'qcow2'],
    ['100/subvol-100-disk-5.subvol', 'tar+size', 0, '100/subvol-100-disk-5.subvol', 'tar'],
    ['100/subvol-100-disk-5.subvol', 'tar+size', 0, '300/subvol-300-disk-0.subvol', 'tar'],
    ['iso/test.iso', 'raw+size', 0, 'iso/test.iso', 'raw'],
    ['vztmpl/ct.tar.zst', 'raw+size', 0, 'vztmpl/ct.tar.zst', 'raw'],
    ['snippets/hook.pl', 'raw+size', 0, 'snippets/hook.pl', 'raw'],
    ['import/disk.raw', 'raw+size', 0, 'import/disk.raw', 'raw'],
    ['import/disk.qcow2', 'raw+size', 0, 'import/disk.qcow2', 'raw'],
    ['import/vm.ovf', 'raw+size', 0, 'import/vm.ovf', 'raw'],
    ['import/vm.ova', 'raw+size', 0, 'import/vm.ova', 'raw'],
);
my @directions = (['srcdir', 'dstdir'], ['srcdir', 'dstswift'], ['srcswift', 'dstdir'], ['srcswift', 'dstswift']);
my $move_count = 0;
for my $move (@moves) {
    my ($from, $format, $ws, $to, $kind) = @$move;
    my $what = "$from as $format" . ($ws ? ' with snapshots' : '') . " into $to";
    my $dir_export_fails = 0;
    my $swift_payload; # what swift's raw+size stream carries after its header
    # The raw+size streams themselves: byte for byte the same from both storages.
    if ($format eq 'raw+size') {
        my ($d_outcome, $d_bytes) = export_stream("srcdir:$from", $format, undef, undef, $ws);
        my ($s_outcome, $s_bytes) = export_stream("srcswift:$from", $format, undef, undef, $ws);
        my $dir_ok = $d_outcome->{error} eq '';
        $dir_export_fails = !$dir_ok;
        $swift_payload = substr($s_bytes, 8) if $s_outcome->{error} eq '';
        if ($dir_ok) {
            same_export(norm($s_outcome), norm($d_outcome), "$what: the export's outcome"); $move_count++;
            ok($s_bytes eq $d_bytes, "$what: the same stream as dir's"); $move_count++;
        } elsif (pve8_non_image($from) && $from =~ /\.ov[af]$/) {
            # Deliberate (PVE 8): dir hands the file to qemu-img as format ova or ovf; PVE 9's
            # dir, and swift on every release, send the file as it is.
            like(norm($d_outcome->{error}), qr/^command 'qemu-img convert -f ov[af] -O raw /,
                "$what: deliberate (PVE 8): dir's export fails in its own code");
            is($s_outcome->{error}, '', "$what: deliberate (PVE 8): swift exports it, as PVE 9's dir");
            ok(defined($swift_payload) && $swift_payload eq slurp(path_of("srcswift:$from")), "$what: swift's stream carries the file as it is");
            $deliberate++;
        } else {
            note("$what: dir's export fails here (" . printable(norm($d_outcome->{error})) . '), swift: '
                . ($s_outcome->{error} eq '' ? 'exports' : printable($s_outcome->{error})));
        }
    }
    my %result;
    for my $direction (@directions) {
        my ($src, $dst) = @$direction;
        my ($export, $import) = transfer("$src:$from", "$dst:$to", $format, $ws, 0);
        my $view = import_view($import);
        my $fp = $view->{error} eq '' ? fingerprint($dst, $view->{result}->[0], $kind) : undef;
        # internal snapshots: the same list as the source's (sources made at different times)
        if ($fp && $fp->{snapshots}) {
            $fp->{snapshots_as_source} = is_deeply($fp->{snapshots}, snapshot_list(path_of("$src:$from")),
                "$what, $src>$dst: the snapshot list of the source (id, name, VM state, dates, clock)") ? 'yes' : 'no';
            $fp->{snapshots} = [map { (split(' ', $_))[1] } $fp->{snapshots}->@*];
            $move_count++;
        }
        my %check;
        if ($view->{error} eq '' && ($kind eq 'qcow2' || $kind eq 'vmdk' || $kind eq 'raw') && $from !~ m{^(iso|vztmpl|snippets|import)/}) {
            my $target = path_of($view->{result}->[0] =~ s/^<storeid>:/$dst:/r);
            my @f = $kind eq 'raw' ? ('-F', 'raw') : ('-F', $kind);
            $check{compare} = img('compare', @f, path_of("$src:$from"), $target) ? 'same disk' : 'differs';
            $check{check} = img('check', '-f', $kind, $target) ? 'clean' : 'not clean' if $kind eq 'qcow2';
        }
        $result{"$src>$dst"} = { export => norm($export), import => $view, data => $fp, check => \%check,
            tree => tree($root{$dst}), stderr => $import->{stderr} };
        reset_storage($dst);
    }
    if (pve8_non_image($from)) {
        pve8_non_image_move($what, $to, \%result, $dir_export_fails, $swift_payload);
        next;
    }
    # The reference is dir -> dir, unless dir's own export fails on this machine
    # (qemu-img convert into a pipe): then swift -> dir.
    my $ref_key = $dir_export_fails ? 'srcswift>dstdir' : 'srcdir>dstdir';
    my $ref = $result{$ref_key};
    note("$what: dir's outcome: " . describe($ref->{import}) . ($ref_key ne 'srcdir>dstdir' ? " (reference $ref_key)" : ''));
    for my $key (sort keys %result) {
        next if $key eq $ref_key;
        my $got = $result{$key};
        if ($key =~ /^srcdir>/ && $dir_export_fails) {
            note("$what ($key): skipped, dir's export fails: " . printable($got->{export}->{error}));
            next;
        }
        my $label = "$what, $key";
        if ($key =~ /dstswift/ && $got->{import}->{error} ne '' && $got->{import}->{error} ne $ref->{import}->{error}
            && (my $deliberate = deliberate_refusal($got->{import}->{error}))) {
            pass("$label: deliberately refused by swift ($deliberate): " . printable($got->{import}->{error})
                . ($ref->{import}->{error} ne '' ? ' (dir refuses too: ' . printable($ref->{import}->{error}) . ')' : ''));
            is_deeply($got->{tree}, tree_after_reset($key), "$label: the refusal leaves the storage as it was");
            $move_count += 2;
            next;
        }
        is($got->{export}->{error}, '', "$label: exported") if $ref->{export}->{error} eq '';
        is_deeply($got->{import}, $ref->{import}, "$label: the same import outcome as $ref_key"); $move_count++;
        is_deeply($got->{data}, $ref->{data}, "$label: the same data as $ref_key"); $move_count++;
        is_deeply($got->{check}, $ref->{check}, "$label: qemu-img compare/check as $ref_key"); $move_count++;
        is_deeply($got->{tree}, $ref->{tree}, "$label: the same storage tree as $ref_key"); $move_count++;
    }
    if ($ref->{import}->{error} eq '' && !defined($ref->{data}->{backing})) {
        is($ref->{check}->{compare} // 'same disk', 'same disk', "$what: $ref_key moved the disk intact");
    }
    if ($kind eq 'tar' && $ref->{import}->{error} eq '') {
        is_deeply($result{'srcswift>dstswift'}->{data}->{tree}, ct_tree(path_of("srcswift:$from")), "$what: swift -> swift keeps the tree");
        is_deeply($result{'srcdir>dstswift'}->{data}->{tree}, ct_tree(path_of("srcdir:$from")), "$what: dir -> swift keeps the tree");
    }
    if ($kind eq 'qcow2' && $ref->{import}->{error} eq '') {
        is($result{'srcdir>dstswift'}->{data}->{snapshots_as_source}, 'yes', "$what: dir -> swift keeps the snapshots");
        is($result{'srcswift>dstdir'}->{data}->{snapshots_as_source}, 'yes', "$what: swift -> dir keeps the snapshots");
    }
}
note("(b) move comparisons: $move_count");
$comparisons += $move_count;

# A move of non-image content on PVE 8 (see $PVE8_DIR_IMPORT_FAILS). Deliberate: dir's import
# fails in its own code, from either source; swift's imports, from either source, write the
# stream into the file as PVE 9's dir does, and agree with each other.
sub pve8_non_image_move {
    my ($what, $to, $result, $dir_export_fails, $payload) = @_;
    my @into_dir = grep { /dstdir$/ && !(/^srcdir>/ && $dir_export_fails) } sort keys %$result;
    my @into_swift = grep { /dstswift$/ && !(/^srcdir>/ && $dir_export_fails) } sort keys %$result;
    for my $key (@into_dir) {
        like($result->{$key}->{import}->{error}, $PVE8_DIR_IMPORT_FAILS, "$what, $key: deliberate (PVE 8): dir's import fails in its own code");
    }
    if (@into_dir == 2) {
        is_deeply($result->{$into_dir[1]}->{$_}, $result->{$into_dir[0]}->{$_}, "$what, $into_dir[1]: the same $_ as $into_dir[0]")
            for qw(import tree);
        $move_count += 2;
    }
    my $rel = substr(path_of("dstswift:$to"), length($root{dstswift}) + 1);
    for my $key (@into_swift) {
        my $got = $result->{$key};
        is_deeply([$got->{export}->{error}, $got->{import}->{error}, $got->{import}->{result}], ['', '', ["<storeid>:$to"]],
            "$what, $key: deliberate (PVE 8): swift imports it, as PVE 9's dir");
        is_deeply($got->{data}, { size => length($payload // ''), sha => Digest::SHA::sha256_hex($payload // '') },
            "$what, $key: the file holds the stream's data");
        is_deeply($got->{tree}, { %{ tree($root{dstswift}) }, $rel => 'file 0644' }, "$what, $key: swift adds that file only");
        $deliberate++;
    }
    if (@into_swift == 2) {
        is_deeply($result->{$into_swift[0]}->{$_}, $result->{$into_swift[1]}->{$_}, "$what, $into_swift[0]: the same $_ as $into_swift[1]")
            for qw(import data tree);
        $move_count += 3;
    }
    note("$what: dir: " . describe($result->{$into_dir[0]}->{import}) . '; swift: ' . describe($result->{$into_swift[0]}->{import}));
}

# Compares export outcomes: error and warnings, then the returned list (see %KNOWN).
sub same_export {
    my ($got, $expected, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %got = %$got;
    my %expected = %$expected;
    my ($got_result, $expected_result) = (delete $got{result}, delete $expected{result});
    my $ok = same(\%got, \%expected, $name);
    {
        is_deeply($got_result, $expected_result, "$name (returned list)");
    }
    return $ok;
}

sub tree_after_reset {
    my ($key) = @_;
    my ($dst) = $key =~ />(\w+)$/;
    return tree($root{$dst});
}

# A swift refusal of the deliberate list: its name, or undef.
sub deliberate_refusal {
    my ($error) = @_;
    return 'image with a backing file' if $error =~ /^import: refusing a (?:qcow2|vmdk) image with a backing file/;
    return 'image with a data file' if $error =~ /^import: the stream is not a usable qcow2 image - refusing an image with an external data file/;
    return 'virtual size differs' if $error =~ /^import: the image's virtual size \d+ differs from the announced size/;
    return 'longer than announced' if $error =~ /^import: the stream is longer than the announced size/;
    return 'shorter than announced' if $error =~ /^import: the stream ended after \d+ of \d+ bytes/;
    return undef;
}

# ---------------------------------------------------------------------------------------
# (c) Refusals

my $refusal_count = 0;
{
    # Exports that must fail, or not, as dir's.
    my @exports = (
        ['100/vm-100-disk-0.raw', 'qcow2+size', undef, undef, 1],
        ['100/vm-100-disk-0.raw', 'vmdk+size', undef, undef, 1],
        ['100/vm-100-disk-0.raw', 'tar+size', undef, undef, 0],
        ['100/vm-100-disk-0.raw', 'raw+size', undef, undef, 1],
        ['100/vm-100-disk-0.raw', 'zfs', undef, undef, 0],
        ['100/vm-100-disk-0.raw', 'raw+size', 's1', undef, 0],
        ['100/vm-100-disk-0.raw', 'raw+size', undef, 'b1', 0],
        ['100/vm-100-disk-1.qcow2', 'qcow2+size', undef, undef, 0],
        ['100/vm-100-disk-1.qcow2', 'raw+size', undef, undef, 1],
        ['100/vm-100-disk-1.qcow2', 'vmdk+size', undef, undef, 1],
        ['100/vm-100-disk-1.qcow2', 'qcow2+size', 'first', undef, 1],
        ['100/vm-100-disk-1.qcow2', 'qcow2+size', undef, 'first', 1],
        ['100/vm-100-disk-2.vmdk', 'qcow2+size', undef, undef, 1],
        ['100/subvol-100-disk-5.subvol', 'raw+size', undef, undef, 0],
        ['100/subvol-100-disk-5.subvol', 'tar+size', undef, undef, 1],
        ['100/subvol-100-disk-5.subvol', 'tar+size', 'snap', undef, 0],
        ['iso/test.iso', 'tar+size', undef, undef, 0],
        ['iso/test.iso', 'qcow2+size', undef, undef, 1],
        ['iso/test.iso', 'raw+size', undef, undef, 1],
        ['backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst', 'raw+size', undef, undef, 0],
        ['backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst', 'tar+size', undef, undef, 0],
        ['import/vm.ova/disk.vmdk', 'raw+size', undef, undef, 0],
        ['100/vm-100-disk-0.vmdk', 'raw+size', undef, undef, 0, 'fake vmdk'],
    );
    for my $case (@exports) {
        my ($volname, $format, $snap, $bsnap, $ws) = @$case;
        my %got;
        for my $sid (qw(srcdir srcswift)) {
            my ($outcome, $bytes) = export_stream("$sid:$volname", $format, $snap, $bsnap, $ws);
            $got{$sid} = { %{ norm($outcome) }, stream => Digest::SHA::sha256_hex($bytes), length => length($bytes) };
        }
        my $what = "export $volname as $format" . ($ws ? ' with snapshots' : '') . (defined($snap) ? " snapshot $snap" : '')
            . (defined($bsnap) ? " base $bsnap" : '');
        # the stream of a tar export differs (timestamps of the archive); its outcome may not
        if ($format eq 'tar+size' && $got{srcdir}->{error} eq '') {
            delete $got{$_}->@{qw(stream length)} for keys %got;
        }
        if ($volname =~ m{\.ova/}) {
            # Deliberate: dir hands 'ova+<fmt>' to qemu-img as a format and fails after the header.
            like($got{srcdir}->{error}, qr/^command 'qemu-img convert -f ova\+/, "$what: dir fails in qemu-img");
            is($got{srcswift}->{error}, "export: '$volname' is a disk inside an OVA archive; only the archive itself can be exported\n",
                "$what: deliberate: swift refuses it by name");
            $deliberate++;
        } elsif ($volname eq '100/vm-100-disk-0.vmdk') {
            # Deliberate: a missing image is named (dir reports qemu-img's failed conversion into /dev/stdout).
            is($got{srcswift}->{error}, "export: cannot open '<path>/images/$volname' - No such file or directory\n",
                "$what: deliberate: swift names the missing file") or diag($got{srcswift}->{error});
            $deliberate++;
        } else {
            same_export($got{srcswift}, $got{srcdir}, "$what: as dir"); $refusal_count++;
        }
        note("$what: dir: " . describe($got{srcdir}) . '; swift: ' . describe($got{srcswift}));
    }

    # Volume chains: no export with snapshots.
    if (host_has_volume_chain()) {
        my %chain;
        for my $sid (qw(srcdir srcswift)) {
            local $cfg->{ids}->{$sid}->{'snapshot-as-volume-chain'} = 1;
            my ($outcome, $bytes) = export_stream("$sid:100/vm-100-disk-1.qcow2", 'qcow2+size', undef, undef, 1);
            $chain{$sid} = { %{ norm($outcome) }, length => length($bytes) };
        }
        same($chain{srcswift}, $chain{srcdir}, 'export with snapshots from a volume-chain storage: as dir'); $refusal_count++;
        note('volume chain export: dir: ' . describe($chain{srcdir}));
    } else {
        SKIP: { skip(no_volume_chain() . ': no export from a volume-chain storage', 1) }
    }

    # Imports that must fail, or not, as dir's: [volname, format, stream, ws, rename, snap, base].
    my $raw4k = header(4096) . ('x' x 4096);
    qemu_img('create', '-f', 'qcow2', "$base/clean.qcow2", '1M');
    my $clean_qcow2 = header($MiB) . slurp("$base/clean.qcow2");
    unlink("$base/clean.qcow2");
    my @imports = (
        ['301/vm-301-disk-0.raw', 'zfs', $raw4k, 0],
        ['301/vm-301-disk-0.raw', 'raw', $raw4k, 0],
        ['301/vm-301-disk-0.qcow2', 'qcow2+size', $raw4k, 0],
        ['301/vm-301-disk-0.vmdk', 'vmdk+size', $raw4k, 0],
        ['301/vm-301-disk-0.raw', 'raw+size', $raw4k, 1],
        ['301/subvol-301-disk-0.subvol', 'tar+size', header(0) . ("\0" x 1024), 1],
        ['301/vm-301-disk-0.qcow2', 'raw+size', $raw4k, 0],
        ['301/vm-301-disk-0.raw', 'qcow2+size', $raw4k, 1],
        ['301/vm-301-disk-0.raw', 'tar+size', $raw4k, 0],
        ['301/subvol-301-disk-0.subvol', 'raw+size', $raw4k, 0],
        ['301/subvol-301-disk-0.subvol', 'tar+size', header(4096) . ("\0" x 1024), 0],
        ['backup/vzdump-qemu-301-2024_01_01-00_00_00.vma.zst', 'raw+size', $raw4k, 0],
        ['301/vm-301-disk-0.raw', 'raw+size', 'abc', 0],
        ['301/vm-301-disk-0.raw', 'raw+size', '', 0],
        ['iso/new.iso', 'raw+size', '', 0],
        ['301/vm-301-disk-0.raw', 'raw+size', $raw4k, 0, 0, 's1'],
        ['301/vm-301-disk-0.raw', 'raw+size', $raw4k, 0, 0, undef, 'b1'],
        ['301/base-301-disk-0.raw', 'raw+size', $raw4k, 0],
        ['301/vm-302-disk-0.raw', 'raw+size', $raw4k, 0],
        ['301/notadisk.raw', 'raw+size', $raw4k, 0],
        ['301/vm-301-disk-0.raw', 'raw+size', header(1000) . ('y' x 1000), 0],
        ['301/vm-301-disk-0.raw', 'raw+size', header(0), 0],
        ['iso/new.iso', 'raw+size', header(3) . 'abc', 0],
        ['vztmpl/new.tar.gz', 'raw+size', header(3) . 'abc', 0],
        ['snippets/new.yaml', 'raw+size', header(3) . 'abc', 0],
        ['import/new.ova', 'raw+size', header(3) . 'abc', 0],
        ['import/new.ova/disk.vmdk', 'raw+size', header(3) . 'abc', 0],
        ['rootdir/301', 'raw+size', $raw4k, 0],
        ['rootdir/301', 'tar+size', header(0) . ("\0" x 1024), 0],
        ['301/vm-301-disk-0.qcow2', 'qcow2+size', $clean_qcow2, 1],
        ['100/base-100-disk-3.raw/301/vm-301-disk-5.raw', 'raw+size', $raw4k, 0, 0, undef, undef, 'linked clone name'],
        ['100/base-100-disk-4.qcow2/301/vm-301-disk-6.qcow2', 'qcow2+size', $clean_qcow2, 1, 0, undef, undef, 'linked clone name'],
        ['100/base-100-disk-4.qcow2/301/vm-301-disk-6.qcow2', 'raw+size', $raw4k, 0],
        ['301/base-301-disk-0.qcow2', 'qcow2+size', $clean_qcow2, 1],
        ['301/subvol-301-disk-0.subvol', 'tar+size', header(0) . ("\0" x 1024), 0],
    );
    for my $case (@imports) {
        my ($volname, $format, $bytes, $ws, $rename, $snap, $bsnap, $known) = @$case;
        my (%got, %file, %clean);
        for my $sid (qw(dstdir dstswift)) {
            my $outcome = import_stream("$sid:$volname", $format, $bytes, $snap, $bsnap, $ws, $rename);
            $got{$sid} = { %{ import_view($outcome) }, tree => tree($root{$sid}) };
            my $target = eval { path_of("$sid:$volname") };
            $file{$sid} = defined($target) && -f $target ? slurp($target) : undef;
            reset_storage($sid);
            $clean{$sid} = tree($root{$sid});
        }
        my $what = "import into $volname as $format" . ($ws ? ' with snapshots' : '') . (defined($snap) ? " snapshot $snap" : '')
            . (defined($bsnap) ? " base $bsnap" : '') . ' (' . length($bytes) . ' bytes)';
        if (pve8_non_image($volname) && $volname !~ m{\.ova/} && length($bytes) > 8) {
            # Deliberate (PVE 8): dir fails in its own code; swift writes the file, as PVE 9's dir.
            like($got{dstdir}->{error}, $PVE8_DIR_IMPORT_FAILS, "$what: deliberate (PVE 8): dir's import fails in its own code");
            is_deeply([$got{dstswift}->{error}, $got{dstswift}->{result}], ['', ["<storeid>:$volname"]],
                "$what: deliberate (PVE 8): swift imports it, as PVE 9's dir");
            is($file{dstswift}, substr($bytes, 8), "$what: swift's file holds the stream's data");
            my $rel = substr(path_of("dstswift:$volname"), length($root{dstswift}) + 1);
            is_deeply($got{dstswift}->{tree}, { %{ $clean{dstswift} }, $rel => 'file 0644' }, "$what: swift adds that file only");
            note("$what: dir: " . describe($got{dstdir}) . '; swift: ' . describe($got{dstswift}));
            $deliberate++;
            next;
        }
        if ($volname =~ m{\.ova/}) {
            # Deliberate: dir's dd fails to create a file inside the (missing) archive; PVE 8's
            # dir does not get that far: its check meant for images refuses the format ova+vmdk.
            like($got{dstdir}->{error}, host_release() < 9 ? qr/^cannot import format raw\+size into a file of format ova\+vmdk\n\z/ : qr/^command 'dd /,
                "$what: dir fails " . (host_release() < 9 ? 'on the format' : 'in dd'));
            is($got{dstswift}->{error}, "import: '$volname' is a disk inside an OVA archive; only whole files can be imported\n",
                "$what: deliberate: swift refuses it by name");
            is_deeply($got{dstswift}->{tree}, $got{dstdir}->{tree}, "$what: both storages as they were");
            $deliberate++;
            next;
        }
        if (host_release() < 9 && $volname =~ m{^backup/}) {
            # Deliberate (PVE 8): dir fails in alloc_image, warns and leaves an empty
            # images/<vmid>; swift refuses with PVE 9's message and leaves nothing.
            like($got{dstdir}->{error}, qr/^unable to parse volume filename '[^']*'\n\z/, "$what: deliberate (PVE 8): dir fails in alloc_image");
            is($got{dstswift}->{error}, "importing volume of type 'backup' not implemented\n", "$what: swift refuses it, as PVE 9's dir");
            is_deeply($got{dstswift}->{tree}, $clean{dstswift}, "$what: swift's storage as it was");
            $deliberate++;
            next;
        }
        local $TODO = $known ? $KNOWN{$known} : undef;
        same($got{dstswift}, $got{dstdir}, "$what: as dir");
        $refusal_count++ if !$TODO;
        note("$what: dir: " . describe($got{dstdir}) . '; swift: ' . describe($got{dstswift}));
    }

    # Existing targets, with and without allow_rename.
    for my $case (['100/vm-100-disk-0.raw', 'raw+size', 0], ['100/vm-100-disk-1.qcow2', 'qcow2+size', 1],
        ['100/subvol-100-disk-5.subvol', 'tar+size', 0], ['iso/test.iso', 'raw+size', 0], ['snippets/hook.pl', 'raw+size', 0]) {
        my ($volname, $format, $ws) = @$case;
        for my $rename (0, 1) {
            my (%got, %clean);
            for my $pair (['srcdir', 'dstdir'], ['srcswift', 'dstswift']) {
                my ($src, $dst) = @$pair;
                my (undef, $first) = transfer("$src:$volname", "$dst:$volname", $format, $ws, 0);
                my ($export, $second) = transfer("$src:$volname", "$dst:$volname", $format, $ws, $rename);
                $got{$dst} = { first => import_view($first), second => import_view($second), tree => tree($root{$dst}) };
                reset_storage($dst);
                $clean{$dst} = tree($root{$dst});
            }
            my $what = "import into an existing $volname" . ($rename ? ' with allow_rename' : '');
            if (pve8_non_image($volname)) {
                # Deliberate (PVE 8): dir's first import already fails in its own code; swift's
                # succeeds and the second is refused, with allow_rename too, as by PVE 9's dir.
                my $rel = substr(path_of("dstswift:$volname"), length($root{dstswift}) + 1);
                like($got{dstdir}->{first}->{error}, $PVE8_DIR_IMPORT_FAILS, "$what: deliberate (PVE 8): dir cannot import it at all");
                is_deeply([$got{dstswift}->{first}->{error}, $got{dstswift}->{first}->{result}], ['', ["<storeid>:$volname"]],
                    "$what: deliberate (PVE 8): swift imports it the first time, as PVE 9's dir");
                is_deeply([$got{dstswift}->{second}->{error}, $got{dstswift}->{second}->{result}],
                    ["file '<path>/$rel' already exists\n", []], "$what: swift refuses the second, as PVE 9's dir");
                is_deeply($got{dstswift}->{tree}, { %{ $clean{dstswift} }, $rel => 'file 0644' }, "$what: swift holds the one file");
                note("$what: dir: " . describe({ %{ $got{dstdir}->{first} } }));
                $deliberate++;
                next;
            }
            is_deeply($got{dstswift}, $got{dstdir}, "$what: as dir"); $refusal_count++;
            note("$what: dir: " . describe({ %{ $got{dstdir}->{second} } }));
        }
    }
}
note("(c) refusal comparisons: $refusal_count");
$comparisons += $refusal_count;

# ---------------------------------------------------------------------------------------
# Deliberate differences

{
    # Exporting a missing file.
    my %got;
    for my $sid (qw(srcdir srcswift)) {
        my ($outcome, $bytes) = export_stream("$sid:100/vm-100-disk-9.raw", 'raw+size', undef, undef, 0);
        $got{$sid} = [norm($outcome), $bytes];
    }
    like($got{srcdir}->[0]->{error}, qr/^command 'dd '?if=.*' failed: exit code 1\n$/, 'missing file: dir fails in dd');
    is($got{srcdir}->[1], header(0), 'missing file: dir has written a zero header');
    like($got{srcswift}->[0]->{error}, qr{^export: cannot open '<path>/images/100/vm-100-disk-9\.raw'}, 'missing file (deliberate): swift: export: cannot open ...');
    is($got{srcswift}->[1], header(0), 'missing file: swift has written the same zero header');
    note('missing file: dir: ' . printable($got{srcdir}->[0]->{error}) . '; swift: ' . printable($got{srcswift}->[0]->{error}));
    $deliberate++;

    # Hostile or inconsistent streams: dir writes them, swift refuses and leaves nothing.
    my $q = slurp(path_of('srcdir:100/vm-100-disk-1.qcow2'));
    run_quiet('/usr/bin/qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname', "$base/backed.qcow2", '1M') or die;
    run_quiet('/usr/bin/qemu-img', 'create', '-f', 'qcow2', '-o', "data_file=$base/data.raw", "$base/datafile.qcow2", '1M') or die;
    run_quiet('/usr/bin/qemu-img', 'create', '-f', 'vmdk', '-F', 'raw', '-b', '/etc/hostname', "$base/backed.vmdk", '1M');
    my @cases = (
        ['longer than announced', '302/vm-302-disk-0.raw', 'raw+size', 0, header(4096) . ('d' x 8192)],
        ['shorter than announced', '302/vm-302-disk-0.raw', 'raw+size', 0, header($MiB) . ('d' x 102400)],
        ['virtual size differs', '302/vm-302-disk-0.qcow2', 'qcow2+size', 1, header(2 * $MiB) . $q],
        ['image with a backing file', '302/vm-302-disk-0.qcow2', 'qcow2+size', 1, header($MiB) . slurp("$base/backed.qcow2")],
        ['image with a data file', '302/vm-302-disk-0.qcow2', 'qcow2+size', 1, header($MiB) . slurp("$base/datafile.qcow2")],
        (-e "$base/backed.vmdk" ? (['image with a backing file', '302/vm-302-disk-0.vmdk', 'vmdk+size', 1, header($MiB) . slurp("$base/backed.vmdk")]) : ()),
    );
    for my $case (@cases) {
        my ($name, $volname, $format, $ws, $bytes) = @$case;
        my $d = import_stream("dstdir:$volname", $format, $bytes, undef, undef, $ws, 0);
        my $d_file = path_of("dstdir:$volname");
        my $d_size = -s $d_file;
        reset_storage('dstdir');
        my $before = tree($root{dstswift});
        my $s = import_stream("dstswift:$volname", $format, $bytes, undef, undef, $ws, 0);
        is($d->{error}, '', "$name: dir imports it ($volname, file of " . ($d_size // 'no') . ' bytes)');
        my $named = deliberate_refusal($s->{error}) // '';
        is($named, $name, "$name (deliberate): swift refuses: " . printable($s->{error}));
        is_deeply(tree($root{dstswift}), $before, "$name: swift leaves the storage as it was");
        reset_storage('dstswift');
        $deliberate++;
    }
    unlink("$base/backed.qcow2", "$base/datafile.qcow2", "$base/data.raw", "$base/backed.vmdk");

    # raw+size under a sector short: accepted by both; what the file holds.
    for my $short (1, 511, 512, 1024) {
        my %got;
        for my $sid (qw(dstdir dstswift)) {
            my $o = import_stream("$sid:303/vm-303-disk-0.raw", 'raw+size', header(8192) . ('s' x (8192 - $short)), undef, undef, 0, 0);
            my $file = path_of("$sid:303/vm-303-disk-0.raw");
            $got{$sid} = { error => $o->{error}, size => -s $file, sha => (-e $file ? sha_file($file) : undef) };
            reset_storage($sid);
        }
        is($got{dstdir}->{error}, '', "$short bytes short: dir imports");
        if ($short < 512) {
            is($got{dstswift}->{error}, '', "$short bytes short (deliberate tolerance, under a sector): swift imports");
        } else {
            is(deliberate_refusal($got{dstswift}->{error}) // '', 'shorter than announced', "$short bytes short (deliberate): swift refuses");
        }
        note("$short bytes short: dir: file of " . ($got{dstdir}->{size} // 'none') . ' bytes; swift: '
            . ($got{dstswift}->{error} eq '' ? 'file of ' . $got{dstswift}->{size} . ' bytes' : printable($got{dstswift}->{error})));
        if ($got{dstswift}->{error} eq '') {
            is_deeply($got{dstswift}, $got{dstdir}, "$short bytes short: the same file as dir's");
        }
        $deliberate++;
    }
}
note("deliberate differences asserted: $deliberate");

# The "Formatting ..." line (see import_view): dir's image imports print it (they create an
# empty image with qemu-img first, then overwrite it); swift's write the stream into a
# new file and create none. Deliberate.
cmp_ok($formatting_lines, '>', 0, 'deliberate: dir printed "Formatting ..." lines that swift, creating no empty image first, did not');

note("comparisons with dir: $comparisons (formats, moves, streams, refusals), deliberate differences: $deliberate");
done_testing();
