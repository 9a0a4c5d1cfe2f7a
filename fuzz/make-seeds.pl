#!/usr/bin/perl
# Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*: small
# valid inputs the fuzzer mutates (volume and archive names from Tests/Fixtures,
# well-formed image headers, requests in the glue's encoding). `make fuzz` grows the
# corpus from them; FUZZING.md says how it is minimised before it is committed.
# Usage: fuzz/make-seeds.pl [FUZZ_DIR]
use strict;
use warnings;

use JSON::PP ();
use File::Path ();

my $fuzz = shift // 'fuzz';
my $root = "$fuzz/..";
my %seeds;

# The glue's value encoding (Sources/SwiftPluginCore/Bridge/ValueCoding.swift):
# a tag byte, then little-endian numbers, u32 lengths and counts.
sub enc {
    my ($v) = @_;
    return 'U' if !defined($v);
    if (ref($v) eq 'HASH') {
        return 'H' . pack('V', scalar(keys %$v))
            . join('', map { pack('V', length($_)) . $_ . enc($v->{$_}) } sort keys %$v);
    }
    return 'A' . pack('V', scalar(@$v)) . join('', map { enc($_) } @$v) if ref($v) eq 'ARRAY';
    return 'N' . pack('d<', $$v) if ref($v) eq 'SCALAR';           # \1.5: a double
    return 'T' . pack('V', length($v->[0])) . $v->[0] if ref($v) eq 'TEXT';
    return 'I' . pack('q<', $v) if $v =~ /^-?[0-9]{1,18}\z/;
    return 'S' . pack('V', length($v)) . $v;
}

my $vectors = JSON::PP::decode_json(do {
    open(my $fh, '<', "$root/Tests/Fixtures/test-vectors.json") or die "test-vectors.json: $!\n";
    local $/; <$fh>;
})->{vectors};
my %volnames = map { defined($_->{input}->{volname}) ? ($_->{input}->{volname} => 1) : () } @$vectors;
my @archives = map { $_->{suite} eq 'archive_info' ? $_->{input}->{archive} : () } @$vectors;
$seeds{'volume-name'} = [sort keys %volnames];
$seeds{'archive-name'} = [@archives, 'vzdump-qemu-100-2024_02_29-23_59_59.vma.zst'];

# qcow2: a version 2 header (72 bytes) and a version 3 header (104 bytes) with a backing file.
sub qcow2 {
    my (%f) = @_;
    my $h = "QFI\xfb" . pack('N', $f{version}) . pack('Q>', $f{backing_offset} // 0)
        . pack('N', length($f{backing} // '')) . pack('N', $f{cluster_bits} // 16) . pack('Q>', $f{size});
    $h .= "\0" x (72 - length($h));
    $h .= pack('Q>', 0) . "\0" x 20 . pack('N', 104) if $f{version} == 3;
    # Header extensions: [type, data], each padded to 8 bytes, then the end marker.
    if ($f{extensions}) {
        $h .= join('', map { pack('N N', $_->[0], length($_->[1])) . $_->[1] . "\0" x ((8 - length($_->[1]) % 8) % 8) }
            $f{extensions}->@*) . pack('N N', 0, 0);
    }
    if (defined($f{backing})) {
        $h .= "\0" x ($f{backing_offset} - length($h));
        $h .= $f{backing};
    }
    return $h;
}
$seeds{'qcow2-header'} = [
    qcow2(version => 2, size => 1 << 30),
    qcow2(version => 3, size => 1 << 30),
    qcow2(version => 3, size => 8 << 30, backing_offset => 112, backing => '../100/base-100-disk-0.qcow2'),
    qcow2(version => 2, size => 1 << 20, cluster_bits => 9, backing_offset => 80, backing => 'base.raw'),
    # what qemu-img create -F writes: a feature name table and the backing format extension
    qcow2(version => 3, size => 4 << 20, backing_offset => 256, backing => '../200/base-200-disk-0.raw',
        extensions => [[0x6803f857, "\0\0dirty bit" . "\0" x 37], [0xE2792ACA, 'raw']]),
    qcow2(version => 2, size => 1 << 20, cluster_bits => 9, backing_offset => 128, backing => 'base.qcow2',
        extensions => [[0xE2792ACA, 'qcow2']]),
];

# vmdk: a hosted sparse extent with its descriptor, an ESX sparse header, a text descriptor.
my $descriptor = qq{# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n}
    . qq{createType="monolithicSparse"\n\n# Extent description\nRW 204800 SPARSE "disk.vmdk"\n\n}
    . qq{ddb.virtualHWVersion = "4"\n};
my $sparse = 'KDMV' . pack('V V Q< Q< Q< Q<', 1, 3, 204800, 128, 1, 1);
$sparse .= "\0" x (512 - length($sparse));
$sparse .= $descriptor . "\0" x (512 - length($descriptor));
my $child = $descriptor =~ s/parentCID=ffffffff/parentCID=12345678\nparentFileNameHint="base.vmdk"/r
    =~ s/monolithicSparse/monolithicFlat/r =~ s/SPARSE/FLAT/r;
$seeds{'vmdk-header'} = [$sparse, 'COWD' . pack('V V V', 1, 3, 204800) . "\0" x 496, $descriptor, $child];

# Requests as the XS glue encodes them, and storage configurations.
my @configs = (
    { type => 'swift', path => '/srv/fast', content => { images => 1, iso => 1, backup => 1 } },
    { type => 'swift', path => '/mnt/nfs/pve', 'content-dirs' => { iso => 'isos', backup => 'dumps' },
      'create-base-path' => 0, 'create-subdirs' => '1', is_mountpoint => 'yes', shared => 1 },
    { path => '/srv/s', format => 'qcow2', preallocation => 'metadata', 'snapshot-as-volume-chain' => 1,
      'prune-backups' => { 'keep-last' => 3, 'keep-daily' => '2', 'keep-weekly' => 1, 'keep-monthly' => '1x' } },
    { path => '/srv/s', is_mountpoint => '/srv', 'prune-backups' => { 'keep-all' => 1 }, disable => 1 },
);
$seeds{'storage-options'} = [map { enc($_) } @configs];
$seeds{'request-decoding'} = [
    enc(undef), enc(42), enc(-1), enc(\1.5), enc('100/vm-100-disk-0.qcow2'), enc("\xff\xfe name"),
    enc(bless(["notes \xc3\xa4"], "TEXT")),
    enc(['fast', $configs[0], '100/vm-100-disk-0.qcow2', undef, 1]),
    enc({ storeid => 'fast', scfg => $configs[2], vmid => '100', keep => { 'keep-last' => 1 } }),
];

for my $target (sort keys %seeds) {
    my $dir = "$fuzz/corpus/$target";
    File::Path::make_path($dir);
    my $n = 0;
    for my $seed ($seeds{$target}->@*) {
        my $file = sprintf('%s/seed-%02d', $dir, ++$n);
        open(my $fh, '>:raw', $file) or die "$file: $!\n";
        print $fh $seed;
        close($fh) or die "$file: $!\n";
    }
    print "$target: $n seeds\n";
}
