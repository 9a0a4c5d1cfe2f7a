package PVE::Storage::Custom::SwiftPlugin;

use strict;
use warnings;

use PVE::Storage::Plugin;
use PVE::Storage::Custom::SwiftPlugin::Bindings;

use base qw(PVE::Storage::Plugin);

our $VERSION = '0.1.0';

# The newest PVE storage API (APIVER) this plugin implements.
use constant NEWEST_API => 15;

# The storage methods are XSUBs from SwiftPlugin.so, bound by the generated glue
# (perl/methods.txt lists them). If the library cannot be loaded, every one of
# them dies with the reason, so PVE neither falls back to PVE::Storage::Plugin's
# Perl implementations nor loses the storage's configuration.
our $LOAD_ERROR;
{
    local $@;
    eval {
        require XSLoader;
        XSLoader::load(__PACKAGE__, $VERSION);
        1;
    } or $LOAD_ERROR = $@ || "unknown error\n";
}
if (defined($LOAD_ERROR)) {
    chomp(my $reason = $LOAD_ERROR);
    no strict 'refs';
    for my $method (@PVE::Storage::Custom::SwiftPlugin::Bindings::METHODS) {
        *{ __PACKAGE__ . "::$method" } = sub { die "swift storage plugin unavailable: $reason\n" };
    }
    for my $method (@PVE::Storage::Custom::SwiftPlugin::Bindings::NATIVE) {
        *{ __PACKAGE__ . "::Native::$method" } = sub { die "swift storage plugin unavailable: $reason\n" };
    }
}

# Configuration

