#!/usr/bin/perl
# apply-edits.pl TREE [--strict]
#
# Applies the change proposed in README.md to extracted sources of pve-storage,
# qemu-server and pve-container under TREE (TREE/pve-storage, TREE/qemu-server,
# TREE/pve-container). Every function added here is ours; an existing line is
# only ever located by a short pattern (a function name, a call or a message)
# and then either left alone with ours inserted beside it, or changed in that
# one spot. Each pattern must match exactly once: if upstream has moved on and
# a pattern no longer fits, this script stops and says which one.
#
# --strict  also asks the storage layer about the storage types that migration
#           has always accepted (dir, btrfs, zfspool, lvmthin, lvm) whenever
#           storage_migrate() moves their volumes. Not part of the proposal:
#           it only shows which existing tests depend on those types being
#           accepted without asking (see README.md).

use strict;
use warnings;

my ($tree, @flags) = @ARGV;
die "usage: $0 TREE [--strict]\n" if !defined($tree) || !-d $tree;
my $strict = grep { $_ eq '--strict' } @flags;

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or die "cannot read $path: $!\n";
    local $/;
    my $text = <$fh>;
    close($fh);
    return $text;
}

sub spew {
    my ($path, $text) = @_;
    open(my $fh, '>', $path) or die "cannot write $path: $!\n";
    print $fh $text;
    close($fh) or die "cannot write $path: $!\n";
}

# Offset of the only match of $re in $text at or after $from (die otherwise).
sub find_once {
    my ($text, $re, $what, $from, $to) = @_;
    $from //= 0;
    $to //= length($text);
    my $region = substr($text, $from, $to - $from);
    my @hits;
    while ($region =~ m/$re/gm) {
        push @hits, [$-[0] + $from, $+[0] - $-[0]];
    }
    die "pattern for '$what' matched " . scalar(@hits) . " times, expected once\n"
        if @hits != 1;
    return @{ $hits[0] };
}

# First match of $re at or after $from (die if none).
sub find_first {
    my ($text, $re, $what, $from) = @_;
    pos($text) = $from // 0;
    die "pattern for '$what' not found\n" if $text !~ m/$re/gm;
    return ($-[0], $+[0] - $-[0]);
}

# Start and end offset of the top-level sub $name (its closing "}" line included).
sub sub_range {
    my ($text, $name) = @_;
    my ($start) = find_once($text, qr/^sub \Q$name\E\b/m, "sub $name");
    my ($end, $len) = find_first($text, qr/^\}\n/m, "end of sub $name", $start);
    return ($start, $end + $len);
}

sub line_start {
    my ($text, $pos) = @_;
    my $nl = rindex($text, "\n", $pos - 1);
    return $nl + 1;
}

sub indent_of_line_at {
    my ($text, $pos) = @_;
    my $ls = line_start($text, $pos);
    substr($text, $ls) =~ m/^([ \t]*)/;
    return $1;
}

sub indent_block {
    my ($block, $indent) = @_;
    return join('', map { $_ eq "\n" ? $_ : "$indent$_" } split(/^/, $block));
}

my @done;

sub edit {
    my ($file, $code) = @_;
    my $path = "$tree/$file";
    my $text = slurp($path);
    $text = $code->($text);
    spew($path, $text);
}

# ---------------------------------------------------------------------------
# pve-storage: storage_migrate_formats()

