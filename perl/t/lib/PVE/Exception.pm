package PVE::Exception;

# Test-only stand-in for PVE::Exception (pve-common), written for this project's
# tests. Never installed. Only what the stand-in PVE::JSONSchema raises is here:
# an exception object carrying a message, an optional HTTP status code and a
# hash of per-parameter errors, which stringifies the way PVE shows it
# ("<code> <msg>" followed by one "<param>: <error>" line per error).

use strict;
use warnings;

use overload
    '""' => sub { local $@; $_[0]->stringify },
    'cmp' => sub {
        my ($x, $y, $swapped) = @_;
        local $@;
        return $swapped ? ("$y" cmp "$x") : ("$x" cmp "$y");
    };

use base 'Exporter';
our @EXPORT_OK = qw(raise raise_param_exc);

use constant HTTP_BAD_REQUEST => 400;

sub new {
    my ($class, $msg, %param) = @_;
    my $self = { msg => $msg };
    for my $k (keys %param) {
        $self->{$k} //= _copy($param{$k});
    }
    return bless $self, ref($class) || $class;
}

sub _copy {
    my ($v) = @_;
    return { map { $_ => _copy($v->{$_}) } keys %$v } if ref($v) eq 'HASH';
    return [map { _copy($_) } @$v] if ref($v) eq 'ARRAY';
    return $v;
}

sub _throw {
    my ($exc) = @_;
    my (undef, $file, $line) = caller(1);
    @$exc{qw(filename line)} = ($file, $line);
    die $exc;
}

sub raise {
    _throw(__PACKAGE__->new(@_));
}

sub raise_param_exc {
    my ($errors, $usage) = @_;
    my %p = (code => HTTP_BAD_REQUEST, errors => $errors);
    $p{usage} = $usage if $usage;
    _throw(__PACKAGE__->new("Parameter verification failed.\n", %p));
}

sub is_param_exc {
    my ($self) = @_;
    return $self->{code} && $self->{code} eq HTTP_BAD_REQUEST;
}

sub stringify {
    my ($self) = @_;

    my $text = $self->{code} ? "$self->{code} $self->{msg}" : $self->{msg};
    if ($text !~ m/\n$/) {
        $text .= " at $self->{filename} line $self->{line}" if $self->{filename} && $self->{line};
        $text .= "\n";
    }
    my $errors = $self->{errors} // {};
    $text .= "$_: $errors->{$_}\n" for keys %$errors;
    if (defined(my $usage = $self->{usage})) {
        $text .= $usage;
        $text .= "\n" if $text !~ m/\n$/;
    }
    return $text;
}

1;
