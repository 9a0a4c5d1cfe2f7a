package PVE::Storage;

# Test-only stand-in for PVE::Storage (pve-storage), written for this project's
# tests and never installed. Loading it does what loading the real module does
# to the plugin registry:
#
#   1. registers the built-in 'dir' type (the only built-in here);
#   2. loads third-party plugins from the Custom directory: every *.pm is
#      required as PVE/Storage/Custom/<Name>.pm through @INC and must be a
#      PVE::Storage::Plugin with an api() in [APIVER - APIAGE, APIVER]; a
#      failure only warns 'Error loading storage plugin "<module>": <error>',
#      an api() below APIVER loads with the upstream "older storage API" warning;
#   3. runs PVE::Storage::Plugin->init() outside any eval, so a plugin with a
#      duplicate or undefined property makes loading this module fail.
#
# Then: config() / write_config() for a storage.cfg file, storage_config(),
# parse_volume_id().
#
# Environment (read when the module is loaded unless noted):
#   PVE_STANDIN_GENERATION  8 = emulate PVE 8 (libpve-storage-perl 8.3.x):
#                           APIVER/APIAGE default to 11/2, base properties of
#                           8.3.x; anything else unset or 9 = PVE 9 (15/6)
#   PVE_STANDIN_APIVER      override APIVER
#   PVE_STANDIN_APIAGE      override APIAGE
#   PVE_STORAGE_CUSTOM_DIR  directory scanned for plugins instead of
#                           /usr/share/perl5/PVE/Storage/Custom (the files are
#                           still required through @INC)
#   PVE_STORAGE_CFG         path of storage.cfg for config()/write_config()
#                           (read at call time; default /etc/pve/storage.cfg)
#   PVE_STORAGE_LOCK_DIR    lock directory of cluster_lock_storage (Plugin.pm)
#
# Differences from upstream: plugins are loaded in sorted file name order
# (upstream: readdir order), and config() parses the file on every call
# instead of caching.

use strict;
use warnings;

use Cwd ();

use PVE::JSONSchema;
use PVE::Storage::Plugin;
use PVE::Storage::DirPlugin;

my ($apiver, $apiage);

BEGIN {
    my $gen8 = $PVE::Storage::Plugin::STANDIN_GENERATION == 8;
    ($apiver, $apiage) = $gen8 ? (11, 2) : (15, 6);
    for ([PVE_STANDIN_APIVER => \$apiver], [PVE_STANDIN_APIAGE => \$apiage]) {
        my ($name, $ref) = @$_;
        next if !defined($ENV{$name});
        die "$name must be a non-negative integer\n" if $ENV{$name} !~ m/^(\d+)$/;
        $$ref = $1 + 0;
    }
}

# Storage API version, and how many versions before it are still accepted.
use constant APIVER => $apiver;
use constant APIAGE => $apiage;

PVE::Storage::DirPlugin->register();

my sub load_custom_plugins {
    my $dir = $ENV{PVE_STORAGE_CUSTOM_DIR} // '/usr/share/perl5/PVE/Storage/Custom';
    ($dir) = $dir =~ m/^(.*)$/s; # test configuration, trusted
    return if !-d $dir;

    opendir(my $dh, $dir) or return;
    my @files = sort map { m/^(.*\.pm)$/ ? $1 : () } readdir($dh);
    closedir($dh);

    for my $name (@files) {
        my $module = "PVE::Storage::Custom::$name";
        $module =~ s/\.pm$//;
        my $file = "PVE/Storage/Custom/$name";

        eval {
            require $file;

            die "not derived from PVE::Storage::Plugin\n" if !$module->isa('PVE::Storage::Plugin');
            die "does not provide an api() method\n" if !$module->can('api');

            my $version = $module->api();
            die "implements an API version newer than current ($version > " . APIVER . ")\n"
                if $version > APIVER;
            my $min = APIVER - APIAGE;
            die "API version too old, please update the plugin ($version < $min)\n"
                if $version < $min;

            $module->register();

            warn "Plugin \"$module\" is implementing an older storage API, an upgrade is recommended\n"
                if $version != APIVER;
        };
        warn "Error loading storage plugin \"$module\": $@" if $@;
    }
}

load_custom_plugins();

PVE::Storage::Plugin->init();

