#!/usr/bin/perl
# Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*: small
# valid inputs the fuzzer mutates (volume and archive names from Tests/Fixtures,
# well-formed image headers, requests in the glue's encoding). `make fuzz` grows the
# corpus from them; FUZZING.md says how it is minimised before it is committed.
# Usage: fuzz/make-seeds.pl [FUZZ_DIR [TARGET...]]   (all targets unless some are named)
use strict;
use warnings;

use JSON::PP ();
use File::Path ();

my $fuzz = shift // 'fuzz';
my %only = map { $_ => 1 } @ARGV;
my $root = "$fuzz/..";
my %seeds;

# ValueCoding's byte encoding of values (SDK/Sources/PVEStorageTesting/ValueCoding.swift):
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

# Replication streams (Sources/DirectoryBackend/Replication/ReplicationStream.swift): the
# header, data (0x01) and zero (0x02) records, the end (0x00) and the XXH64 trailer.
# XXH64 in 64-bit arithmetic done in 32-bit halves (perl's + and * leave integers on overflow).
{
    no warnings 'portable';
    my $M32 = 0xffffffff;
    my @P = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5);
    sub add64 {
        my ($a, $b) = @_;
        my $lo = ($a & $M32) + ($b & $M32);
        return (((($a >> 32) + ($b >> 32) + ($lo >> 32)) & $M32) << 32) | ($lo & $M32);
    }
    sub mul64 {
        my ($a, $b) = @_;
        my ($al, $ah, $bl, $bh) = ($a & $M32, $a >> 32, $b & $M32, $b >> 32);
        my $lo = $al * $bl;
        my $hi = (($lo >> 32) + (($ah * $bl) & $M32) + (($al * $bh) & $M32)) & $M32;
        return ($hi << 32) | ($lo & $M32);
    }
    sub rotl64 { my ($x, $r) = @_; return (($x << $r) | ($x >> (64 - $r))) & 0xffffffffffffffff }
    sub xxround { my ($acc, $lane) = @_; return mul64(rotl64(add64($acc, mul64($lane, $P[1])), 31), $P[0]) }
    sub xxh64 {
        my ($data) = @_;
        my ($len, $i, $h) = (length($data), 0);
        if ($len >= 32) {
            my @v = (add64($P[0], $P[1]), $P[1], 0, 0x61C8864E7A143579); # seed 0; the last is -P1
            for (; $i + 32 <= $len; $i += 32) {
                $v[$_] = xxround($v[$_], unpack('Q<', substr($data, $i + 8 * $_, 8))) for 0 .. 3;
            }
            $h = add64(add64(rotl64($v[0], 1), rotl64($v[1], 7)), add64(rotl64($v[2], 12), rotl64($v[3], 18)));
            $h = add64(mul64($h ^ xxround(0, $_), $P[0]), $P[3]) for @v;
        } else {
            $h = $P[4];
        }
        $h = add64($h, $len);
        for (; $i + 8 <= $len; $i += 8) {
            $h = add64(mul64(rotl64($h ^ xxround(0, unpack('Q<', substr($data, $i, 8))), 27), $P[0]), $P[3]);
        }
        if ($i + 4 <= $len) {
            $h = add64(mul64(rotl64($h ^ mul64(unpack('V', substr($data, $i, 4)), $P[0]), 23), $P[1]), $P[2]);
            $i += 4;
        }
        for (; $i < $len; $i++) { $h = mul64(rotl64($h ^ mul64(ord(substr($data, $i, 1)), $P[4]), 11), $P[0]) }
        $h ^= $h >> 33; $h = mul64($h, $P[1]);
        $h ^= $h >> 29; $h = mul64($h, $P[2]);
        return $h ^ ($h >> 32);
    }
    # Reference values (python3-xxhash, seed 0).
    my %known = ('' => 0xEF46DB3751D8E999, 'abc' => 0x44BC2CF5AD770999, join('', map { chr } 0 .. 99) => 0x6AC1E58032166597,
        join('', map { chr } 0 .. 255) x 3 => 0x8E03C838C596036F);
    for (sort keys %known) { xxh64($_) == $known{$_} or die sprintf("xxh64 of %d bytes: %016x\n", length, xxh64($_)) }
}

