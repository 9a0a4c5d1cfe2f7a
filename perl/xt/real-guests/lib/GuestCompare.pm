package GuestCompare;

# What the guest-level comparisons (perl/xt/real-guests) share: a scenario runs once with
# a `dir` storage and once with a `swift` storage on the same kind of directory, step by
# step; each step's observation (outcome, printed output, guest config, volumes with their
# image metadata and data) is normalised (storage ID, storage path, volatile values) and
# the two runs are compared step by step, every difference asserted by name.

use strict;
use warnings;

use Exporter qw(import);
use Test::More;
use Storable ();
use SwiftPluginTest;
use RealPVEHost qw(:DEFAULT run_step write_data content slurp);

# run_step, write_data, content and slurp are RealPVEHost's, passed on.
our @EXPORT = qw(run_step observe_guest volume_facts write_data content subvol_content slurp
    side compare_runs qemu_api drive_volid xfs_storages run_both);

# One run of a scenario: the storage under test (sid, type, path) and the steps seen.
package GuestCompare::Side {
    sub new {
        my ($class, %args) = @_;
        return bless { %args, steps => [], seen => {} }, $class;
    }
    sub sid { $_[0]->{sid} }
    sub type { $_[0]->{type} }
    sub path { $_[0]->{path} }
    # Records an observation under a step name (unique within a run).
    sub record {
        my ($self, $name, $observation) = @_;
        die "step '$name' recorded twice\n" if $self->{seen}->{$name}++;
        push $self->{steps}->@*, [$name, $observation];
        return $observation;
    }
}

sub side {
    return GuestCompare::Side->new(@_);
}

# The storages of the VM and container comparisons, directories of one loop-mounted XFS:
# gdir, gswift and gother (a dir storage that disks move to); returns their paths.
sub xfs_storages {
    my $xfs = loop_mounted_dir('xfs');
    my %path = map { ($_ => "$xfs/$_") } qw(dir swift other);
    mkdir($_) or die "mkdir $_: $!\n" for values %path;
    for my $storage (['gdir', 'dir', $path{dir}], ['gswift', 'swift', $path{swift}], ['gother', 'dir', $path{other}]) {
        my ($sid, $type, $path) = @$storage;
        my $outcome = api_create($type, $sid, $path, { content => 'images,rootdir' });
        is($outcome->{error}, '', "pvesm add $type $sid on XFS");
    }
    return %path;
}

# Runs $scenario on gdir, then on gswift (xfs_storages' $path); returns the two sides.
sub run_both {
    my ($scenario, $path) = @_;
    my $dir = side(sid => 'gdir', type => 'dir', path => $path->{dir});
    my $swift = side(sid => 'gswift', type => 'swift', path => $path->{swift});
    subtest 'dir run' => sub { $scenario->($dir) };
    subtest 'swift run' => sub { $scenario->($swift) };
    return ($dir, $swift);
}

# A qemu-server API handler (PVE::API2::Qemu) on this node, as run_step runs it.
sub qemu_api {
    my ($method, $param) = @_;
    return run_step(sub { PVE::API2::Qemu->$method({ node => RealPVEHost::NODE, %$param }) });
}

# The volume ID of a VM's drive (dies if the VM has no such drive).
sub drive_volid {
    my ($vmid, $key) = @_;
    my $value = PVE::QemuConfig->load_config($vmid)->{$key} // die "VM $vmid has no $key\n";
    return PVE::QemuServer::Drive::parse_drive($key, $value)->{file};
}

# A subvol's files: relative path => SHA-256 of the content (directories as 'dir').
sub subvol_content {
    my ($cfg, $volid) = @_;
    my $root = PVE::Storage::path($cfg, $volid);
    my %files;
    for my $rel (files_below($root)->@*) {
        my $file = "$root/$rel";
        $files{$rel} = -l $file ? 'link' : -d $file ? 'dir' : checksum($file);
    }
    return \%files;
}