# The host's APIVER, capped at the newest version implemented here, and never below
# the oldest the host accepts (APIVER - APIAGE): reporting the host's own version
# keeps PVE's version-dependent behaviour aligned with it (rename from 10,
# on_update_hook_full from 13, ...), and staying within the accepted range keeps the
# plugin loaded so its storages do not vanish from the configuration.
sub api {
    my ($apiver, $apiage) = host_api_version();
    return NEWEST_API if !defined($apiver);
    my $api = $apiver < NEWEST_API ? $apiver : NEWEST_API;
    my $oldest = $apiver - ($apiage // 0);
    return $api < $oldest ? $oldest : $api;
}

sub host_api_version {
    no strict 'refs';
    return if !defined(&{'PVE::Storage::APIVER'});
    my $apiage = defined(&{'PVE::Storage::APIAGE'}) ? &{'PVE::Storage::APIAGE'}() : 0;
    return (&{'PVE::Storage::APIVER'}(), $apiage);
}

sub type {
    return 'swift';
}

# The content types and formats of PVE's dir storage, and its defaults: a swift
# storage holds everything a dir storage holds.
my sub set { return { map { $_ => 1 } @_ } }

sub plugindata {
    return {
        content => [set(qw(images rootdir vztmpl iso backup snippets import none)), set(qw(images rootdir))],
        format => [set(qw(raw qcow2 vmdk subvol)), 'raw'],
        'sensitive-properties' => {},
    };
}

# Every option comes from PVE's shared property namespace (declared by the base
# plugin and DirPlugin); declaring any of them again would make PVE::Storage fail
# to load ("duplicate property").
sub properties {
    return {};
}

# What a dir storage accepts: the path (required, set once), the option set only
# at creation, and everything else optional.
my @OPTIONAL = qw(
    content content-dirs format preallocation nodes shared disable bwlimit
    prune-backups max-protected-backups mkdir create-base-path create-subdirs is_mountpoint
    maxfiles
);

# The options of PVE's dir storage that this host defines: PVE 8 lacks some of
# them, and naming an undefined property would make PVE::Storage fail to load.
sub options {
    my $defined = PVE::Storage::Plugin->private()->{propertyList} // {};
    my %options = (
        path => { fixed => 1 },
        'snapshot-as-volume-chain' => { optional => 1, fixed => 1 },
        map { $_ => { optional => 1 } } @OPTIONAL,
    );
    return { map { $_ => $options{$_} } grep { $defined->{$_} } keys %options };
}

# SectionConfig's generic checks first, then the directory rules (in Swift).
sub check_config {
    my ($class, $section_id, $config, $create, $skip_schema_check) = @_;
    my $opts = $class->SUPER::check_config($section_id, $config, $create, $skip_schema_check);
    my $path = PVE::Storage::Custom::SwiftPlugin::Native::check_config(
        $class, $section_id, $opts, $create, $skip_schema_check,
    );
    $opts->{path} = $path if defined($path);
    return $opts;
}

# Storage implementation

# The cluster's VM list tells which guests are containers, so their images are
# listed as rootdir; the listing itself is Swift's.
sub list_volumes {
    my ($class, $storeid, $scfg, $vmid, $content_types) = @_;
    require PVE::Cluster;
    my $vmlist = PVE::Cluster::get_vmlist() // {};
    return PVE::Storage::Custom::SwiftPlugin::Native::list_volumes(
        $class, $storeid, $scfg, $vmid, $content_types, $vmlist,
    );
}

# Swift marks and removes; the log function runs here (PVE's default prints), and
# a failed removal is reported after every entry has been logged.
sub prune_backups {
    my ($class, $scfg, $storeid, $keep, $vmid, $type, $dryrun, $logfunc) = @_;
    $logfunc //= sub { print "$_[1]\n" };
    my $res = PVE::Storage::Custom::SwiftPlugin::Native::prune_backups(
        $class, $scfg, $storeid, $keep, $vmid, $type, $dryrun, $logfunc,
    );
    die "$res->{error}\n" if defined($res->{error});
    return $res->{list};
}

# Validation and file access are Swift's; the OVF is parsed by PVE's own parser,
# as dir does, and Swift turns its result into the import metadata.
sub get_import_metadata {
    my ($class, $scfg, $volname, $storeid) = @_;
    my $source = PVE::Storage::Custom::SwiftPlugin::Native::get_import_metadata(
        $class, $scfg, $volname, $storeid, undef,
    );
    eval { require PVE::GuestImport::OVF; 1 }
        or die "cannot read import metadata - PVE::GuestImport::OVF is not available\n";
    my $ovf = PVE::GuestImport::OVF::parse_ovf($source->{path}, $source->{ova});
    return PVE::Storage::Custom::SwiftPlugin::Native::get_import_metadata(
        $class, $scfg, $volname, $storeid, $ovf,
    );
}

1;

__END__

=head1 NAME

PVE::Storage::Custom::SwiftPlugin - a directory storage for Proxmox VE, written in Swift

=head1 SYNOPSIS

    pvesm add swift fast --path /mnt/fast --content images,rootdir,iso,vztmpl,backup,snippets,import

    # /etc/pve/storage.cfg
    swift: fast
            path /mnt/fast
            content images,rootdir,iso,vztmpl,backup,snippets,import
            prune-backups keep-last=3,keep-weekly=2
            is_mountpoint yes

=head1 DESCRIPTION

This module is the storage type C<swift> for Proxmox VE. It keeps guest disks,
container volumes, ISO images, container templates, backups, snippets and import
sources in a directory, with the same layout, volume names and behaviour as PVE's
own C<dir> storage, so a directory can be moved between the two types.

The storage logic is a Swift library (F<SwiftPlugin.so>, in Perl's vendorarch
F<auto/> directory) reached through generated XS glue. This Perl module holds the
definitions PVE's configuration system needs and binds every storage method to
the library. Errors reach PVE as ordinary exceptions with PVE's messages.

PVE loads the module from F</usr/share/perl5/PVE/Storage/Custom/> in every PVE
process. If the library cannot be loaded (for example a package built for another
Perl), the type stays registered and every storage operation fails with the
reason, instead of the storage disappearing from the configuration.

=head1 OPTIONS

The options are those of the C<dir> storage:

=over

=item C<path> (required, fixed)

The directory. Only C</>, letters, digits, C<->, C<_>, C<.> and C<@> are accepted;
it is canonicalised (repeated and trailing slashes, C</./>) when the storage is created.

=item C<content>

Any of C<images>, C<rootdir>, C<vztmpl>, C<iso>, C<backup>, C<snippets>, C<import>,
or C<none>. Default: C<images,rootdir>.

=item C<content-dirs>

Overrides of the sub-directory per content type, e.g. C<iso=isos,backup=dumps>.
Defaults: F<images>, F<private>, F<template/iso>, F<template/cache>, F<dump>,
F<snippets>, F<import>.

=item C<create-base-path>, C<create-subdirs>, C<mkdir> (deprecated)

Whether activation creates the path and the content sub-directories (default: yes).

=item C<is_mountpoint>

C<yes> when C<path> is a mount point, or the path of the mount point the storage
lives on: the storage is then reported inactive and refuses activation while
nothing is mounted there, so nothing is written to the underlying directory.

=item C<format>, C<preallocation>, C<snapshot-as-volume-chain> (fixed)

Default image format (C<raw>, C<qcow2>, C<vmdk>, C<subvol>; default C<raw>),
qcow2/raw preallocation, and qcow2 snapshots as separate files (PVE 9).

=item C<shared>, C<nodes>, C<disable>, C<prune-backups>, C<max-protected-backups>, C<bwlimit>

As for every PVE storage.

=back

On a PVE 8 host, options that host does not know (C<snapshot-as-volume-chain>)
are simply not offered.

=head1 STORAGE API VERSION

C<api()> reports the host's C<PVE::Storage::APIVER>, capped at 15 (the newest
version implemented), so the same package loads on PVE 8 (API 10 and 11) and
PVE 9 (API 12 to 15) without the "older storage API" warning.

