package PVE::SectionConfig;

# Test-only stand-in for PVE::SectionConfig (pve-common), written for this
# project's tests and never installed. Unified mode only: all registered types
# share one property namespace.
#
# A subclass provides private(), the registry hash:
#   { propertyList => {...}, options => {...}, plugins => {...}, plugindata => {...} }
# and may pre-seed propertyList with its own base properties; init() then adds
# every registered type's properties() (forced optional) and checks that each
# type's options() only names known properties.
#
# The config text format is the usual one:
#   <type>: <section id>
#   <tab or spaces><key> <value>
#   ...
#   <blank line>
# with '#' comment lines allowed anywhere.

use strict;
use warnings;

use Digest::SHA ();

use PVE::JSONSchema;

sub private { die "abstract: private() must be provided by the subclass\n" }
sub type { die "abstract: type() must be provided by the plugin\n" }
sub properties { return {} }
sub options { return {} }
sub plugindata { return {} }

# Hooks for turning a checked config value into its in-memory form and back.
sub decode_value {
    my ($class, $type, $key, $value) = @_;
    return $value;
}

sub encode_value {
    my ($class, $type, $key, $value) = @_;
    return $value;
}

# How the base properties (pre-seeded by private()) are restored before each
# init(); a subclass may override to emulate a host whose init() is one-shot.
sub base_properties { return undef }

# --- registry ---------------------------------------------------------------------

sub register {
    my ($class) = @_;

    my $registry = $class->private();
    my $type = $class->type();
    die "duplicate plugin registration (type = $type)" if $registry->{plugins}->{$type};

    $registry->{plugindata}->{$type} = $class->plugindata();
    $registry->{plugins}->{$type} = $class;
}

