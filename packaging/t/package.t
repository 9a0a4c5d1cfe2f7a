#!/usr/bin/perl
# Runs packaging/package-test.sh for every suite's .deb in build/ (written by
# `make deb`) and turns its TAP into one subtest per suite, for `prove`.
use strict;
use warnings;
use FindBin;
use Test::More;

my $top = "$FindBin::Bin/../..";
my $out = $ENV{SWIFTPLUGIN_DEB_DIR} // "$top/build";
my $pkg = 'libpve-storage-swiftplugin-perl';
my %major = (bookworm => 12, trixie => 13);

plan skip_all => 'the package test needs root (debootstrap, chroot, mount)' if $> != 0;

chomp(my $arch = `dpkg --print-architecture`);
for my $suite (sort { $major{$a} <=> $major{$b} } keys %major) {
    subtest $suite => sub {
        # build-deb.sh names each suite's build <version>~deb<major>; take the newest
        my @debs = sort { -M $a <=> -M $b } glob("$out/${pkg}_*~deb$major{$suite}_$arch.deb");
        if (!@debs) {
            fail("a .deb for $suite in $out (run `make deb`)");
            return;
        }
        open(my $tap, '-|', "$top/packaging/package-test.sh", $suite, $debs[0])
            or die "cannot run package-test.sh: $!\n";
        my $failing = 0; # comments after a failed test are its diagnostics
        while (my $line = <$tap>) {
            chomp $line;
            if ($line =~ m/^(not )?ok \d+ - (.*)$/) {
                $failing = !ok(!$1, $2);
            } elsif ($line =~ m/^Bail out! (.*)$/) {
                $failing = !fail("package test bailed out: $1");
            } elsif ($line =~ m/^# ?(.*)$/) {
                $failing ? diag($1) : note($1);
            }
        }
        close($tap);
        is($? >> 8, 0, "package-test.sh $suite exit status");
    };
}
done_testing();
