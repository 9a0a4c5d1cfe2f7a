package PVE::Storage::DirPlugin;

# Test-only stand-in for the built-in 'dir' storage type (pve-storage),
# written for this project's tests and never installed. Only the definition
# (plugindata, properties, options) and check_config are here; like the base
# stand-in it has no storage methods.

use strict;
use warnings;

use PVE::Storage::Plugin;

use base qw(PVE::Storage::Plugin);

sub type { return 'dir' }

my sub flags { return { map { $_ => 1 } @_ } }

sub plugindata {
    return {
        content => [
            flags(qw(images rootdir vztmpl iso backup snippets none import)),
            flags(qw(images rootdir)),
        ],
        format => [flags(qw(raw qcow2 vmdk subvol)), 'raw'],
        'sensitive-properties' => {},
    };
}

sub properties {
    return {
        path => { type => 'string', format => 'pve-storage-path', description => 'File system path.' },
        mkdir => { type => 'boolean', default => 'yes', description => 'Create the directory if it does not exist (deprecated).' },
        'create-base-path' => { type => 'boolean', default => 'yes', description => 'Create the base directory if it does not exist.' },
        'create-subdirs' => { type => 'boolean', default => 'yes', description => 'Populate the directory with the default structure.' },
        is_mountpoint => { type => 'string', default => 'no', description => 'Assume the given path is an externally managed mountpoint.' },
        bwlimit => { type => 'string', format => 'pve-storage-bwlimit', description => 'I/O bandwidth limits.' },
    };
}

my @OPTIONAL = qw(
    nodes shared disable content content-dirs prune-backups max-protected-backups format
    mkdir create-base-path create-subdirs is_mountpoint bwlimit preallocation
);

sub options {
    my %opts = (path => { fixed => 1 }, map { $_ => { optional => 1 } } @OPTIONAL);
    # PVE 8's dir still takes the deprecated maxfiles; PVE 9's has volume chains instead.
    if ($PVE::Storage::Plugin::STANDIN_GENERATION == 8) {
        $opts{maxfiles} = { optional => 1 };
    } else {
        $opts{'snapshot-as-volume-chain'} = { optional => 1, fixed => 1 };
    }
    return \%opts;
}

my $PATH_CHARS = qr{^[/a-zA-Z0-9\-_.\@]+$};

my sub tidy_path {
    my ($path) = @_;
    1 while $path =~ s{/\./}{/};
    $path =~ s{/{2,}}{/}g;
    $path =~ s{/\.$}{};
    $path =~ s{(?<=.)/$}{};
    return $path;
}

# Generic checks, then (only on creation) the path rule and canonical form.
sub check_config {
    my ($class, $section_id, $config, $create, $skip_schema_check) = @_;

    my $opts = $class->SUPER::check_config($section_id, $config, $create, $skip_schema_check);
    return $opts if !$create || !defined($opts->{path});

    die "illegal path for directory storage: $opts->{path}\n" if $opts->{path} !~ $PATH_CHARS;
    $opts->{path} = tidy_path($opts->{path});
    return $opts;
}

1;
