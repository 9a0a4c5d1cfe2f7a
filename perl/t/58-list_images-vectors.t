#!/usr/bin/perl -T
# Contract (shared vectors, suite list_volumes, image part): the images and container
# volumes a list_volumes vector expects are exactly what list_images($storeid, $scfg,
# $vmid) returns on the same setup: same volids, formats, sizes, owners, parents and
# ctimes, where the vector's metadata mocks (stat ctime, used size) stand for the real
# metadata of the files (see with_real_metadata). (list_volumes
# itself, which adds the content type and the other content, is tested with its method.)
use strict;
use warnings;

use lib 'perl/t/testlib';
use File::Path ();
use Test::More;
use SwiftPluginTest;


load_host();

my @vectors = vectors('list_volumes');
ok(@vectors >= 2, 'the shared vectors are there');

sub substitute {
    my ($value, $dir) = @_;
    return $value if !defined($value);
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
            next;
        }
        File::Path::make_path($path =~ s{/[^/]+$}{}r);
        my @backing = $step->{backing} ? ('-u', '-b', $step->{backing}, '-F', $step->{backing_format}) : ();
        qemu_img('create', '-f', $step->{format}, @backing, $path, $step->{size});
    }
    my $scfg = { %{ $input->{scfg} }, type => 'swift', content => { map { $_ => 1 } $input->{scfg}->{content}->@* } };
    my @expected = sort { $a->{volid} cmp $b->{volid} }
        map { my %item = %$_; delete $item{content}; \%item } grep { $_->{content} =~ /^(images|rootdir)$/ }
        with_real_metadata($vector->{expect}->{ok}, $input->{mocks} // {}, $dir, $input->{setup})->@*;
    my ($warnings, $got) = warnings_of { PLUGIN->list_images($input->{storeid}, $scfg, $input->{vmid}) };
    is_deeply([sort { $a->{volid} cmp $b->{volid} } @$got], \@expected, "$vector->{id}: $vector->{label}");
    is_deeply($warnings, [], "$vector->{id}: no warning");
}

done_testing();