my $storage_helper = <<'EOF';
# storage_migrate_formats($cfg, $volid, $target_storeid, $opts)
#
# The transfer formats storage_migrate() would negotiate for moving $volid to
# $target_storeid with the same $opts (with_snapshots, snapshot, base_snapshot,
# target_volname): what the source volume can be exported as, intersected
# with what the target storage can import, for the target volume name that
# storage_migrate() would pick. Nothing is changed: no migration snapshot is
# taken and $opts is left as it is. An empty list means storage_migrate()
# would refuse. Dies where storage_migrate() would die before negotiating
# (for example when the target storage cannot hold the volume's format).
sub storage_migrate_formats {
    my ($cfg, $volid, $target_storeid, $opts) = @_;

    $opts //= {};

    my ($storeid, $volname) = parse_volume_id($volid);
    my $scfg = storage_config($cfg, $storeid);
    my $tcfg = storage_config($cfg, $target_storeid);

    my $target_volname = $opts->{target_volname};
    if (!$target_volname) {
        if ($scfg->{type} eq $tcfg->{type}) {
            $target_volname = $volname;
        } else {
            my (undef, $name, $vmid, undef, undef, undef, $format) = parse_volname($cfg, $volid);
            $target_volname = $volname_for_storage->($cfg, $target_storeid, $name, $vmid, $format);
        }
    }

    # the snapshot storage_migrate() would take and send when none is given
    my $snapshot = $opts->{snapshot};
    $snapshot = '__migration__'
        if !defined($snapshot)
        && storage_migrate_snapshot($cfg, $storeid, $opts->{with_snapshots});

    return volume_transfer_formats(
        $cfg, $volid, "$target_storeid:$target_volname",
        $snapshot, $opts->{base_snapshot}, $opts->{with_snapshots},
    );
}

EOF

