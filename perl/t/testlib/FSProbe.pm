package FSProbe;

# What a file system really does, asked with the system calls themselves (no helper
# program): the capabilities a directory storage depends on, for the tests of
# perl/xt/shared (per file system) and bench/filesystems (the table of
# doc/filesystems.md). Each answer is 'ok' or the errno's name the call failed with,
# unless said otherwise:
#
#   reflink      FICLONE of a 64 KiB file into an empty one
#   immutable    FS_IOC_SETFLAGS with FS_IMMUTABLE_FL (chattr +i), cleared again
#   fallocate    fallocate(2) mode 0 (allocate, the size grows)
#   keep_size    fallocate FALLOC_FL_KEEP_SIZE
#   punch_hole   fallocate FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
#   zero_range   fallocate FALLOC_FL_ZERO_RANGE
#   allocates    after fallocate mode 0 of 4 MiB succeeded: whether st_blocks covers
#                them ('yes', 'no'), '-' when it failed
#   seek         SEEK_DATA/SEEK_HOLE on an 8 MiB file with 1 MiB of data at 4 MiB:
#                'holes' (data found at 4 MiB), 'all data' (data at 0, the first
#                hole at the end: the calls work, no hole is ever reported), or the errno
#   blocks       st_blocks of a file of 8 MiB made by truncate: 'sparse' (nothing
#                allocated), 'size' (st_blocks covers the size) or the count in bytes
#   tmpfile      open(O_TMPFILE)
#   noreplace    renameat2(RENAME_NOREPLACE) onto a free name
#   exchange     renameat2(RENAME_EXCHANGE)
#   link         link(2)
#   xattr        setxattr of a user.* attribute
#   fiemap       FS_IOC_FIEMAP
#   mtime        'ns' when a fresh file's modification time has a fraction of a
#                second (one of five), 'seconds' otherwise
#
# Linux on x86_64 or aarch64 only (system call and ioctl numbers).

use strict;
use warnings;

use Config ();
use Errno ();
use Exporter qw(import);
use Fcntl qw(O_RDWR O_RDONLY O_WRONLY O_CREAT O_EXCL);
use Time::HiRes ();

our @EXPORT_OK = qw(probe_filesystem errno_name is_immutable CAPABILITIES);

use constant CAPABILITIES => qw(reflink immutable fallocate keep_size punch_hole zero_range allocates seek blocks
    tmpfile noreplace exchange link xattr fiemap mtime);

my %syscall = (
    x86_64 => { fallocate => 285, renameat2 => 316, setxattr => 188 },
    aarch64 => { fallocate => 47, renameat2 => 276, setxattr => 5 },
);
my ($arch) = $Config::Config{archname} =~ /^(x86_64|aarch64)-linux/;

use constant {
    FICLONE => 0x40049409,
    FS_IOC_GETFLAGS => 0x80086601,
    FS_IOC_SETFLAGS => 0x40086602,
    FS_IOC_FIEMAP => 0xC020660B,
    FS_IMMUTABLE_FL => 0x10,
    FALLOC_FL_KEEP_SIZE => 0x01,
    FALLOC_FL_PUNCH_HOLE => 0x02,
    FALLOC_FL_ZERO_RANGE => 0x10,
    RENAME_NOREPLACE => 1,
    RENAME_EXCHANGE => 2,
    AT_FDCWD => -100,
    O_TMPFILE => 0o20200000, # __O_TMPFILE | O_DIRECTORY
    SEEK_DATA => 3,
    SEEK_HOLE => 4,
    MiB => 1024 * 1024,
};

# The name of errno $number (EOPNOTSUPP rather than its alias ENOTSUP).
my %names;
sub errno_name {
    my ($number) = @_;
    if (!%names) {
        for my $name (reverse sort @Errno::EXPORT_OK) {
            my $value = eval { Errno->can($name)->() } // next;
            $names{$value} = $name if !$names{$value} || $name eq 'EOPNOTSUPP';
        }
    }
    return $names{ $number + 0 } // "errno $number";
}

my sub failure { return errno_name($! + 0) }

my sub create {
    my ($path, $bytes) = @_;
    sysopen(my $fh, $path, O_RDWR | O_CREAT | O_EXCL, 0o600) or die "cannot create $path: $!\n";
    syswrite($fh, $bytes) == length($bytes) or die "cannot write $path: $!\n" if defined($bytes) && length($bytes);
    return $fh;
}

my sub fallocate {
    my ($fh, $mode, $offset, $length) = @_;
    my $result = syscall($syscall{$arch}{fallocate}, fileno($fh), $mode, $offset, $length);
    return $result == 0 ? 'ok' : failure();
}

# Whether $path has the immutable flag (lsattr's 'i'); undef when its flags cannot be read.
sub is_immutable {
    my ($path) = @_;
    sysopen(my $fh, $path, O_RDONLY) or die "cannot open $path: $!\n";
    my $flags = pack('l!', 0);
    ioctl($fh, FS_IOC_GETFLAGS, $flags) or return undef;
    return (unpack('l!', $flags) & FS_IMMUTABLE_FL) ? 1 : 0;
}

