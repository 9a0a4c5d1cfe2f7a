package PVE::Storage::Plugin;

# Test-only stand-in for the base class of PVE storage plugins (pve-storage),
# written for this project's tests and never installed.
#
# It holds the storage type registry (a PVE::SectionConfig in unified mode),
# the base properties every storage type shares, the formats of their values,
# the decoding of content/nodes/content-dirs, the storage.cfg post-processing
# and cluster_lock_storage. On purpose it has NO storage methods (status,
# path, alloc_image, ...): a plugin that forgot one fails loudly.
#
# PVE_STANDIN_GENERATION (read at load): 8 = PVE 8 (base property 'maxfiles',
# no 'snapshot-as-volume-chain', init() is one-shot); unset or 9 = PVE 9.
# PVE_STORAGE_LOCK_DIR: lock directory (default /var/lock/pve-manager).

use strict;
use warnings;

use Fcntl qw(:flock O_CREAT O_RDWR);
use Time::HiRes ();

use PVE::JSONSchema;

use base qw(PVE::SectionConfig);

our $STANDIN_GENERATION;

BEGIN {
    my $gen = $ENV{PVE_STANDIN_GENERATION} // '9';
    die "PVE_STANDIN_GENERATION must be 8 or 9, not '$gen'\n" if $gen !~ m/^([89])$/;
    $STANDIN_GENERATION = $1 + 0;
}

my $PVE8 = $STANDIN_GENERATION == 8;

# --- value formats ------------------------------------------------------------------

our @CONTENT_TYPES = qw(images rootdir vztmpl iso backup snippets import);
my %IS_CONTENT_TYPE = map { $_ => 1 } @CONTENT_TYPES, 'none';