# A stream: volume size, snapshot name, id, timestamp, base id ('' for a full stream),
# records [data => offset, bytes] or [zero => offset, length].
sub replication_stream {
    my ($size, $name, $id, $time, $base, @records) = @_;
    my $s = 'PVESWREP' . pack('V V Q< q< v v v v', 1, 0, $size, $time, length($name), length($id), length($base), 0)
        . $name . $id . $base;
    for my $r (@records) {
        my ($type, $offset, $what) = @$r;
        $s .= $type eq 'data' ? "\x01" . pack('Q< V', $offset, length($what)) . $what : "\x02" . pack('Q< Q<', $offset, $what);
    }
    $s .= "\x00";
    return $s . pack('Q<', xxh64($s));
}
# Data that is not all one byte (the import writes zero blocks as holes).
sub pattern { my ($length, $seed) = @_; return substr(join('', map { pack('N', $_ * 2654435761 + $seed) } 0 .. $length / 4), 0, $length) }
my ($snap1, $snap2) = ('__replicate_100-0_1733472000__', '__replicate_100-0_1733472900__');
my ($id1, $id2) = ('3f2a9c0e5b7d41e8a6c4f0b2d9e17a53', '9b1e04c7d2f8a6e3c5b0174f8e2d6a91');
# An extent as the extent part of the target decodes it (fuzz/Targets/ReplicationTargets.swift).
sub extent { my ($control, $a, $b, $c, $flags) = @_; return pack('C v v v v', $control, $a, $b, $c, $flags // 0) }
$seeds{'replication-stream'} = [
    # a full stream as the export writes it: data where the snapshot has data, holes not sent
    replication_stream(65536, $snap1, $id1, 1733472000, '',
        [data => 0, pattern(512, 1)], [data => 4096, pattern(1000, 2)], [data => 65436, pattern(100, 3)]),
    # an incremental one: changed ranges, holes in them as zero records, the last one at the end
    replication_stream(65536, $snap2, $id2, 1733472900, $id1,
        [zero => 0, 4096], [data => 8192, pattern(300, 4)], [zero => 12288, 4096], [data => 16384, pattern(64, 5)],
        [data => 16448, pattern(64, 6)], [zero => 20480, 45056 - 5536], [data => 60000, pattern(5536, 7)]),
    # a full stream of a disk without data, and an incremental one without changes
    replication_stream(1 << 34, 'snap', 'a', -1, ''),
    replication_stream(4096, 'x' x 128, 'Z' x 64, ~0 >> 1, '_.-' x 21 . 'b'),
    # the snapshot id attribute (user.pve-swift.snapshot)
    "1 $id1 1733472000", '1 ino131-1733472000 -42',
    # extent maps: window 0+1024, gap 64; old: data, shared data, a hole, unwritten;
    # new: the first extent moved, one shared, one encoded (compressed), one beyond
    pack('C v C', 0, 1024, 64) . pack('C', 4) . extent(0, 0, 256, 1000) . extent(0, 0, 256, 2000, 0x2000)
        . extent(0, 128, 128, 3000) . extent(0, 0, 128, 4000, 0x800)
        . pack('C', 4) . extent(0, 0, 256, 5000) . extent(0, 0, 256, 2000, 0x2000)
        . extent(0x40, 640, 128, 7000, 0x8) . extent(0x80 | 0x40, 0, 0, 0) . pack('q< q< q< v', 1 << 40, 4096, 1 << 41, 1),
];

for my $target (sort keys %seeds) {
    next if %only && !$only{$target};
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