# --- storage.cfg ----------------------------------------------------------------

# upstream parses the file as served by pmxcfs, under this name
my $CFG_NAME = '/etc/pve/storage.cfg';

my sub cfg_path {
    my $path = $ENV{PVE_STORAGE_CFG} // $CFG_NAME;
    ($path) = $path =~ m/^(.*)$/s; # test configuration, trusted
    return $path;
}

sub config {
    my $path = cfg_path();
    my $raw;
    if (open(my $fh, '<', $path)) {
        local $/;
        $raw = <$fh>;
        close($fh);
        # pmxcfs hands out untainted data
        ($raw) = $raw =~ m/^(.*)$/s if defined($raw);
    } elsif (!$!{ENOENT}) {
        die "unable to read '$path' - $!\n";
    }
    # like upstream, the parser also runs when the file does not exist
    return PVE::Storage::Plugin->parse_config($CFG_NAME, $raw);
}

sub write_config {
    my ($cfg) = @_;

    my $path = cfg_path();
    my $raw = PVE::Storage::Plugin->write_config($CFG_NAME, $cfg);

    my $tmp = "$path.tmp.$$";
    open(my $fh, '>', $tmp) or die "unable to open file '$tmp' - $!\n";
    print $fh $raw or die "unable to write '$tmp' - $!\n";
    close($fh) or die "unable to close '$tmp' - $!\n";
    rename($tmp, $path) or die "unable to rename '$tmp' to '$path' - $!\n";
}

sub storage_config {
    my ($cfg, $storeid, $noerr) = @_;

    die "no storage ID specified\n" if !$storeid;

    my $scfg = $cfg->{ids}->{$storeid};
    die "storage '$storeid' does not exist\n" if !$noerr && !$scfg;
    return $scfg;
}

sub parse_volume_id {
    my ($volid, $noerr) = @_;
    return PVE::Storage::Plugin::parse_volume_id($volid, $noerr);
}

# --- mapping a file path to a volume ------------------------------------------

# The storage layer's path_to_volume_id contract (plugin-api.md §0.3): a volid is
# parsed by its storage's plugin; a path is canonicalised, then matched against
# each path-based storage's content directories (from the plugin's get_subdir);
# image paths are confirmed through the plugin's list_images and path.
my $SAFE = qr/[a-zA-Z0-9\-\.\+\=\_]/;
my %NAME_RULES = (
    iso => qr/[^\/]+\.(?:iso|img)/i,
    vztmpl => qr/[^\/]+\.(?:tar(?!\.)|tar\.(?:gz|xz|zst|bz2))/i,
    backup => qr/[^\/]+\.(?:tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2))?)/,
    snippets => qr/[^\/]+/,
    import => qr/$SAFE+\.(?:ova|ovf|qcow2|raw|vmdk)/,
);

sub path_to_volume_id {
    my ($cfg, $path) = @_;

    my ($sid, $volname) = parse_volume_id($path, 1);
    if ($sid) {
        my $scfg = $cfg->{ids}->{$sid};
        return ('') if !$scfg || !$scfg->{path};
        my ($vtype) = PVE::Storage::Plugin->lookup($scfg->{type})->parse_volname($volname);
        return ($vtype, $path);
    }

    $path = Cwd::abs_path($path) || $path;
    for my $storeid (keys $cfg->{ids}->%*) {
        my $scfg = $cfg->{ids}->{$storeid};
        next if !$scfg->{path};
        my $plugin = PVE::Storage::Plugin->lookup($scfg->{type});
        my $images = $plugin->get_subdir($scfg, 'images');
        if ($path =~ m!^\Q$images\E/(\d+)/[^/\s]+$!) {
            for my $info ($plugin->list_images($storeid, $scfg, $1)->@*) {
                my (undef, $name) = parse_volume_id($info->{volid});
                return ('images', $info->{volid}) if $plugin->path($scfg, $name, $storeid) eq $path;
            }
            next;
        }
        for my $vtype (qw(iso vztmpl backup snippets import)) {
            my $dir = $plugin->get_subdir($scfg, $vtype);
            my $rule = $NAME_RULES{$vtype};
            return ($vtype, "$storeid:$vtype/$1") if $path =~ m!^\Q$dir\E/($rule)$!;
        }
    }
    return ('');
}

1;