Where PVE 8's C<dir> behaves differently from PVE 9's, the plugin does what the
host's release does (known from the same C<APIVER>): on PVE 8 a linked clone's qcow2
overlay has qemu-img's default layout (64 KiB clusters; PVE 9: extended L2 tables,
128 KiB clusters and the storage's preallocation), a resize asks for no preallocation,
C<snap-*.qcow2> files are ordinary volumes (there are no volume chains), container
templates must be compressed, C<rootdir/E<lt>vmidE<gt>> is a volume name without a
format, every other volume but a subvol offers C<raw+size> streams, and the
deprecated C<maxfiles> option is accepted. Beyond PVE 8's C<dir>, as on PVE 9:
C<volume_snapshot_info>, and streams of ISO images, templates, snippets and import
files (which PVE 8's C<dir> fails to import).

=head1 CONTENT

ISO images (F<template/iso>, C<.iso>/C<.img> in any case), container templates
(F<template/cache>, C<.tar> and C<.tar.gz/.xz/.zst/.bz2> in any case), vzdump
backups (F<dump>), snippets and import sources (OVA, OVF, qcow2, raw and vmdk files
in F<import>) are listed as C<dir> lists them, with the same volume IDs, formats,
sizes and times; backups carry their guest type (C<subtype>), guest (C<vmid>), the
first line of their notes and their protection.

=head2 Notes and protection

The notes of a backup are the file F<< <archive>.notes >> (UTF-8 text, written
atomically, mode 0644; setting empty notes removes it); a backup is protected while
F<< <archive>.protected >> exists. Both are read and written through
C<get_volume_attribute>/C<update_volume_attribute> (and the deprecated
C<get_volume_notes>/C<update_volume_notes>) with C<dir>'s answers and messages for
other volumes and attributes. Protected backups are never removed by pruning.

=head2 Pruning

C<prune_backups> applies C<keep-all>, C<keep-last>, C<keep-hourly>, C<keep-daily>,
C<keep-weekly> (ISO weeks), C<keep-monthly> and C<keep-yearly> per guest and guest type,
in the node's local time, exactly as PVE does (a backup's time is its name's timestamp
read as Time::Local's C<timelocal> reads it, also across daylight saving changes, with
C<TZ> read on every call); backups not named the vzdump way are
marked C<renamed> and never removed. A real run removes each pruned archive with its
F<.log> and F<.notes>, logging every removal; a failed removal is logged and the prune
fails with C<error pruning backups - check log> after trying all others.

=head2 Import metadata