sub lookup {
    my ($class, $type) = @_;
    my $plugin = $class->private()->{plugins}->{$type // ''};
    die "unknown section type '" . ($type // '') . "'\n" if !$plugin;
    return $plugin;
}

sub lookup_types {
    my ($class) = @_;
    return [sort keys $class->private()->{plugins}->%*];
}

my sub add_properties {
    my ($into, $props) = @_;
    for my $name (sort keys %$props) {
        die "duplicate property '$name'" if exists($into->{$name});
        $into->{$name} = { $props->{$name}->%*, optional => 1 };
    }
}

sub init {
    my ($class) = @_;

    my $registry = $class->private();
    my $base = $class->base_properties();
    $registry->{propertyList} = { map { $_ => { $base->{$_}->%* } } keys %$base } if $base;
    my $list = $registry->{propertyList} //= {};

    my @types = sort keys $registry->{plugins}->%*;
    for my $type (@types) {
        add_properties($list, $registry->{plugins}->{$type}->properties());
    }

    my %options;
    for my $type (@types) {
        my $opts = $registry->{plugins}->{$type}->options();
        for my $name (sort keys %$opts) {
            die "undefined property '$name'" if !$list->{$name};
        }
        $options{$type} = $opts;
    }
    $registry->{options} = \%options;

    $list->{type} = { type => 'string', description => 'Section type.', enum => [@types] };
}

# --- value and section checks -------------------------------------------------------

# Checks one option of a section of $type; returns the converted (not yet
# decoded) value.
sub check_value {
    my ($class, $type, $key, $value, $section_id, $skip_schema_check) = @_;

    my $registry = $class->private();
    return $value if $key eq 'type' && defined($value) && $value eq $type;

    my $opts = $registry->{options}->{$type} // {};
    die "unexpected property '$key'\n" if !$opts->{$key};
    die "got undefined value for option '$key'\n" if !defined($value);
    die "property contains a line feed\n" if $value =~ m/[\r\n]/;

    return $value if $skip_schema_check;

    my $schema = $registry->{propertyList}->{$key} or die "unknown property '$key'\n";
    my %errors;
    my $converted = PVE::JSONSchema::check_prop($value, $schema, $key, \%errors);
    die "$errors{$key}\n" if exists($errors{$key});
    return $converted;
}

sub check_config {
    my ($class, $section_id, $config, $create, $skip_schema_check) = @_;

    my $type = $class->type();
    my $opts = $class->private()->{options}->{$type} // {};
    my %out = (type => $type);

    for my $key (sort keys %$config) {
        next if $key eq 'type';
        my $value = $config->{$key};
        die "can't change value of fixed parameter '$key'\n"
            if !$create && $opts->{$key} && $opts->{$key}->{fixed};
        die "got undefined value for option '$key'\n" if !defined($value);
        my $checked = $class->check_value($type, $key, $value, $section_id, $skip_schema_check);
        $out{$key} = $class->decode_value($type, $key, $checked);
    }

    if ($create) {
        for my $key (sort keys %$opts) {
            next if $opts->{$key}->{optional} || exists($out{$key});
            die "missing value for required option '$key'\n";
        }
    }
    return \%out;
}

# --- parsing ---------------------------------------------------------------------------

my $HEADER_RE = qr/^(\S+):\s*(\S+)\s*$/;
my $ENTRY_RE = qr/^\s+(\S+)(?:\s+(\S.*?))?\s*$/;

my sub is_skippable {
    my ($line) = @_;
    return $line =~ m/^\s*(?:#.*)?$/;
}

# Collects one section's body starting at line index $i: returns the
# [lineno, text] entries and the index of the first line after the body.
my sub collect_body {
    my ($lines, $i) = @_;
    my @body;
    while ($i < @$lines) {
        my $text = $lines->[$i];
        last if $text =~ m/^\s*$/;
        push @body, [$i + 1, $text] if $text !~ m/^\s*#/;
        $i++;
    }
    return (\@body, $i);
}

sub parse_config {
    my ($class, $filename, $raw) = @_;

    $raw //= '';
    my $registry = $class->private();
    my @lines = split(/\n/, $raw);
    my (%ids, %order);
    my $position = 1;

    my $i = 0;
    while ($i < @lines) {
        my $text = $lines[$i];
        if (is_skippable($text)) {
            $i++;
            next;
        }
        my $header_no = $i + 1;
        my ($type, $section_id) = $text =~ $HEADER_RE;
        my ($body, $next) = collect_body(\@lines, $i + 1);
        my $last_no = @$body ? $body->[-1]->[0] : $header_no;
        $i = $next;

        if (!defined($type)) {
            warn "file $filename line $header_no: unable to parse section header '$text'\n";
            next;
        }
        my $plugin = $registry->{plugins}->{$type};
        if (!$plugin) {
            warn "file $filename line $header_no (skip section '$section_id'): unsupported type '$type'\n";
            next;
        }
        if (exists($ids{$section_id})) {
            warn "file $filename line $header_no (skip section '$section_id'): duplicate section id\n";
            next;
        }

        my %values;
        for my $entry (@$body) {
            my ($no, $line) = @$entry;
            my ($key, $value) = $line =~ $ENTRY_RE;
            if (!defined($key)) {
                warn "file $filename line $no (section '$section_id') - ignore config line: $line\n";
                next;
            }
            if (exists($values{$key})) {
                warn "file $filename line $no (section '$section_id') - duplicate key '$key'\n";
                next;
            }
            if (!defined($value)) {
                my $schema = $registry->{propertyList}->{$key};
                $value = 1 if $schema && ($schema->{type} // '') eq 'boolean';
            }
            my $checked = eval {
                die "missing value\n" if !defined($value);
                $class->check_value($type, $key, $value, $section_id, 0);
            };
            if (my $err = $@) {
                warn "file $filename line $no (section '$section_id') - unable to parse value of '$key': $err";
                next;
            }
            $values{$key} = $checked;
        }

        my $checked = eval { $plugin->check_config($section_id, \%values, 1, 1) };
        if (my $err = $@) {
            warn "file $filename line $last_no (skip section '$section_id'): $err";
        }
        $ids{$section_id} = $checked;
        $order{$section_id} = $position++;
    }

    return { ids => \%ids, order => \%order, digest => Digest::SHA::sha1_hex($raw) };
}

# --- writing ---------------------------------------------------------------------------

my sub section_order {
    my ($cfg) = @_;
    my $ids = $cfg->{ids} // {};
    my $order = $cfg->{order} // {};
    my $rank = sub { $order->{ $_[0] } // 1e9 };
    return sort { $rank->($a) <=> $rank->($b) || $a cmp $b } grep { defined($ids->{$_}) } keys %$ids;
}

sub write_config {
    my ($class, $filename, $cfg) = @_;

    my $registry = $class->private();
    my $text = '';

    for my $section_id (section_order($cfg)) {
        my $section = $cfg->{ids}->{$section_id};
        my $type = $section->{type} // die "section '$section_id' has no type\n";
        my $plugin = $class->lookup($type);
        my $opts = $registry->{options}->{$type} // {};

        my @keys = grep { $_ ne 'type' && $_ ne 'disable' && defined($section->{$_}) } keys %$section;
        my @required = sort grep { !($opts->{$_} && $opts->{$_}->{optional}) } @keys;
        my @optional = sort grep { $opts->{$_} && $opts->{$_}->{optional} } @keys;

        $text .= "$type: $section_id\n";
        $text .= "\tdisable\n" if $section->{disable};
        for my $key (@required, @optional) {
            my $value = $plugin->encode_value($type, $key, $section->{$key});
            die "property '$key' contains a line feed\n" if $value =~ m/[\r\n]/;
            $text .= "\t$key $value\n";
        }
        $text .= "\n";
    }
    return $text;
}

1;
