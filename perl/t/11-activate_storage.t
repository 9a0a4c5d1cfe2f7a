#!/usr/bin/perl -T
# Contract: activate_storage($storeid, $scfg, $cache) behaves as dir's:
#  1. is_mountpoint set and not mounted -> die "unable to activate storage '<sid>' -
#     directory is expected to be a mount point but is not mounted: '<mp>'\n";
#  2. create the path when create-base-path (else mkdir) is unset or true;
#  3. the path must be a directory, probed with a timeout -> else die "unable to activate
#     storage '<sid>' - directory '<path>' does not exist or is unreachable\n";
#  4. no content key: done; 5. create the content directories (backup also for rootdir)
#     unless create-subdirs or mkdir is false; 6. two content types in one directory ->
#     die "storage '<sid>' uses directory <dir> for multiple content types\n".
# Idempotent; the return value is ignored; $cache (shared with other plugins) is not touched.
# Works with $SIG{CHLD} = 'IGNORE' (the probe's child is then reaped by the kernel).
# Removes the stale temporaries killed operations left (owner gone, or older than 7
# hours) in the path, images/<vmid>/ and the backup directory; nothing else.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();

load_host();

my $dir = storage_dir();
my %content = map { $_ => 1 } qw(images rootdir iso vztmpl backup snippets import);
my $scfg = { type => 'swift', path => "$dir/store", content => \%content };
my $cache = { other => sub { 1 }, object => bless({}, 'Some::Plugin::State') };

is(dies { PLUGIN->activate_storage(taint('store'), $scfg, $cache) }, '', 'activates with every content type');
ok(-d "$dir/store/$_", "created $_") for qw(images private template/iso template/cache dump snippets import);
is(dies { PLUGIN->activate_storage('store', $scfg, $cache) }, '', 'activating again is fine');
is_deeply([sort keys %$cache], [qw(object other)], 'the shared cache is left alone');

my $only_path = { type => 'swift', path => "$dir/bare" };
PLUGIN->activate_storage('bare', $only_path, {});
ok(-d "$dir/bare", 'without content: the path is created');
opendir(my $dh, "$dir/bare") or die;
is_deeply([grep { !/^\./ } readdir($dh)], [], '... and nothing in it');

is(
    dies { PLUGIN->activate_storage('s', { %$scfg, path => "$dir/missing", 'create-base-path' => 0 }, {}) },
    "unable to activate storage 's' - directory '$dir/missing' does not exist or is unreachable\n",
    'create-base-path 0: a missing path is an error',
);
ok(!-e "$dir/missing", '... and nothing was created');

is(
    dies { PLUGIN->activate_storage('s', { %$scfg, path => "$dir/nosub", 'create-subdirs' => 0 }, {}) },
    '', 'create-subdirs 0',
);
ok(-d "$dir/nosub" && !-e "$dir/nosub/images", '... creates the path only');

is(
    dies {
        PLUGIN->activate_storage('s',
            { type => 'swift', path => "$dir/clash", content => { iso => 1, vztmpl => 1 },
              'content-dirs' => { iso => 'media', vztmpl => 'media' } }, {})
    },
    "storage 's' uses directory $dir/clash/media for multiple content types\n",
    'two content types in one directory are refused',
);

is(
    dies { PLUGIN->activate_storage('s', { %$scfg, is_mountpoint => 'yes' }, {}) },
    "unable to activate storage 's' - directory is expected to be a mount point but is not mounted: '$dir/store'\n",
    'is_mountpoint yes on a plain directory is refused',
);
is(
    dies { PLUGIN->activate_storage('s', { %$scfg, is_mountpoint => "$dir/mnt" }, {}) },
    "unable to activate storage 's' - directory is expected to be a mount point but is not mounted: '$dir/mnt'\n",
    'is_mountpoint with a path',
);
is(dies { PLUGIN->activate_storage('s', { %$scfg, is_mountpoint => '/' }, {}) }, '', 'a mounted mount point is fine');
is(dies { PLUGIN->activate_storage('s', { %$scfg, is_mountpoint => 'off' }, {}) }, '', 'is_mountpoint off');

is(dies { PLUGIN->activate_storage('s', { type => 'swift' }, {}) }, "storage definition has no path\n", 'no path');

# Issue 10, item 7: with SIGCHLD ignored the probe's child is reaped by the kernel;
# the directory is still found.
{
    local $SIG{CHLD} = 'IGNORE';
    is(dies { PLUGIN->activate_storage('s', $scfg, {}) }, '', "\$SIG{CHLD} = 'IGNORE': activates");
    is(dies { PLUGIN->activate_storage('s', { %$scfg, path => "$dir/missing", 'create-base-path' => 0 }, {}) },
        "unable to activate storage 's' - directory '$dir/missing' does not exist or is unreachable\n", '... and a missing path is still missing');
}

# Issue 10, item 3: stale temporaries are reclaimed on activation.
my $dead = fork() // die;
POSIX::_exit(0) if !$dead;
waitpid($dead, 0);
my $boot = do { open(my $b, '<', '/proc/sys/kernel/random/boot_id') or die; local $/; <$b> };
$boot =~ s/-//g;
$boot = untaint(substr($boot, 0, 8));
my $stale = ".tmp.$boot.$dead.777.0123456789abcdef";
my @where = ("$dir/store", "$dir/store/images/100", "$dir/store/dump");
mkdir("$dir/store/images/100");
for my $place (@where) {
    make_file("$place/$stale", 'x' x 100);
    make_file("$place/.tmp.keep", 'y');
}
make_file("$dir/store/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.notes.tmp.$dead", 'n');
utime(time - 8 * 3600, time - 8 * 3600, "$dir/store/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.notes.tmp.$dead");
PLUGIN->activate_storage('s', $scfg, {});
ok(!-e "$_/$stale", "stale temporary reclaimed in $_") for @where;
ok(-e "$_/.tmp.keep", "other hidden files kept in $_") for @where;
ok(!-e "$dir/store/dump/vzdump-qemu-100-2024_01_01-00_00_00.vma.notes.tmp.$dead", 'an old notes temporary of the older scheme reclaimed');

done_testing();