C<get_import_metadata> checks the volume in Swift (an OVA or OVF in the import
directory that does not lead outside the storage) and parses it with PVE's own
C<PVE::GuestImport::OVF>, as C<dir> does.

=head2 Migration streams

C<volume_export_formats>, C<volume_import_formats>, C<volume_export> and
C<volume_import> (C<pvesm export>/C<pvesm import>, offline migration, moving disks
between storages) run in Swift with C<dir>'s formats matrix, size header (8 bytes,
little-endian) and messages: C<raw+size> for images, ISO images, templates, snippets
and import sources, C<qcow2+size> and C<vmdk+size> (the file as it is, with
snapshots), C<tar+size> for container directories. Streams are byte-compatible with
C<dir> in both directions. The file handle PVE passes (a pipe, a socket or a file) is
used directly and never seeked. Beyond C<dir>:

=over

=item Export without C<dd>

A raw file is sent by the kernel (C<sendfile>); its holes are sent as zeros without
being read. A qcow2 image is sent as C<raw+size> from its cluster tables (L1/L2,
extended L2 subclusters, zero clusters), following the backing chain of a linked
clone (qcow2 or raw bases), so no C<qemu-img convert ... /dev/stdout> is needed (it
fails into a pipe with some qemu-img versions). Compressed clusters are B<not>
decompressed natively (no zlib is linked): such an image, an encrypted one, one
with an external data file, and a vmdk image are converted by C<qemu-img convert>
into a hidden temporary raw file beside the image, which is sent and removed. That
temporary needs free space on the storage for the disk's data (holes stay holes);
if it runs out, the export fails with qemu-img's reason and the temporary is
removed. The format of a linked clone's base is taken from the overlay's header
(its backing format), never guessed from the base's content, which the guest wrote.

=item Sparse, atomic imports

The payload goes to a hidden temporary name (C<.tmp.*>, never listed) in the
target directory; blocks of zeros (4 KiB) are left as holes. The volume is published
under its name (C<rename> without replacing) only when the stream is complete: for
C<raw+size> exactly the announced size arrived (or, as C<dir> announces a raw file's
size rounded up to whole sectors, less than one sector less); for C<qcow2+size> and
C<vmdk+size> the stream ended cleanly and the image checks out; for C<tar+size> tar
succeeded. A short or overlong stream, a write error or a stop request (SIGTERM)
removes the temporary; one left by a killed process is reclaimed by the next
allocation or activation, like every temporary of the plugin, and never disturbs
listings or free names.

=item Untrusted images

An imported qcow2 must have a readable header and cluster tables, no backing file
and no external data file, the announced virtual size, and pass C<qemu-img check>
(leaked clusters allowed). An imported vmdk must be a single monolithic sparse file
(one SPARSE extent, no text descriptor naming other files, no parent, a capacity
above 0). Both are also opened by C<qemu-img info> (which never follows a backing
file) before they are published: it must report no backing file, no external data
file and, for vmdk, no extent but the file itself. Anything else is refused and
removed.

=item Containers

A C<tar+size> stream is unpacked by the system tar (by argument vector, C<dir>'s
flags plus C<--delay-directory-restore>) into a hidden directory that is renamed into
place when tar succeeded. GNU tar strips leading C</> and refuses member names with
C<..>, and creates links that could lead out only after all other members, so
nothing lands outside; a failing tar removes the directory.

=item Progress

While a raw, qcow2 or vmdk stream runs, a line goes to standard error about once
a second (C<export: E<lt>bytesE<gt> bytes of E<lt>totalE<gt> (E<lt>pctE<gt>%), E<lt>rateE<gt>/s>), and a last one
when it is complete (C<... bytes in E<lt>sE<gt> s, E<lt>rateE<gt>/s>), as C<dir> shows C<dd>'s progress
in the task log. tar streams show no progress.

=back

=head2 Differences from dir, on purpose

Streams: a missing file is named (C<export: cannot open '<path>' - ...>) where C<dir>
reports C<dd>'s or qemu-img's failure; a disk inside an OVA archive
(C<import/E<lt>nameE<gt>.ova/E<lt>diskE<gt>>) is refused by name for export and import (C<dir>
fails in qemu-img or C<dd>); a C<raw+size> stream longer than announced, and a qcow2
or vmdk whose size differs from the header, are refused (C<dir> writes what
arrives); an image import prints no C<Formatting ...> line, as no empty image is
created first.