# The capabilities of the file system of $dir (a directory the caller may write to;
# every probe file is removed again).
sub probe_filesystem {
    my ($dir) = @_;
    die "FSProbe: Linux on x86_64 or aarch64 only, not $Config::Config{archname}\n" if !$arch;
    my $base = sprintf('%s/.fsprobe.%d.%04x', $dir, $$, int(rand(65536)));
    my @made;
    my $name = sub { my $path = "$base.$_[0]"; push @made, $path; return $path };
    my %answer;
    my $ok = eval {
        # reflink
        my $data = 'x' x 65536;
        my $source = create($name->('source'), $data);
        my $target = create($name->('clone'));
        $answer{reflink} = ioctl($target, FICLONE, fileno($source)) ? 'ok' : failure();
        close($target);

        # immutable flag
        my $flags = pack('l!', 0);
        if (!ioctl($source, FS_IOC_GETFLAGS, $flags)) {
            $answer{immutable} = failure();
        } else {
            my $set = pack('l!', unpack('l!', $flags) | FS_IMMUTABLE_FL);
            if (ioctl($source, FS_IOC_SETFLAGS, $set)) {
                $answer{immutable} = 'ok';
                ioctl($source, FS_IOC_SETFLAGS, $flags) or die "cannot clear the immutable flag of $base.source: $!\n";
            } else {
                $answer{immutable} = failure();
            }
        }

        # fallocate modes
        my $falloc = create($name->('falloc'));
        $answer{fallocate} = fallocate($falloc, 0, 0, 4 * MiB);
        if ($answer{fallocate} eq 'ok') {
            my $blocks = (stat($falloc))[12];
            $answer{allocates} = $blocks * 512 >= 4 * MiB ? 'yes' : 'no';
        } else {
            $answer{allocates} = '-';
        }
        my $other = create($name->('keep'), 'y' x (2 * MiB));
        $answer{keep_size} = fallocate($other, FALLOC_FL_KEEP_SIZE, 2 * MiB, MiB);
        $answer{punch_hole} = fallocate($other, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, MiB);
        $answer{zero_range} = fallocate($other, FALLOC_FL_ZERO_RANGE, MiB, 65536);
        close($falloc);
        close($other);

        # holes: SEEK_DATA/SEEK_HOLE and st_blocks
        my $sparse = create($name->('sparse'));
        truncate($sparse, 8 * MiB) or die "truncate: $!\n";
        my $blocks = (stat($sparse))[12] * 512;
        $answer{blocks} = $blocks == 0 ? 'sparse' : $blocks >= 8 * MiB ? 'size' : $blocks;
        sysseek($sparse, 4 * MiB, 0) or die "seek: $!\n";
        syswrite($sparse, 'z' x MiB) == MiB or die "write: $!\n";
        close($sparse);
        open($sparse, '<', "$base.sparse") or die "open: $!\n";
        my $data_at = sysseek($sparse, 0, SEEK_DATA);
        if (!defined($data_at)) {
            $answer{seek} = failure();
        } else {
            my $hole_at = sysseek($sparse, 0, SEEK_HOLE);
            $answer{seek} = $data_at == 4 * MiB ? 'holes'
                : $data_at == 0 && defined($hole_at) && $hole_at == 8 * MiB ? 'all data'
                : "data at $data_at, hole at " . ($hole_at // failure());
        }
        close($sparse);

        # O_TMPFILE, renameat2, link
        if (sysopen(my $anonymous, $dir, O_TMPFILE | O_RDWR, 0o600)) { $answer{tmpfile} = 'ok'; close($anonymous) }
        else { $answer{tmpfile} = failure() }
        my $renamed = $name->('renamed');
        $answer{noreplace} = syscall($syscall{$arch}{renameat2}, AT_FDCWD, "$base.clone", AT_FDCWD, $renamed, RENAME_NOREPLACE) == 0
            ? 'ok' : failure();
        rename("$base.clone", $renamed) if $answer{noreplace} ne 'ok';
        $answer{exchange} = syscall($syscall{$arch}{renameat2}, AT_FDCWD, $renamed, AT_FDCWD, "$base.keep", RENAME_EXCHANGE) == 0
            ? 'ok' : failure();
        $answer{link} = link($renamed, $name->('link')) ? 'ok' : failure();

        # extended attributes, extents
        my ($path, $attribute, $value) = ("$base.source", 'user.spve-probe', '1'); # syscall's strings must be writable
        $answer{xattr} = syscall($syscall{$arch}{setxattr}, $path, $attribute, $value, length($value), 0) == 0
            ? 'ok' : failure();
        my $map = pack('QQLLLL', 0, 8 * MiB, 0, 0, 0, 0);
        $answer{fiemap} = ioctl($source, FS_IOC_FIEMAP, $map) ? 'ok' : failure();
        close($source);

        # timestamps
        my $fractions = 0;
        for my $n (1 .. 5) {
            close(create($name->("time$n"), 't'));
            my $mtime = (Time::HiRes::stat("$base.time$n"))[9];
            $fractions++ if $mtime != int($mtime);
            Time::HiRes::sleep(0.013);
        }
        $answer{mtime} = $fractions ? 'ns' : 'seconds';
        1;
    };
    my $error = $@;
    unlink($_) for @made;
    die $error if !$ok;
    return \%answer;
}

1;