edit(
    'pve-storage/src/PVE/Storage.pm',
    sub {
        my ($text) = @_;
        my ($helper_pos) = find_once($text, qr/^my \$volname_for_storage = sub\b/m, '$volname_for_storage');
        my ($pos) = find_once($text, qr/^sub storage_migrate \{/m, 'sub storage_migrate');
        die "storage_migrate is defined before \$volname_for_storage\n" if $pos < $helper_pos;
        substr($text, $pos, 0) = $storage_helper;
        push @done, 'pve-storage: PVE::Storage::storage_migrate_formats() added before storage_migrate()';
        return $text;
    },
);

# ---------------------------------------------------------------------------
# qemu-server: PVE::QemuMigrate::Helpers

my $ask_default = $strict ? 1 : 0;

my $qemu_helpers = <<"EOF";
# Local volumes and the storage layer (inserted by try-upstream-change).
#
# Storage types whose local volumes migration has always accepted without asking
# the storage layer. They keep that, so nothing changes for them; any other type
# is asked, by the format negotiation storage_migrate() itself performs.
my \$DEFAULT_MIGRATABLE_TYPES = { map { \$_ => 1 } qw(dir btrfs zfspool lvmthin lvm) };
my \$ASK_DEFAULT_TYPES_TOO = $ask_default;

sub storage_type_migrates_by_default {
    my (\$type) = \@_;
    return \$DEFAULT_MIGRATABLE_TYPES->{\$type} ? 1 : 0;
}
EOF

$qemu_helpers .= <<'EOF';

# Whether the storage layer, not the storage type's name, decides if a local
# volume's snapshots can be migrated: for any type outside the default list,
# unless its snapshots form a volume chain (which no transfer format carries).
sub snapshots_decided_by_transfer {
    my ($scfg) = @_;
    return !storage_type_migrates_by_default($scfg->{type})
        && !$scfg->{'snapshot-as-volume-chain'};
}

# local_volume_migration_blocker($storecfg, $volid, $targetsid, $how)
#
# undef if the local volume $volid can be moved to storage $targetsid on the
# target node, otherwise a one-line reason. $how describes the move:
#   online         - attached to the running VM: QEMU mirrors it into a volume
#                    allocated on the target; no storage-layer transfer, so no
#                    format question (the target's content types and
#                    availability are checked elsewhere)
#   with_snapshots - storage_migrate() is to send its snapshots too
#   replicated     - replication has sent it already
# Any other volume is sent by PVE::Storage::storage_migrate(), and the answer
# is that function's format negotiation: the volume is movable if a format
# exists that its storage can export it as and the target storage can import.
sub local_volume_migration_blocker {
    my ($storecfg, $volid, $targetsid, $how) = @_;

    $how //= {};

    return undef if $how->{online} || $how->{replicated};

    my ($sid) = PVE::Storage::parse_volume_id($volid);
    my $scfg = PVE::Storage::storage_config($storecfg, $sid);

    return undef if storage_type_migrates_by_default($scfg->{type}) && !$ASK_DEFAULT_TYPES_TOO;

    my $with_snapshots = $how->{with_snapshots} ? 1 : 0;
    my @formats = eval {
        PVE::Storage::storage_migrate_formats(
            $storecfg, $volid, $targetsid, { with_snapshots => $with_snapshots },
        );
    };
    if (my $err = $@) {
        chomp($err);
        return "storage '$sid' (type '$scfg->{type}') cannot move it to storage"
            . " '$targetsid': $err";
    }
    return undef if @formats;

    my $tcfg = PVE::Storage::storage_config($storecfg, $targetsid);
    return "no transfer format in common: storage '$sid' (type '$scfg->{type}') cannot"
        . " export it" . ($with_snapshots ? ' with its snapshots' : '')
        . " in a format that storage '$targetsid' (type '$tcfg->{type}') can import";
}

EOF

edit(
    'qemu-server/src/PVE/QemuMigrate/Helpers.pm',
    sub {
        my ($text) = @_;
        my ($pos, $len) = find_once($text, qr/^use PVE::Cluster;\n/m, 'use PVE::Cluster in Helpers');
        substr($text, $pos + $len, 0) = "use PVE::Storage;\n";
        ($pos) = find_once($text, qr/^1;\s*\z/m, 'end of Helpers.pm');
        substr($text, $pos, 0) = $qemu_helpers;
        push @done, 'qemu-server: PVE::QemuMigrate::Helpers gains local_volume_migration_blocker()'
            . ' and two small predicates';
        return $text;
    },
);

# ---------------------------------------------------------------------------
# qemu-server: PVE::QemuMigrate::scan_local_volumes

edit(
    'qemu-server/src/PVE/QemuMigrate.pm',
    sub {
        my ($text) = @_;
        my ($from, $to) = sub_range($text, 'scan_local_volumes');

        # the type-name condition becomes a question to the storage layer
        my ($pos, $len) = find_once(
            $text,
            qr/^[ \t]*my \$migratable = \$scfg->\{type\} =~ \/[^\/\n]*lvmthin[^\/\n]*\/;[ \t]*\n/m,
            'type list in scan_local_volumes',
            $from,
            $to,
        );
        my $indent = indent_of_line_at($text, $pos);
        my $ours = <<'EOF';
# ask the storage layer instead of a list of type names (try-upstream-change)
my $blocker;
$blocker = PVE::QemuMigrate::Helpers::local_volume_migration_blocker(
    $storecfg,
    $volid,
    $local_volumes->{$volid}->{targetsid},
    {
        online => $self->{running} && $local_volumes->{$volid}->{ref} eq 'attached',
        with_snapshots => $local_volumes->{$volid}->{snapshots},
        replicated => $local_volumes->{$volid}->{replicated},
    },
) if !$self->{opts}->{remote};
my $migratable = !defined($blocker);
EOF
        substr($text, $pos, $len) = indent_block($ours, $indent);
        ($from, $to) = sub_range($text, 'scan_local_volumes');

        # its message says why
        ($pos, $len) = find_once(
            $text,
            qr/storage type '\$scfg->\{type\}' not supported\\n"/m,
            'refusal message in scan_local_volumes',
            $from,
            $to,
        );
        substr($text, $pos, $len) = '$blocker\n"';
        ($from, $to) = sub_range($text, 'scan_local_volumes');

        # snapshots of volumes on other types: decided by the transfer formats
        ($pos, $len) = find_once(
            $text,
            qr/die "non-migratable snapshot exists\\n";/m,
            'snapshot refusal in scan_local_volumes',
            $from,
            $to,
        );
        substr($text, $pos + $len - 1, 0) =
            "\n" . indent_of_line_at($text, $pos) . "    if !PVE::QemuMigrate::Helpers::snapshots_decided_by_transfer(\$scfg)";

        push @done, 'qemu-server: scan_local_volumes() asks local_volume_migration_blocker()'
            . ' instead of matching type names';
        return $text;
    },
);

# ---------------------------------------------------------------------------
# qemu-server: migrate_vm_precondition reports it

edit(
    'qemu-server/src/PVE/API2/Qemu.pm',
    sub {
        my ($text) = @_;
        my ($anchor) = find_once($text, qr/name => 'migrate_vm_precondition',/m, 'migrate_vm_precondition');
        my ($end) = find_first($text, qr/^\}\);\n/m, 'end of migrate_vm_precondition', $anchor);

        my ($ld) = find_first($text, qr/^[ \t]*local_disks => \{\n/m, 'local_disks schema', $anchor);
        my ($props, $plen) = find_first($text, qr/^[ \t]*properties => \{\n/m, 'local_disks item properties', $ld);
        die "local_disks schema not inside migrate_vm_precondition\n" if $props > $end;
        my $indent = indent_of_line_at($text, $props) . '    ';
        my $schema = <<'EOF';
'migration-blocker' => {
    type => 'string',
    optional => 1,
    description => "Set if the storage layer cannot move this disk to its storage"
        . " on another node: the reason.",
},
EOF
        substr($text, $props + $plen, 0) = indent_block($schema, $indent);
        ($end) = find_first($text, qr/^\}\);\n/m, 'end of migrate_vm_precondition', $anchor);

        my ($pos, $len) = find_once(
            $text,
            qr/^[ \t]*\$res->\{local_disks\} = \[values %\$local_disks\];\n/m,
            'local_disks result',
            $anchor,
            $end,
        );
        my $code = <<'EOF';

# which local disks the storage layer cannot move (try-upstream-change), to the
# same storage on the target, as migration does without a target storage
for my $disk ($res->{local_disks}->@*) {
    my $volid = $disk->{volid};
    next if $disk->{cdrom} && $volid !~ m/vm-\d+-cloudinit/;
    my ($sid) = PVE::Storage::parse_volume_id($volid, 1);
    next if !$sid;
    my $blocker = eval {
        my $format = (PVE::Storage::parse_volname($storecfg, $volid))[6] // '';
        PVE::QemuMigrate::Helpers::local_volume_migration_blocker(
            $storecfg, $volid, $sid,
            {
                online => $res->{running}
                    && $disk->{is_attached}
                    && !$disk->{cdrom}
                    && !$disk->{is_tpmstate},
                with_snapshots => $format =~ m/^(?:qcow2|vmdk)$/
                    || ($disk->{referenced_in_snapshot} && !$disk->{is_vmstate}),
            },
        );
    };
    $blocker = $@ if $@;
    if (defined($blocker)) {
        chomp($blocker);
        $disk->{'migration-blocker'} = $blocker;
    }
}
EOF
        substr($text, $pos + $len, 0) = indent_block($code, indent_of_line_at($text, $pos));
        push @done, 'qemu-server: migrate_vm_precondition marks each local disk the storage'
            . " layer cannot move with 'migration-blocker'";
        return $text;
    },
);

