#!/usr/bin/perl -T
# Contract (shared vectors, suite path_to_volume_id): the storage layer's
# path_to_volume_id(cfg, path) gives the same answers on a swift storage as the vectors
# record for dir. It maps a file path to (vtype, volid) through the plugin's get_subdir,
# list_images, path and parse_volname; the storage layer's rules (plugin-api.md 0.3) are
# re-stated below, the plugin's methods do the rest. An image path is found only through
# list_images (so an empty *.qcow2, listed as 'invalid', still maps; a non-numeric owner
# directory does not).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Cwd ();
use File::Path ();
use Test::More;
use SwiftPluginTest;

load_host();

my @vectors = vectors('path_to_volume_id');
ok(@vectors >= 10, 'the shared vectors are there');

my $ISO = qr/\.(?:iso|img)/i;
my $VZTMPL = qr/\.tar(?:\.(?:gz|xz|zst|bz2))?/i;
my $BACKUP = qr/\.(?:tgz|(?:(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2))?))/;
my $IMPORT = qr/\.(?:ova|ovf|qcow2|raw|vmdk)/;

# The storage layer's path_to_volume_id, with the plugin doing the storage's part.
sub path_to_volume_id {
    my ($cfg, $path) = @_;
    if ($path =~ m/^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$/i) {
        my ($sid, $volname) = ($1, $2);
        my $scfg = $cfg->{ids}->{$sid};
        return ('') if !$scfg || !$scfg->{path};
        my ($vtype) = PLUGIN->parse_volname($volname);
        return ($vtype, $path);
    }
    $path = untaint(Cwd::abs_path($path) || $path);
    for my $sid (sort keys $cfg->{ids}->%*) {
        my $scfg = $cfg->{ids}->{$sid};
        next if !$scfg->{path};
        my %dir = map { $_ => PLUGIN->get_subdir($scfg, $_) } qw(images iso vztmpl backup snippets import);
        if ($path =~ m!^\Q$dir{images}\E/(\d+)/([^/\s]+)$!) {
            for my $info (PLUGIN->list_images($sid, $scfg, $1)->@*) {
                my ($storeid, $volname) = $info->{volid} =~ m/^([^:]+):(.+)$/;
                return ('images', $info->{volid}) if scalar(PLUGIN->path($scfg, $volname, $storeid)) eq $path;
            }
        } elsif ($path =~ m!^\Q$dir{iso}\E/([^/]+$ISO)$!) {
            return ('iso', "$sid:iso/$1");
        } elsif ($path =~ m!^\Q$dir{vztmpl}\E/([^/]+$VZTMPL)$!) {
            return ('vztmpl', "$sid:vztmpl/$1");
        } elsif ($path =~ m!^\Q$dir{backup}\E/([^/]+$BACKUP)$!) {
            return ('backup', "$sid:backup/$1");
        } elsif ($path =~ m!^\Q$dir{snippets}\E/([^/]+)$!) {
            return ('snippets', "$sid:snippets/$1");
        } elsif ($path =~ m!^\Q$dir{import}\E/([A-Za-z0-9\-\.\+\=\_]+$IMPORT)$!) {
            return ('import', "$sid:import/$1");
        }
    }
    return ('');
}

sub substitute {
    my ($value, $dir) = @_;
    return $value =~ s/\$\{STORAGE_DIR\}/$dir/gr if !ref($value);
    return [map { substitute($_, $dir) } @$value] if ref($value) eq 'ARRAY';
    return { map { $_ => substitute($value->{$_}, $dir) } keys %$value };
}

for my $vector (@vectors) {
    my $dir = storage_dir();
    my $input = substitute($vector->{input}, $dir);
    for my $step ($input->{setup}->@*) {
        my $path = untaint($step->{path});
        if ($step->{create} eq 'dir') {
            File::Path::make_path($path);
        } else {
            File::Path::make_path($path =~ s{/[^/]+$}{}r);
            open(my $fh, '>', $path) or die "$path: $!";
            close($fh);
        }
    }
    my $cfg = { ids => {} };
    for my $sid (keys $input->{storage_cfg}->{ids}->%*) {
        my $scfg = { $input->{storage_cfg}->{ids}->{$sid}->%* };
        $scfg->{type} = 'swift';
        $scfg->{content} = { map { $_ => 1 } $scfg->{content}->@* };
        $cfg->{ids}->{$sid} = $scfg;
    }
    my ($warnings, @got) = warnings_of { path_to_volume_id($cfg, $input->{path}) };
    is_deeply(\@got, substitute($vector->{expect}->{ok}, $dir), "$vector->{id}: $vector->{label}");
    ok(!grep({ !/is not in expected format/ } @$warnings), "$vector->{id}: no unexpected warning") if @$warnings;
}

# Beyond the vectors: linked clones and volids.
my $dir = storage_dir();
my $cfg = { ids => { st => { type => 'swift', path => $dir, content => { images => 1 } } } };
my $scfg = $cfg->{ids}->{st};
my $base = PLUGIN->create_base('st', $scfg, PLUGIN->alloc_image('st', $scfg, 900, 'qcow2', undef, 64));
my ($w, $clone) = warnings_of { PLUGIN->clone_image($scfg, 'st', $base, 100) };
is_deeply([path_to_volume_id($cfg, "$dir/images/100/vm-100-disk-0.qcow2")], ['images', "st:$clone"], 'a linked clone maps to its full volid');
is_deeply([path_to_volume_id($cfg, "$dir/images/100/vm-100-disk-1.qcow2")], [''], 'a missing image: none');
is_deeply([path_to_volume_id($cfg, "st:$clone")], ['images', "st:$clone"], 'a volid is parsed');
PLUGIN->free_image('st', $scfg, $clone, undef, 'qcow2');
PLUGIN->free_image('st', $scfg, $base, 1, 'qcow2');

done_testing();