my sub list_items {
    my ($text) = @_;
    return grep { length } split(/[,;\s]+/, $text // '');
}

my sub verify_content_list {
    my ($text) = @_;
    for my $item (list_items($text)) {
        die "invalid content type '$item'\n" if !$IS_CONTENT_TYPE{$item};
    }
    return $text;
}

my sub verify_node_list {
    my ($text) = @_;
    for my $item (list_items($text)) {
        die "value '$item' does not look like a valid node name\n"
            if $item !~ m/^[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?$/;
    }
    return $text;
}

# relative path rules of a content-dirs override (dir-layout.md 1.1)
my sub override_ok {
    my ($rel) = @_;
    return 0 if $rel eq '' || length($rel) >= 1023;
    return 0 if $rel =~ m/\.\./ || $rel =~ m/\.$/;
    return !grep { length($_) >= 255 } split(m!/!, $rel);
}

my sub verify_content_dirs {
    my ($text) = @_;
    for my $entry (list_items($text)) {
        my ($vtype, $rel) = $entry =~ m/^([a-z]+)=(.*)$/s;
        die "invalid override '$entry'\n" if !defined($vtype);
        die "invalid content type '$vtype'\n" if !$IS_CONTENT_TYPE{$vtype} || $vtype eq 'none';
        die "invalid override '$entry'\n" if !override_ok($rel);
    }
    return $text;
}

my sub verify_storage_id {
    my ($id) = @_;
    die "storage ID '$id' contains illegal characters\n"
        if $id !~ m/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
    return $id;
}

my sub verify_abs_path {
    my ($path) = @_;
    die "value does not look like a valid absolute path\n" if $path !~ m!^/[^\0]*$!;
    return $path;
}

my $KEEP = { type => 'integer', minimum => 0, optional => 1 };
my $PRUNE_FORMAT = {
    'keep-all' => { type => 'boolean', optional => 1 },
    map { ("keep-$_" => {%$KEEP}) } qw(last hourly daily weekly monthly yearly),
};

my sub verify_prune_backups {
    my ($text) = @_;
    my $keep = PVE::JSONSchema::parse_property_string($PRUNE_FORMAT, $text);
    die "keep-all cannot be set together with other options.\n"
        if $keep->{'keep-all'} && keys(%$keep) > 1;
    return $text;
}

my $RATE = { type => 'number', minimum => 0, optional => 1 };
my $BWLIMIT_FORMAT = { map { $_ => {%$RATE} } qw(default restore migration clone move) };

my @FORMAT_TABLE = (
    ['pve-storage-content-list' => \&verify_content_list],
    ['pve-node-list' => \&verify_node_list],
    ['pve-storage-content-dirs' => \&verify_content_dirs],
    ['pve-storage-id' => \&verify_storage_id],
    ['pve-storage-path' => \&verify_abs_path],
    ['pve-storage-prune-backups' => \&verify_prune_backups],
    ['pve-storage-bwlimit' => $BWLIMIT_FORMAT],
);
PVE::JSONSchema::register_format(@$_) for grep { !PVE::JSONSchema::get_format($_->[0]) } @FORMAT_TABLE;

# --- base properties ------------------------------------------------------------------

my sub str { return { type => 'string', @_ } }
my sub bool { return { type => 'boolean', @_ } }

my %BASE_PROPERTIES = (
    storage => str(format => 'pve-storage-id', description => 'The storage identifier.'),
    nodes => str(format => 'pve-node-list', description => 'List of nodes for which the storage configuration applies.'),
    content => str(format => 'pve-storage-content-list', description => 'Allowed content types.'),
    disable => bool(description => 'Flag to disable the storage.'),
    'prune-backups' => str(format => 'pve-storage-prune-backups', description => 'Retention options.'),
    'max-protected-backups' => { type => 'integer', minimum => -1, description => 'Maximal number of protected backups per guest.' },
    shared => bool(description => 'Indicate that this is a single storage with the same contents on all nodes.'),
    subdir => str(format => 'pve-storage-path', description => 'Subdir to mount.'),
    format => str(enum => [qw(raw qcow2 subvol vmdk)], description => 'Default image format.'),
    preallocation => str(enum => [qw(off metadata falloc full)], description => 'Preallocation mode for raw and qcow2 images.'),
    'content-dirs' => str(format => 'pve-storage-content-dirs', description => 'Overrides for default content type directories.'),
    options => str(description => 'NFS/CIFS mount options.'),
    port => { type => 'integer', minimum => 1, maximum => 65535, description => 'Use this port.' },
);
if ($PVE8) {
    $BASE_PROPERTIES{maxfiles} = { type => 'integer', minimum => 0, description => 'Deprecated: use prune-backups.' };
} else {
    $BASE_PROPERTIES{'snapshot-as-volume-chain'} = bool(description => 'Use qcow2 external snapshots.');
}

my $REGISTRY = {
    propertyList => { map { $_ => { $BASE_PROPERTIES{$_}->%*, optional => 1 } } keys %BASE_PROPERTIES },
    options => {},
    plugins => {},
    plugindata => {},
};

sub private { return $REGISTRY }

# PVE 9 rebuilds the property list on every init(); PVE 8 added to it in place,
# so a second init() finds every plugin property again.
sub base_properties {
    return undef if $PVE8;
    return { map { $_ => { $BASE_PROPERTIES{$_}->%*, optional => 1 } } keys %BASE_PROPERTIES };
}

# --- decoding ---------------------------------------------------------------------------

my sub allowed_content {
    my ($type) = @_;
    my $pdata = $REGISTRY->{plugindata}->{$type} // {};
    return ($pdata->{content} // [])->[0] // {};
}

my %DECODERS = (
    content => sub {
        my ($type, $text) = @_;
        my %set = map { $_ => 1 } list_items($text);
        die "unable to combine 'none' with other content types\n" if $set{none} && keys(%set) > 1;
        my $allowed = allowed_content($type);
        for my $ct (sort keys %set) {
            next if $allowed->{$ct};
            warn "storage does not support content type '$ct'\n";
            delete $set{$ct};
        }
        return \%set;
    },
    nodes => sub {
        my ($type, $text) = @_;
        return { map { $_ => 1 } list_items($text) };
    },
    'content-dirs' => sub {
        my ($type, $text) = @_;
        my %map;
        for my $entry (list_items($text)) {
            my ($vtype, $rel) = split(/=/, $entry, 2);
            if (!$IS_CONTENT_TYPE{$vtype} || $vtype eq 'none') {
                warn "ignoring invalid content type '$vtype' in content-dirs\n";
                next;
            }
            $map{$vtype} = $rel;
        }
        return \%map;
    },
);

my %ENCODERS = (
    content => sub {
        my ($set) = @_;
        my @items = sort keys %$set;
        return @items ? join(',', @items) : 'none';
    },
    nodes => sub { join(',', sort keys %{ $_[0] }) },
    'content-dirs' => sub {
        my ($map) = @_;
        return join(',', map { "$_=$map->{$_}" } sort keys %$map);
    },
);

sub decode_value {
    my ($class, $type, $key, $value) = @_;
    my $decoder = $DECODERS{$key};
    return $decoder ? $decoder->($type, $value) : $value;
}

sub encode_value {
    my ($class, $type, $key, $value) = @_;
    my $encoder = $ENCODERS{$key};
    return ($encoder && ref($value)) ? $encoder->($value) : $value;
}

# --- storage.cfg -------------------------------------------------------------------------

# Generic parse, then the defaults PVE fills in (default content of the type).
# Unlike upstream, no 'local' storage is forced into the result.
sub parse_config {
    my ($class, $filename, $raw) = @_;

    my $cfg = $class->SUPER::parse_config($filename, $raw);
    for my $storeid (sort keys $cfg->{ids}->%*) {
        my $scfg = $cfg->{ids}->{$storeid} or next;
        next if $scfg->{content};
        my $pdata = $REGISTRY->{plugindata}->{ $scfg->{type} } // {};
        my $default = ($pdata->{content} // [])->[1];
        $scfg->{content} = { %$default } if $default;
    }
    return $cfg;
}

sub parse_volume_id {
    my ($volid, $noerr) = @_;
    if (defined($volid) && $volid =~ m/^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/is) {
        return ($1, $2);
    }
    return if $noerr;
    die "unable to parse volume ID '" . ($volid // '') . "'\n";
}

# --- locking --------------------------------------------------------------------------------

my %HELD; # lock file => [handle, depth]

my sub lock_dir {
    my $dir = $ENV{PVE_STORAGE_LOCK_DIR} // '/var/lock/pve-manager';
    ($dir) = $dir =~ m/^(.*)$/s; # test configuration, trusted
    return $dir;
}

my sub acquire {
    my ($file, $timeout) = @_;
    sysopen(my $fh, $file, O_CREAT | O_RDWR, 0644) or die "can't open file '$file' - $!\n";
    my $deadline = Time::HiRes::time() + $timeout;
    while (!flock($fh, LOCK_EX | LOCK_NB)) {
        die "can't lock file '$file' - got timeout\n" if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.05);
    }
    return $fh;
}

# Runs $func->(@param) holding an exclusive lock on <lockdir>/pve-storage-<id>
# (also for a shared storage: there is no cluster file system here). Nested
# calls for the same storage in one process just run the code.
sub cluster_lock_storage {
    my ($class, $storeid, $shared, $timeout, $func, @param) = @_;

    my $dir = lock_dir();
    mkdir($dir) if !-d $dir;
    my $file = "$dir/pve-storage-$storeid";

    my $slot = $HELD{$file};
    if (!$slot) {
        my $fh = acquire($file, $timeout // 10);
        $slot = $HELD{$file} = [$fh, 0];
    }
    $slot->[1]++;

    my $result = eval { $func->(@param) };
    my $err = $@;

    if (--$slot->[1] == 0) {
        delete $HELD{$file};
        close($slot->[0]);
    }
    die $err if $err;
    return $result;
}

1;
