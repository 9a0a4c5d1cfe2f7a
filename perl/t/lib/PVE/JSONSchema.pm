package PVE::JSONSchema;

# Test-only stand-in for PVE::JSONSchema (pve-common), written for this
# project's tests and never installed. It knows just enough of the schema
# language to validate the values of storage.cfg:
#
#   * named formats (register_format / get_format / check_format), either a
#     verifier sub or a hash describing a property string;
#   * standard options (register_standard_option / get_standard_option);
#   * check_prop: type check with conversion (boolean, integer, number,
#     string), minimum/maximum, enum, pattern, maxLength, format;
#   * parse_property_string for the 'key=value,...' formats.
#
# Error texts are those PVE prints for the same mistakes.

use strict;
use warnings;

use PVE::Exception qw(raise_param_exc);

use base 'Exporter';
our @EXPORT_OK = qw(register_standard_option get_standard_option parse_property_string);

my %FORMATS;
my %STANDARD_OPTIONS;

sub register_format {
    my ($name, $spec) = @_;
    die "JSON schema format '$name' is already registered\n" if exists($FORMATS{$name});
    $FORMATS{$name} = $spec;
}

sub get_format {
    my ($name) = @_;
    return $FORMATS{$name};
}

sub register_standard_option {
    my ($name, $schema) = @_;
    die "standard option '$name' is already registered\n" if exists($STANDARD_OPTIONS{$name});
    $STANDARD_OPTIONS{$name} = $schema;
}

sub get_standard_option {
    my ($name, $extra) = @_;
    my $base = $STANDARD_OPTIONS{$name} or die "no such standard option '$name'\n";
    return { %$base, %{ $extra // {} } };
}

# --- formats ------------------------------------------------------------------

my sub split_list {
    my ($text) = @_;
    return grep { length } split(/[,;\s]+/, $text // '');
}

# Runs a named (or inline) format on $value; returns what the verifier returns,
# dies "invalid format - <reason>" otherwise.
sub check_format {
    my ($format, $value) = @_;

    my $spec = ref($format) ? $format : $FORMATS{$format};
    die "undefined format '$format'\n" if !defined($spec);

    my $list = 0;
    if (!ref($format) && $format =~ m/^(.+)-list$/ && !exists($FORMATS{$format}) ) {
        ($spec, $list) = ($FORMATS{$1}, 1);
    }

    my $result = eval {
        if (ref($spec) eq 'HASH') {
            return parse_property_string($spec, $value);
        }
        return $spec->($value) if !$list;
        return [map { $spec->($_) } split_list($value)];
    };
    die "invalid format - $@" if $@;
    return $result;
}

# --- type checks ----------------------------------------------------------------

my %TYPE_RULES = (
    boolean => sub {
        my ($v) = @_;
        return (undef, 1) if ref($v) && "$v" eq '1';
        return (undef, 0) if ref($v) && "$v" eq '0';
        return (!ref($v) && $v =~ m/^[01]$/) ? (undef, $v + 0) : ('bad');
    },
    integer => sub {
        my ($v) = @_;
        return (!ref($v) && $v =~ m/^[+-]?\d+$/) ? (undef, $v + 0) : ('bad');
    },
    number => sub {
        my ($v) = @_;
        return (!ref($v) && $v =~ m/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i)
            ? (undef, $v + 0) : ('bad');
    },
    string => sub {
        my ($v) = @_;
        return ref($v) ? ('bad') : (undef, $v);
    },
);

my sub describe {
    my ($v) = @_;
    return ref($v) ? ref($v) : "'$v'";
}

# Each entry: [ schema key, check returning an error text or undef ]
my @CONSTRAINTS = (
    [minimum => sub {
        my ($v, $min) = @_;
        return $v < $min ? "value must have a minimum value of $min" : undef;
    }],
    [maximum => sub {
        my ($v, $max) = @_;
        return $v > $max ? "value must have a maximum value of $max" : undef;
    }],
    [maxLength => sub {
        my ($v, $len) = @_;
        return length($v) > $len ? "value may only be $len characters long" : undef;
    }],
    [minLength => sub {
        my ($v, $len) = @_;
        return length($v) < $len ? "value must be at least $len characters long" : undef;
    }],
    [pattern => sub {
        my ($v, $re) = @_;
        return $v =~ m/^$re$/ ? undef : "value does not match the regex pattern";
    }],
    [enum => sub {
        my ($v, $values) = @_;
        return undef if grep { $_ eq $v } @$values;
        return "value '$v' does not have a value in the enumeration '" . join(', ', @$values) . "'";
    }],
);

# Validates one value against a property schema. Returns the converted value;
# an error is recorded in $errors->{$path} (or thrown when $errors is undef).
sub check_prop {
    my ($value, $schema, $path, $errors) = @_;

    my $fail = sub {
        my ($msg) = @_;
        die "$msg\n" if !$errors;
        $errors->{$path // ''} = $msg;
        return undef;
    };

    return $fail->('property is missing and it is not optional')
        if !defined($value) && !$schema->{optional};
    return undef if !defined($value);

    my $type = $schema->{type} // 'string';
    my $rule = $TYPE_RULES{$type} or return $fail->("unsupported type '$type'");
    my ($bad, $converted) = $rule->($value);
    return $fail->("type check ('$type') failed - got " . describe($value)) if $bad;

    for my $constraint (@CONSTRAINTS) {
        my ($key, $check) = @$constraint;
        next if !defined($schema->{$key});
        next if ($key eq 'minimum' || $key eq 'maximum') && $type !~ m/^(?:integer|number)$/;
        my $msg = $check->($converted, $schema->{$key});
        return $fail->($msg) if defined($msg);
    }

    if (defined(my $format = $schema->{format})) {
        eval { check_format($format, $converted) };
        if (my $err = $@) {
            return $fail->("$err");
        }
    }
    return $converted;
}

# --- property strings -------------------------------------------------------------

# 'a=1,b=x' (plus an optional default key for a bare first value) into a hash,
# every value checked against the format's schema for that key.
sub parse_property_string {
    my ($format, $text) = @_;

    $format = $FORMATS{$format} if !ref($format);
    die "undefined property string format\n" if ref($format) ne 'HASH';

    my ($default_key) = grep { $format->{$_}->{default_key} } sort keys %$format;
    my %res;
    my %errors;

    for my $part (split(/,/, $text // '')) {
        next if $part eq '';
        my ($key, $val) = $part =~ m/^([^=]+)=(.*)$/s ? ($1, $2) : (undef, $part);
        if (!defined($key)) {
            if (!defined($default_key)) {
                $errors{$part} = 'missing key in comma-separated list property';
                next;
            }
            $key = $default_key;
        }
        my $schema = $format->{$key};
        if (!$schema) {
            $errors{$key} = 'property is not defined in schema and the schema does not allow additional properties';
            next;
        }
        if (exists($res{$key})) {
            $errors{$key} = 'duplicate key in comma-separated list property';
            next;
        }
        my $ok = check_prop($val, $schema, $key, \%errors);
        $res{$key} = $ok if !exists($errors{$key});
    }

    for my $key (sort keys %$format) {
        next if $format->{$key}->{optional} || exists($res{$key}) || exists($errors{$key});
        $errors{$key} = 'property is missing and it is not optional';
    }

    raise_param_exc(\%errors) if %errors;
    return \%res;
}

1;