# ---------------------------------------------------------------------------
# pve-container: PVE::LXC::Migrate

my $lxc_helpers = <<"EOF";
# Local volumes and the storage layer (inserted by try-upstream-change).
#
# Storage types whose local volumes migration has always accepted without asking
# the storage layer. They keep that; any other type is asked, by the format
# negotiation storage_migrate() itself performs.
my \$DEFAULT_MIGRATABLE_TYPES = { map { \$_ => 1 } qw(dir zfspool lvmthin lvm btrfs) };
my \$ASK_DEFAULT_TYPES_TOO = $ask_default;
EOF

$lxc_helpers .= <<'EOF';

# Whether the storage layer, not the type's name, decides if a volume's
# snapshots can be migrated: for any type outside the default list.
sub snapshots_decided_by_transfer {
    my ($scfg) = @_;
    return !$DEFAULT_MIGRATABLE_TYPES->{ $scfg->{type} }
        && !$scfg->{'snapshot-as-volume-chain'};
}

# local_volume_migration_blocker($storecfg, $volid, $targetsid, $how)
#
# undef if storage_migrate() can move the local volume $volid to storage
# $targetsid, otherwise a one-line reason. $how->{with_snapshots}: its
# snapshots go along. The answer is storage_migrate()'s own format negotiation.
sub local_volume_migration_blocker {
    my ($storecfg, $volid, $targetsid, $how) = @_;

    $how //= {};

    my ($sid) = PVE::Storage::parse_volume_id($volid);
    my $scfg = PVE::Storage::storage_config($storecfg, $sid);

    return undef if $DEFAULT_MIGRATABLE_TYPES->{ $scfg->{type} } && !$ASK_DEFAULT_TYPES_TOO;

    my $with_snapshots = $how->{with_snapshots} ? 1 : 0;
    my @formats = eval {
        PVE::Storage::storage_migrate_formats(
            $storecfg, $volid, $targetsid, { with_snapshots => $with_snapshots },
        );
    };
    if (my $err = $@) {
        chomp($err);
        return "storage '$sid' (type '$scfg->{type}') cannot move it to storage"
            . " '$targetsid': $err";
    }
    return undef if @formats;

    my $tcfg = PVE::Storage::storage_config($storecfg, $targetsid);
    return "no transfer format in common: storage '$sid' (type '$scfg->{type}') cannot"
        . " export it" . ($with_snapshots ? ' with its snapshots' : '')
        . " in a format that storage '$targetsid' (type '$tcfg->{type}') can import";
}