# Image facts of a volume: the storage's view (format, size, parent) and qemu-img's
# (format, virtual size, cluster size, backing file, qcow2 options, snapshots), and data.
sub volume_facts {
    my ($cfg, $volid) = @_;
    my ($vtype, $name, $vmid, $basename, $basevmid, $isbase, $format) = PVE::Storage::parse_volname($cfg, $volid);
    my %facts = (vtype => $vtype, format => $format, isbase => $isbase ? 1 : 0,
        base => defined($basename) ? "$basename" : undef);
    my ($size, $fmt, $used, $parent) = PVE::Storage::volume_size_info($cfg, $volid);
    @facts{qw(size info-format parent)} = ($size, $fmt, $parent);
    my $path = PVE::Storage::path($cfg, $volid);
    if ($format eq 'subvol') {
        $facts{files} = subvol_content($cfg, $volid);
        my @st = stat($path);
        $facts{mode} = sprintf('%04o', $st[2] & 07777) if @st;
        return \%facts;
    }
    my $info = qemu_img_info($path, $format);
    my $data = ($info->{'format-specific'} // {})->{data} // {};
    $facts{qemu} = {
        map({ ($_ => $info->{$_}) } grep { defined($info->{$_}) }
            qw(format virtual-size cluster-size backing-filename backing-filename-format dirty-flag)),
        map({ ("spec-$_" => $data->{$_}) } grep { defined($data->{$_}) && !ref($data->{$_}) }
            qw(compat lazy-refcounts refcount-bits corrupt extended-l2 compression-type)),
        snapshots => [sort map { $_->{name} } ($info->{snapshots} // [])->@*],
    };
    $facts{data} = content($cfg, $volid);
    return \%facts;
}

# A guest's state: its config (text, from the cluster directory) and every volume of
# its storages that belongs to it (vdisk_list), with volume_facts.
sub observe_guest {
    my ($cfg, $type, $vmid, @sids) = @_;
    my $dir = $type eq 'qemu' ? 'qemu-server' : 'lxc';
    my %observed;
    my $file = "$RealPVEHost::CFS_DIR/nodes/" . RealPVEHost::NODE . "/$dir/$vmid.conf";
    $observed{config} = -f $file ? slurp($file) : undef;
    my $list = {};
    for my $sid (@sids) {
        my $one = PVE::Storage::vdisk_list($cfg, $sid, $vmid);
        $list->{$sid} = $one->{$sid} // [];
    }
    for my $sid (sort keys %$list) {
        for my $item ($list->{$sid}->@*) {
            my %copy = %$item;
            delete $copy{ctime};
            delete $copy{used}; # allocation: depends on the file system's extents, not the storage
            $observed{volumes}->{$item->{volid}} = { list => \%copy, facts => volume_facts($cfg, $item->{volid}) };
        }
    }
    return \%observed;
}

# Replaces, anywhere in $value, the side's storage ID and path by placeholders, and the
# volatile parts of guest configs (creation time, generated UUIDs, snapshot times, UPIDs).
sub normalised {
    my ($side, $value) = @_;
    if (ref($value) eq 'HASH') {
        return { map { (normalised($side, $_) => normalised($side, $value->{$_})) } keys %$value };
    } elsif (ref($value) eq 'ARRAY') {
        return [map { normalised($side, $_) } @$value];
    } elsif (defined($value) && !ref($value)) {
        my $copy = $value;
        my ($sid, $path) = ($side->sid, $side->path);
        # Other storages' IDs and paths first (longest first: a path may extend another).
        for my $extra (sort { length($b) <=> length($a) } keys(($side->{also} // {})->%*)) {
            my $to = $side->{also}->{$extra};
            $copy =~ s/\Q$extra\E/$to/g;
        }
        $copy =~ s/\Q$path\E/<path>/g;
        $copy =~ s/\b\Q$sid\E\b/<storeid>/g;
        $copy =~ s/PVE::Storage::(?:DirPlugin|Custom::SwiftPlugin)/<class>/g;
        $copy =~ s/\bctime=\d+/ctime=<time>/g;
        $copy =~ s/^snaptime: \d+$/snaptime: <time>/mg;
        $copy =~ s/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/<uuid>/g; # smbios1, vmgenid, mkfs
        $copy =~ s/UPID:[^\s']+/<upid>/g;
        $copy =~ s/\(duration \d\d:\d\d:\d\d\)/(duration <time>)/g;
        $copy =~ s/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /<time> /mg;
        # rsync's statistics: its protocol's byte counts vary with the files' timestamps.
        $copy =~ s/^(Total bytes (?:sent|received)|File list (?:generation|transfer) time): .*$/$1: <n>/mg;
        $copy =~ s/^sent [\d,]+ bytes  received [\d,]+ bytes  [\d.,]+ bytes\/sec$/sent <n> bytes  received <n> bytes  <n> bytes\/sec/mg;
        $copy =~ s/  speedup is [\d.,]+$/  speedup is <n>/mg;
        # fuser (unmounting) in a container that may not look at PID 1's descriptors
        $copy =~ s/^Cannot stat file \/proc\/\d+\/fd\/\d+: Permission denied\n//mg;
        return $copy;
    }
    return $value;
}

# Compares the two runs step by step. $rules: step name => one of
#   { deliberate => 'why', check => sub { my ($dir, $swift) = @_; ... tests ... } }
#       a deliberate difference: check asserts it (the observations are not compared);
#   { todo => 'bug' }: compared, inside a TODO block naming the bug;
#   { ignore => [keys] }: compared without those top-level keys of the observations;
#   { swift_only => 'why', check => sub { my ($swift) = @_; ... } }: a step only the swift
#       run takes (it follows a deliberate difference), checked on its own.
# Every other step of one run must be in the other.
sub compare_runs {
    my ($dir, $swift, $rules) = @_;
    my %used;
    my @dir_names = map { $_->[0] } $dir->{steps}->@*;
    my @swift_names = grep { !$rules->{$_} || !$rules->{$_}->{swift_only} } map { $_->[0] } $swift->{steps}->@*;
    is_deeply(\@swift_names, \@dir_names, 'both runs took the same steps');
    my %swift_step = map { ($_->[0] => $_->[1]) } $swift->{steps}->@*;
    for my $name (grep { $rules->{$_}->{swift_only} } sort keys %$rules) {
        next if !$swift_step{$name};
        $used{$name} = 1;
        subtest "$name: swift only: $rules->{$name}->{swift_only}" => sub {
            $rules->{$name}->{check}->(normalised($swift, $swift_step{$name}));
        };
    }
    for my $step ($dir->{steps}->@*) {
        my ($name, $dir_obs) = @$step;
        my $swift_obs = $swift_step{$name};
        next if !$swift_obs;
        my $rule = $rules->{$name} // {};
        $used{$name} = 1 if %$rule;
        my ($d, $s) = (normalised($dir, $dir_obs), normalised($swift, $swift_obs));
        if ($rule->{ignore}) {
            delete @$d{$rule->{ignore}->@*};
            delete @$s{$rule->{ignore}->@*};
        }
        if ($rule->{deliberate}) {
            subtest "$name: deliberate difference: $rule->{deliberate}" => sub {
                $rule->{check}->($d, $s);
            };
        } elsif ($rule->{todo}) {
            TODO: {
                local $TODO = $rule->{todo};
                is_deeply($s, $d, "$name: swift as dir");
                debug_difference($name, $d, $s);
            }
        } else {
            is_deeply($s, $d, "$name: swift as dir") or debug_difference($name, $d, $s, 1);
        }
    }
    my @unused = grep { !$used{$_} } sort keys %$rules;
    is_deeply(\@unused, [], 'every difference rule names a step that ran');
}

sub debug_difference {
    my ($name, $d, $s, $always) = @_;
    return if !$always && !$ENV{GUESTS_COMPARE_DEBUG};
    return if !$ENV{GUESTS_COMPARE_DEBUG} && !$always;
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Indent = 1;
    require Data::Dumper;
    diag("$name, dir:\n" . Data::Dumper::Dumper($d) . "swift:\n" . Data::Dumper::Dumper($s));
}

1;
