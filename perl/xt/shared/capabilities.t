#!/usr/bin/perl -T
# Contract (what follows the file system): each capability a directory storage may
# depend on, probed with the system calls themselves (FSProbe.pm) on the shared lane's
# file system (CephFS through ceph-fuse or MooseFS through mfsmount, SharedFS.pm) and,
# as references, on loop-mounted XFS (with reflinks), btrfs and ext4 -- and what the
# plugin answers and does there, against what PVE's dir does on the same mount:
#
# - reflinks (FICLONE): raw snapshots and replication where the file system clones,
#   dir's refusal ("can't snapshot this image format") elsewhere;
# - the immutable flag (chattr +i): templates get it where it exists; elsewhere a
#   warning, as dir warns when its chattr fails (checked by running dir's chattr);
# - preallocation (off, metadata, falloc, full): every mode allocates what qemu-img
#   gives dir's own command on that mount (MooseFS has no fallocate: glibc's
#   posix_fallocate writes zeros instead);
# - holes and st_blocks: the 'used' size of a listing is st_blocks, as dir's
#   (qemu-img's actual-size), the file size where the file system counts no holes; an
#   export reads holes as zeros where SEEK_DATA finds none, and an import leaves holes;
# - renameat2's flags and O_TMPFILE: the plugin never needs them (its no-replace
#   rename falls back to link and unlink; it makes no O_TMPFILE files).
#
# SPVE_SHARED_REFERENCES=0 leaves the reference file systems out (make check-shared
# runs them with the first rig only). Needs root (see SharedFS.pm).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use SharedFS;
use StreamTest;
use FSProbe qw(probe_filesystem is_immutable CAPABILITIES);

load_host();
$ENV{TZ} = 'UTC';
my $MiB = 1024 * 1024;