EOF

edit(
    'pve-container/src/PVE/LXC/Migrate.pm',
    sub {
        my ($text) = @_;
        my ($pos) = find_once($text, qr/^sub phase1 \{/m, 'sub phase1');
        substr($text, $pos, 0) = $lxc_helpers;

        my ($from, $to) = sub_range($text, 'phase1');

        # snapshots on other types: decided by the transfer formats below
        my $len;
        ($pos, $len) = find_once(
            $text,
            qr/die "non-migratable snapshot exists\\n";/m,
            'snapshot refusal in phase1',
            $from,
            $to,
        );
        substr($text, $pos + $len - 1, 0) =
            "\n" . indent_of_line_at($text, $pos) . "    if !snapshots_decided_by_transfer(\$scfg)";
        ($from, $to) = sub_range($text, 'phase1');

        # the type list only still decides for remote migration
        ($pos, $len) = find_once(
            $text,
            qr/if !grep \{ \$_ eq \$scfg->\{type\} \} \@\$migratable_storages;/m,
            'type list condition in phase1',
            $from,
            $to,
        );
        substr($text, $pos + length('if '), 0) = '$remote && ';
        ($from, $to) = sub_range($text, 'phase1');

        # for a migration inside the cluster the storage layer is asked
        ($pos) = find_once(
            $text,
            qr/^[ \t]*die "storage type '\$scfg->\{type\}' not supported\\n"/m,
            'type list refusal in phase1',
            $from,
            $to,
        );
        my $ours = <<'EOF';
# ask the storage layer instead of a list of type names (try-upstream-change)
if (!$remote) {
    my $blocker = local_volume_migration_blocker(
        $self->{storecfg},
        $volid,
        $volhash->{$volid}->{targetsid},
        { with_snapshots => $volhash->{$volid}->{snapshots} },
    );
    die "$blocker\n" if defined($blocker);
}
EOF
        substr($text, $pos, 0) = indent_block($ours, indent_of_line_at($text, $pos));
        push @done, 'pve-container: phase1() asks local_volume_migration_blocker() instead of'
            . ' matching type names (the list stays for remote migration)';
        return $text;
    },
);

# ---------------------------------------------------------------------------
# pve-container: migrate_vm_precondition reports it

edit(
    'pve-container/src/PVE/API2/LXC.pm',
    sub {
        my ($text) = @_;
        my ($anchor) = find_once($text, qr/name => 'migrate_vm_precondition',/m, 'LXC migrate_vm_precondition');
        my ($end) = find_first($text, qr/^\}\);\n/m, 'end of LXC migrate_vm_precondition', $anchor);

        my ($ret) = find_first($text, qr/^[ \t]*returns => \{\n/m, 'LXC precondition returns', $anchor);
        my ($props, $plen) = find_first($text, qr/^[ \t]*properties => \{\n/m, 'LXC precondition result properties', $ret);
        die "returns schema not inside LXC migrate_vm_precondition\n" if $props > $end;
        my $schema = <<'EOF';
'local-volumes' => {
    type => 'array',
    optional => 1,
    description => "Volumes on local storage, which migration copies to the target node.",
    items => {
        type => 'object',
        properties => {
            volid => {
                type => 'string',
                description => 'The volume ID.',
            },
            'migration-blocker' => {
                type => 'string',
                optional => 1,
                description => "Set if the storage layer cannot move this volume to its"
                    . " storage on another node: the reason.",
            },
        },
    },
},
EOF
        substr($text, $props + $plen, 0) =
            indent_block($schema, indent_of_line_at($text, $props) . '    ');
        ($end) = find_first($text, qr/^\}\);\n/m, 'end of LXC migrate_vm_precondition', $anchor);

        my ($pos) = find_first($text, qr/^[ \t]*return \$res;\n/m, 'LXC precondition result', $anchor);
        die "no result in LXC migrate_vm_precondition\n" if $pos > $end;
        my $code = <<'EOF';
# local volumes and whether the storage layer can move them (try-upstream-change),
# to the same storage on the target, as migration does without a target storage
my $in_snapshots = {};
my @volids;
for my $snap (values(($vmconf->{snapshots} // {})->%*)) {
    PVE::LXC::Config->foreach_volume(
        $snap,
        sub {
            my ($ms, $mp) = @_;
            return if $mp->{type} ne 'volume';
            push @volids, $mp->{volume} if !$in_snapshots->{ $mp->{volume} };
            $in_snapshots->{ $mp->{volume} } = 1;
        },
    );
}
PVE::LXC::Config->foreach_volume_full(
    $vmconf,
    { include_unused => 1 },
    sub {
        my ($ms, $mp) = @_;
        push @volids, $mp->{volume} if $mp->{type} eq 'volume';
    },
);
my $seen = {};
my $local_volumes = [];
for my $volid (@volids) {
    next if $seen->{$volid}++;
    my ($sid) = PVE::Storage::parse_volume_id($volid, 1);
    next if !$sid;
    my $scfg = PVE::Storage::storage_config($storecfg, $sid);
    next if $scfg->{shared};
    my $entry = { volid => $volid };
    my $blocker = eval {
        PVE::LXC::Migrate::local_volume_migration_blocker(
            $storecfg, $volid, $sid, { with_snapshots => $in_snapshots->{$volid} },
        );
    };
    $blocker = $@ if $@;
    if (defined($blocker)) {
        chomp($blocker);
        $entry->{'migration-blocker'} = $blocker;
    }
    push @$local_volumes, $entry;
}
$res->{'local-volumes'} = $local_volumes;

EOF
        substr($text, $pos, 0) = indent_block($code, indent_of_line_at($text, $pos));
        push @done, "pve-container: migrate_vm_precondition lists 'local-volumes' with"
            . " 'migration-blocker' where the storage layer cannot move one";
        return $text;
    },
);

print "applied: $_\n" for @done;
print "applied: (strict variant: the default types are asked too)\n" if $strict;