A container template's subvol (which keeps its C<subvol-> name) is removed when the
template is destroyed: PVE frees it as a plain volume, so C<dir> cannot clear the
immutable flag its own C<create_base> set and leaves the directory behind with a
warning.

In a content directory, entries whose names are not UTF-8 or contain a newline, and
symbolic links that resolve outside the storage, are not listed (C<dir> lists them,
following the link); a notes file that is a symbolic link is not read. Such files
cannot be created through PVE.

=head1 MIGRATION AND SHARED STORAGE

=head2 Guests on a local swift storage do not migrate

C<qm migrate> and C<pct migrate> refuse a guest with a disk on a local (not
C<shared>) swift storage: C<can't migrate 'E<lt>volidE<gt>' - storage type 'swift' not
supported> (containers: C<storage type 'swift' not supported>). The decision is PVE's
own: qemu-server and pve-container move local disks only for the built-in types
C<dir>, C<btrfs>, C<zfspool>, C<lvm> and C<lvmthin>, whatever the plugin can
transfer, and no plugin can change that. PVE's migration check does not catch it
beforehand, so the web UI offers the migration and the task fails at its start. The
plugin's export and import streams work; only the type list stands in the way
(F<contrib/upstream/> in the project's sources describes the upstream change, and
tries it against PVE's own test suites).

What works instead (each run through PVE's own guest code by the project's
C<tools/check-real-guests>):

=over

=item A shared swift storage

A swift storage marked C<shared 1>, on a file system every node mounts (CephFS, NFS),
is migrated like a shared C<dir>: nothing is copied, C<qm migrate> and C<pct migrate>
only move the guest. For example, on CephFS mounted by PVE at
F</mnt/pve/cephfs>:

    pvesm add swift cluster --path /mnt/pve/cephfs/swift --shared 1 \
        --is_mountpoint /mnt/pve/cephfs --content images,rootdir

=item Move the disks first

C<qm disk move E<lt>vmidE<gt> E<lt>diskE<gt> E<lt>storageE<gt> --delete 1> (C<pct
move-volume> for containers) to a storage PVE migrates (C<dir>, or a shared one),
then C<qm migrate>/C<pct migrate>, and move them back on the target node.

=item Copy the volumes by hand

With the guest stopped, each volume through a pipe, as PVE's storage migration would
send it: C<raw+size> for a raw disk, C<qcow2+size> with C<--with-snapshots 1> for a
qcow2 disk:

    pvesm export fast:100/vm-100-disk-0.qcow2 qcow2+size - --with-snapshots 1 \
        | ssh root@node2 pvesm import fast:100/vm-100-disk-0.qcow2 qcow2+size - --with-snapshots 1

then the guest's configuration is moved to the target node as for any offline move.

=back

=head2 What changes on a shared file system

On CephFS, NFS, MooseFS and other network file systems (the project's C<make
check-shared> runs two nodes on one real CephFS, then on one MooseFS): raw disks have no
snapshots and do not replicate (no reflinks: C<dir>'s refusal), templates cannot be made
immutable (C<create_base> warns that the flag is not supported, as C<dir> does), and the
space PVE reports is the file system's, which may lag writes by seconds. Holes are not
reported there, so exports read every byte, and the used size of an image is its whole
size (as with C<dir>). With C<preallocation falloc>, MooseFS has no C<fallocate> and
the C library writes a byte per block instead (slow for large disks; C<full> is
faster there). A directory another node has just removed may still be in a node's
client cache (MooseFS: about a second); the storage makes directories by C<mkdir>, which
asks the server, so allocating or renaming into it works at once (C<dir> fails there). Listings read their files' headers, notes and markers on a few
threads when each look-up is slow (a round trip to the file system's servers); the
threads exist only during that call. Allocations are safe from two nodes at once without PVE's lock
(a name is taken by an exclusive create or a hard link, never by replacing a file);
a node's half-written temporary file is never taken for a volume, and is only removed
by another node once it is older than the longest allocation (7 hours).

=head1 SNAPSHOTS

=head2 qcow2: internal snapshots and volume chains, as dir

Without C<snapshot-as-volume-chain>, a qcow2 disk's snapshots are internal
(C<qemu-img snapshot -c>, C<-a>, C<-d>), and a running VM's are taken by QEMU
(C<volume_qemu_snapshot_method> answers C<qemu>). C<volume_snapshot_info> reads the
image's snapshot table itself (no C<qemu-img> process) and reports, besides C<dir>'s
C<timestamp>, each snapshot's C<virtual-size>.

With C<snapshot-as-volume-chain> (PVE 9), a snapshot C<S> of F<vm-100-disk-0.qcow2> is
the former volume file F<snap-S-vm-100-disk-0.qcow2>, below a new qcow2 overlay that
takes the volume's name, with C<dir>'s file names, messages and chain semantics
(rollback only to the most recent snapshot, deletion by C<qemu-img commit> or
C<rebase>, C<rename_snapshot> of C<current>, C<volume_resize> of a snapshot, the
answer C<mixed> for running VMs). Where C<dir> renames the volume file and then
creates the overlay (a crash in between leaves no volume file), a snapshot here first
gives the file its snapshot name as a second link, writes the overlay under a hidden
temporary name and replaces the volume's name in one rename; a rollback also
replaces the volume in one rename. A process killed at any point leaves the volume
as it was before or after. Deleting a snapshot runs C<qemu-img commit> or
C<qemu-img rebase> as C<dir> does; the guest's data is safe at every point (qemu-img's
own guarantees), but a commit interrupted halfway leaves the deleted snapshot's
contents invalid, as with C<dir> (delete it again).

=head2 raw disks: instant snapshots by reflink

On a file system that shares extents between files (XFS created with reflink,
btrfs, bcachefs, ZFS with block cloning), a B<raw> disk has snapshots too: snapshot
C<S> of F<vm-100-disk-0.raw> is the file F<vm-100-disk-0.raw@S>, a reflink copy
(C<FICLONE>) that takes milliseconds and no space until either file is written.
Rollback reflinks it back over the volume through a temporary file and one rename;
deletion removes the file. No listing, neither this storage's nor C<dir>'s, shows
such a file as a volume. C<volume_has_feature> offers C<snapshot> (and C<copy> of a
snapshot) for raw disks only where the probe succeeds: once per storage and process,
two throw-away files in the F<images> directory are cloned, and only a definite
answer is kept. On ext4, tmpfs and other file systems without reflinks, raw disks
are refused with C<dir>'s messages and nothing else changes. C<free_image> removes a
raw disk's snapshots with it (before the disk), C<rename_volume> moves them with it.

Consistency: a raw snapshot is a copy of the file as it is at that instant. For a
stopped VM or container it is exact. qemu-server takes it for a running VM
(C<volume_qemu_snapshot_method> answers C<storage>) after freezing the guest's file
systems through the QEMU guest agent when the agent is enabled: the snapshot is then
file-system consistent; without the agent it is crash consistent (like a power cut:
what the guest had not yet written out is not in it). C<volume_snapshot_needs_fsfreeze>
answers 1, so pve-container freezes a running container's file systems before its
mount points are snapshotted. Linked clones of raw templates stay qcow2 overlays, as
with C<dir>.

=head2 Differences from dir, on purpose

Besides raw snapshots and the atomic volume chain above: C<volume_snapshot_info> of an
internal snapshot also reports its C<virtual-size>; in a volume chain, the oldest
snapshot of a linked clone has no C<parent> (C<dir> reports an empty-named parent, which
also keeps it from rolling back to that snapshot); where C<dir>'s C<qemu-img info> fails
(a missing file, a broken chain) the error is the same but there is no warning of a
failed command, since none ran; a missing chain snapshot is named in the error;
C<volume_snapshot_needs_fsfreeze> answers 1.

=head2 Snapshot names

Every name PVE's callers pass is taken: the names PVE's API allows, and those PVE's
own code gives snapshots without the API's check (replication's
C<__replicate_E<lt>jobE<gt>_E<lt>timeE<gt>__>, C<__migration__>, vzdump's C<vzdump>).
A name that could break the storage's layout is refused with
C<< invalid snapshot name '<name>' >> before any file is touched: an empty name, one
over 128 bytes, one containing C</>, C<..> or a control character. So no name can lead
outside the volume's directory. C<current> is reserved for a volume chain's current
state.

=head1 REPLICATION

Raw disks on a storage that makes reflinks (see L</raw disks: instant snapshots by
reflink>) replicate between two swift storages of the same ID, as PVE's replication
code (C<PVE::Replication>, C<storage_migrate>) drives it and otherwise offers only for
ZFS. C<storage_can_replicate> answers 1 for C<raw> there (0 for every other format, on
file systems without reflinks, and with C<snapshot-as-volume-chain>), and
C<volume_has_feature> offers C<replicate> for raw disks and templates.

PVE itself does not run such a job yet: pve-manager's C<pvesr prepare-local-job>, which
each run calls on the target node, accepts only C<zfspool> storages there (a fixed list)
and fails with C<< storage '<id>' is not replicatable >>; C<qm migrate> refuses local
swift disks (see L</MIGRATION AND SHARED STORAGE>). The project's C<contrib/upstream/>
describes the change. Meanwhile the streams below work by hand with C<pvesm export> and
C<pvesm import> (C<--with-snapshots 1 --snapshot> I<new> C<--base> I<old>, and
C<--delete-snapshot> I<old> on the import).

=over

=item Snapshot ids

Each reflink snapshot has an id (128 random bits in hex) and the time it was taken,
kept in its file's extended attribute C<user.pve-swift.snapshot>; C<volume_snapshot_info>
reports them as C<id> and C<timestamp>, and the replica keeps the same id. A snapshot
taken again under the same name has another id, so PVE never takes it for the common
base. A snapshot without the attribute (taken by an earlier version, or on a file
system without user attributes) is identified by its inode and time: stable, but never
equal to another node's.

=item The stream

Replication asks for a stream with snapshots (C<with_snapshots>), the new snapshot and,
for an incremental round, the base snapshot. C<dir> offers no format for that; this
plugin offers C<raw+size> (the names are fixed by PVE's schema) between two swift
storages, carrying its own framing, version 1: the magic C<PVESWREP>, the version, the
disk's size, the snapshot's name, id and timestamp, and the base's id (none in a full
stream); then data records (offset, length up to 1 MiB, bytes) and zero records
(offset, length: read as zeros) in ascending order; an end record; and the XXH64 of
everything before it. A full stream carries the snapshot's data (its holes stay holes);
an incremental one the ranges where the two snapshots' files no longer map to the same
place on the device (compared byte range by byte range, so extents split differently do
not matter; extents whose place is unknown, delayed, inline, compressed or encrypted
count as changed; where the file system has no extent map, the contents are compared).
A resize between two rounds is carried by the size.

=item The import

A full stream makes the disk, which must not exist; an incremental one needs the base
snapshot it names, with the same id (else, before anything is written:
C<< import: base snapshot '<name>' of '<volname>' does not exist on this storage >> or
C<< ... is not the stream's base (id <here> here, <there> in the stream) >>). The new
state is written into a reflink of the base under a hidden name, the checksum checked,
the file flushed; then the snapshot is published, then the disk, each by a rename. A
damaged, cut or stopped stream (SIGTERM) leaves the disk and its snapshots as they were;
the hidden file is reclaimed later. The import returns the volid, which C<pvesm import>
prints for PVE's C<storage_migrate>.

=item Not covered

qcow2 and vmdk disks: their internal snapshots have no extent map of their own; a
qcow2 replication would need a diff of the two snapshots' cluster tables and a stream
of clusters, and is not built. Subvol containers (no snapshots). File systems without
reflinks. A running guest's replica is crash-consistent (with the guest agent, its
file systems are frozen first), as with ZFS.

=back

=head1 STATUS

Everything runs in Swift: storage activation,
status, volume names and paths, the configuration hooks; the whole life of VM disks
and container volumes: allocation (raw, qcow2, vmdk with every C<preallocation>
mode, subvol directories), listing, sizes, resizing, snapshots, templates
(C<create_base>), linked clones, renaming, activation, mapping, QEMU blockdev
options, the feature matrix and removal (of every content type); the content
listing of ISO images, templates, backups, snippets and import sources, backup notes
and protection, pruning, import metadata and migration streams (export and import).
Not implemented: C<new_backup_provider> (for backup provider plugins); it dies with
C<< <method> is not implemented yet by the swift storage plugin >>.

Image metadata (virtual size, backing file) is read from the qcow2 and vmdk
headers in Swift; listing a storage spawns no process per image, where C<dir> runs
C<qemu-img info> for each. Headers are untrusted: a malformed image gives an
error in qemu-img's wording (or, when it is simply not in the format its name
says, the format C<invalid> in listings, as with C<dir>). qemu-img itself is only
run to create, resize and clone images: by absolute path with an argument vector,
a fixed environment and a timeout (6 hours for a creation, which may preallocate a
large disk; 10 seconds for a resize, as PVE).

New images appear under their final name only when complete: qemu-img writes a
hidden temporary file in the VMID's directory, created exclusively under an
unpredictable name of fixed length (F<.tmp.E<lt>bootE<gt>.E<lt>pidE<gt>.E<lt>startE<gt>.E<lt>randomE<gt>>),
which is then renamed without ever replacing an existing volume (on NFS, CephFS
and FUSE, which lack C<renameat2>'s flag, by C<link> and C<unlink>). Temporaries
of killed allocations are removed by the next allocation or activation once
their owner is gone (or after 7 hours). A stop signal (SIGTERM, SIGINT, SIGHUP)
kills qemu-img at once and leaves no volume. A
failure (qemu-img, a full disk) leaves no file behind and says what failed.

Differences from C<dir>, all deliberate: the target name of C<rename_volume> and
the VMIDs of C<alloc_image>, C<clone_image> and C<rename_volume> must be valid
(an image file name; digits), so that no name can reach outside the storage
directory (C<dir> does not check them); the warning for a file system without the
immutable attribute reads C<< unable to set the immutable flag of '<path>' - <error> >>
instead of C<chattr>'s failure (no C<chattr> process is run); the lines qemu-img
writes to standard error before a failed resize reach Perl as warnings (C<dir>
prints them); a vmdk made of a text descriptor and extent files is sized from
its descriptor without opening the extents.

=head1 ERRORS

Every failure is a Perl exception whose message is one line ending in a newline,
in PVE's wording where C<dir> has one (C<eval { ... }; die $@ if $@>). When a
system call caused it (a full disk, a missing directory), C<$!> holds that call's
errno after the exception, as Perl's own file functions leave it; a refusal that
no system call caused leaves C<$!> alone. Arguments are checked by type before any
work starts: a reference where PVE passes a string, a storage configuration that
is not a hash, or a name that is not UTF-8 is refused with a message naming the
argument (C<invalid volname - not a string>).

=head1 STORAGE IDENTITY

C<get_identity> (storage API 14) returns a random UUID that is kept in the
storage directory, in F<E<lt>pathE<gt>/.swiftplugin-identity> (mode 0644),
created on first use. It identifies the directory, not the configuration
entry: the same directory configured twice, or mounted on several nodes of a
cluster as a shared storage, reports the same identity; another directory
another. Concurrent first uses agree on one identity. C<dir> has no identity
(PVE's base class dies). Copying a storage directory copies its identity; delete
the file in the copy to give it a new one.

=head1 FILES

F</usr/share/perl5/PVE/Storage/Custom/SwiftPlugin.pm>,
F</usr/share/perl5/PVE/Storage/Custom/SwiftPlugin/Bindings.pm> (generated list of
bound methods), F<.../perl5/auto/PVE/Storage/Custom/SwiftPlugin/SwiftPlugin.so>.

=head1 SEE ALSO

L<PVE::Storage::Plugin>, C<pvesm(1)>, the project's README.

=cut