my ($A) = shared_storage();
my @filesystems = ([shared_fs_name(), $A]);
if (($ENV{SPVE_SHARED_REFERENCES} // '1') ne '0') {
    push @filesystems, map { [$_->[0], { type => 'swift', path => loop_mounted_dir($_->[1]),
        content => { images => 1, rootdir => 1 } }] } (['XFS', 'xfs'], ['btrfs', 'btrfs'], ['ext4', 'ext4']);
}

# What each file system answers to the probes (FSProbe.pm).
my %local = (reflink => 'ok', immutable => 'ok', fallocate => 'ok', keep_size => 'ok', punch_hole => 'ok', zero_range => 'ok',
    allocates => 'yes', seek => 'holes', blocks => 'sparse', tmpfile => 'ok', noreplace => 'ok', exchange => 'ok', link => 'ok',
    xattr => 'ok', fiemap => 'ok', mtime => 'ns');
my %PROBES = (
    CephFS => { %local, reflink => 'EOPNOTSUPP', immutable => 'EINVAL', zero_range => 'EOPNOTSUPP', seek => 'all data',
        blocks => 'size', tmpfile => 'EOPNOTSUPP', noreplace => 'EINVAL', exchange => 'EINVAL', fiemap => 'EOPNOTSUPP' },
    MooseFS => { %local, reflink => 'EOPNOTSUPP', immutable => 'ENOTTY', (map { $_ => 'EOPNOTSUPP' } qw(fallocate keep_size punch_hole zero_range)),
        allocates => '-', seek => 'all data', blocks => 'size', tmpfile => 'EOPNOTSUPP', noreplace => 'EINVAL', exchange => 'EINVAL',
        fiemap => 'EOPNOTSUPP', mtime => 'seconds' },
    XFS => { %local },
    btrfs => { %local },
    ext4 => { %local, reflink => 'EOPNOTSUPP' },
);

# Where the immutable flag cannot be set: the plugin's error text, and chattr's (dir's command).
my %NO_IMMUTABLE = (
    CephFS => ['Invalid argument', 'Invalid argument'],
    MooseFS => ['Inappropriate ioctl for device', 'Operation not supported'],
);

# Allocation of a 16 MiB image, per format and preallocation mode, as st_blocks tells it:
# none (under a quarter of the size), all (at least the size), or partial.
my %sparse_allocation = ('raw off' => 'none', 'raw falloc' => 'all', 'raw full' => 'all',
    'qcow2 off' => 'none', 'qcow2 metadata' => 'none', 'qcow2 falloc' => 'all', 'qcow2 full' => 'all');
my %ALLOCATION = (
    # st_blocks is the file size: the file's length decides (metadata makes it the full size).
    CephFS => { %sparse_allocation, 'raw off' => 'all', 'qcow2 metadata' => 'all' },
    MooseFS => { %sparse_allocation, 'raw off' => 'all', 'qcow2 metadata' => 'all' },
    XFS => \%sparse_allocation, btrfs => \%sparse_allocation, ext4 => \%sparse_allocation,
);

my sub allocation {
    my ($path, $size) = @_;
    my $blocks = blocks_of($path);
    return $blocks >= $size ? 'all' : $blocks < $size / 4 ? 'none' : 'partial';
}

# Runs a program with a clean environment: (exit code, its standard error).
my sub run_program {
    my @command = map { untaint($_) } @_;
    local $ENV{PATH} = '/usr/bin:/bin';
    local @ENV{qw(IFS CDPATH ENV BASH_ENV)};
    my $errors = File::Temp->new();
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', $errors->filename);
        exec(@command) or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    open(my $fh, '<', $errors->filename) or die;
    return ($? >> 8, do { local $/; <$fh> } // '');
}

for my $filesystem (@filesystems) {
    my ($fs, $scfg) = @$filesystem;
    my $dir = $scfg->{path};
    note("$fs: $dir");
    is(dies { PLUGIN->activate_storage('s', $scfg, {}) }, '', "$fs: the storage activates");
    my $images = "$dir/images";

    # --- the probes ------------------------------------------------------------------------

    my $probe = probe_filesystem($images);
    is_deeply($probe, $PROBES{$fs}, "$fs: " . join(', ', map { "$_ $probe->{$_}" } CAPABILITIES));

    # --- reflinks: raw snapshots and replication ------------------------------------------

    my $clones = $fs eq 'XFS' || $fs eq 'btrfs';
    my $raw = PLUGIN->alloc_image('s', $scfg, 100, 'raw', undef, 1024);
    is(PLUGIN->volume_has_feature($scfg, 'snapshot', 's', $raw, undef, 0) ? 1 : 0, $clones ? 1 : 0,
        "$fs: a raw disk " . ($clones ? 'offers' : 'does not offer') . ' snapshots');
    is(dies { PLUGIN->volume_snapshot($scfg, 's', $raw, 'first') }, $clones ? '' : "can't snapshot this image format\n",
        $clones ? "$fs: a raw snapshot is a reflink copy" : "$fs: a raw snapshot is refused with dir's message (dir refuses it everywhere)");
    is(-e "$images/$raw\@first" ? 1 : 0, $clones ? 1 : 0, "$fs: ... its file is " . ($clones ? 'there' : 'not there'));
    PLUGIN->volume_snapshot_delete($scfg, 's', $raw, 'first', 0) if $clones;
    is(PLUGIN->storage_can_replicate($scfg, 's', 'raw'), $clones ? 1 : 0, "$fs: storage_can_replicate of raw: " . ($clones ? 1 : 0));
    is_deeply(temporaries_below($images), [], "$fs: the probes left no file behind");

    # --- the immutable flag of templates ------------------------------------------------------

    my $qcow2 = PLUGIN->alloc_image('s', $scfg, 100, 'qcow2', undef, 1024);
    my ($warnings, $base) = warnings_of { PLUGIN->create_base('s', $scfg, $qcow2) };
    my $path = "$images/$base";
    my $chattr_file = "$images/chattr-probe";
    make_file($chattr_file);
    my ($chattr, $chattr_errors) = run_program('/usr/bin/chattr', '+i', $chattr_file);
    if (my $errors = $NO_IMMUTABLE{$fs}) {
        is_deeply($warnings, ["unable to set the immutable flag of '$path' - $errors->[0]\n"], "$fs: create_base warns that there is no immutable flag");
        is($chattr, 1, "$fs: ... where dir's chattr +i fails too, so dir warns \"command '/usr/bin/chattr +i $path' failed: exit code 1\"");
        is($chattr_errors, "/usr/bin/chattr: $errors->[1] while reading flags on $chattr_file\n", "$fs: ... after chattr's own message");
        is(is_immutable($path), undef, "$fs: ... the template's flags cannot be read");
    } else {
        is_deeply($warnings, [], "$fs: create_base sets the immutable flag without a warning");
        is(is_immutable($path), 1, "$fs: ... the template is immutable");
        is($chattr, 0, "$fs: ... as dir's chattr +i makes it");
        run_program('/usr/bin/chattr', '-i', $chattr_file);
    }
    unlink($chattr_file);
    my ($free_warnings) = warnings_of { PLUGIN->free_image('s', $scfg, $base, 1, 'qcow2') };
    is_deeply($free_warnings, $NO_IMMUTABLE{$fs} ? ["unable to clear the immutable flag of '$path' - $NO_IMMUTABLE{$fs}[0]\n"] : [],
        "$fs: free_image of the template " . ($NO_IMMUTABLE{$fs} ? 'warns about the flag' : 'clears the flag silently'));
    ok(!-e $path, "$fs: ... and removes it");

    # --- preallocation -------------------------------------------------------------------------

    my (%plugin, %qemu_img);
    for my $case (sort keys %{ $ALLOCATION{$fs} }) {
        my ($format, $mode) = split(/ /, $case);
        my ($out, $volname) = eval { output_of { PLUGIN->alloc_image('s', { %$scfg, preallocation => $mode }, 101, $format, undef, 16384) } };
        if (!$volname) { $plugin{$case} = "error: $@"; next }
        $plugin{$case} = allocation("$images/$volname", 16 * $MiB);
        PLUGIN->free_image('s', $scfg, $volname, 0, $format);
        # dir's command: qemu-img create -o preallocation=<mode> -f <format> <path> 16384K
        my $direct = "$images/direct-$format-$mode";
        my ($code, $errors) = run_program('/usr/bin/qemu-img', 'create', '-o', "preallocation=$mode", '-f', $format, $direct, '16384K');
        $qemu_img{$case} = $code == 0 ? allocation($direct, 16 * $MiB) : "error: $errors";
        unlink($direct);
    }
    is_deeply(\%plugin, $ALLOCATION{$fs}, "$fs: alloc_image with each preallocation mode: "
        . join(', ', map { "$_ $plugin{$_}" } sort keys %plugin));
    is_deeply(\%qemu_img, \%plugin, "$fs: ... as dir's qemu-img create allocates on this mount");

    # --- holes, st_blocks, exports and imports ---------------------------------------------

    my $sparse = PLUGIN->alloc_image('s', $scfg, 102, 'raw', undef, 32 * 1024);
    {
        open(my $fh, '+<', "$images/$sparse") or die;
        sysseek($fh, 8 * $MiB, 0);
        syswrite($fh, join('', map { chr(65 + $_ % 26) x 4096 } 0 .. 255)) == $MiB or die "write: $!\n";
        close($fh);
    }
    my ($item) = PLUGIN->list_images('s', $scfg, 102)->@*;
    my $file_blocks = blocks_of("$images/$sparse");
    my $holes = $PROBES{$fs}{blocks} eq 'sparse';
    # (qemu-img create writes the first block of a raw image, which XFS allocates as 1 MiB there: 2 MiB in all.)
    ok($holes ? $item->{used} >= $MiB && $item->{used} <= 2 * $MiB : $item->{used} == 32 * $MiB,
        "$fs: list_images' used of 32 MiB with 1 MiB of data: $item->{used} (" . ($holes ? 'the data' : 'the whole file') . ')');
    is($item->{used}, qemu_img_info("$images/$sparse", 'raw')->{'actual-size'}, "$fs: ... dir's value (qemu-img's actual-size)");
    is($item->{used}, $file_blocks, "$fs: ... st_blocks");

    my ($stream, $error) = export_bytes($scfg, 's', $sparse, 'raw+size', 0);
    is($error, '', "$fs: raw+size export");
    my $content = do { open(my $fh, '<:raw', "$images/$sparse") or die; local $/; <$fh> };
    ok($stream eq header(32 * $MiB) . $content, "$fs: ... the stream is the size and every byte (holes as zeros)");
    my ($volid, $import_error) = import_bytes($scfg, 's', '103/vm-103-disk-0.raw', 'raw+size', $stream, 0, 0);
    is($import_error, '', "$fs: raw+size import");
    my $imported = "$images/103/vm-103-disk-0.raw";
    is(sha_file($imported), sha_file("$images/$sparse"), "$fs: ... the same bytes");
    my $allocated = blocks_of($imported);
    ok($holes ? $allocated >= $MiB && $allocated <= 2 * $MiB : $allocated == 32 * $MiB,
        "$fs: ... allocated $allocated bytes (" . ($holes ? 'the data: zeros are left as holes' : 'st_blocks is the size') . ')');

    # --- renames without renameat2's flags -------------------------------------------------

    is(PLUGIN->rename_volume($scfg, 's', $sparse, 104, undef), 's:104/vm-104-disk-0.raw',
        "$fs: rename_volume (renameat2 RENAME_NOREPLACE: $PROBES{$fs}{noreplace}" . ($PROBES{$fs}{noreplace} eq 'ok' ? '' : ', so link and unlink') . ')');
    is(sha_file("$images/104/vm-104-disk-0.raw"), sha_file($imported), "$fs: ... the disk under its new name");
    is(dies { PLUGIN->rename_volume($scfg, 's', '103/vm-103-disk-0.raw', 104, 'vm-104-disk-0.raw') },
        "target volume 'vm-104-disk-0.raw' already exists\n", "$fs: ... never onto another volume");

    PLUGIN->free_image('s', $scfg, $_, 0, 'raw') for ($raw, '103/vm-103-disk-0.raw', '104/vm-104-disk-0.raw');
    is_deeply(files_below($images), ['102'], "$fs: nothing left but the directory of 102 (a rename leaves it, as dir's)");
}

done_testing();
