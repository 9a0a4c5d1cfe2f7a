#!/usr/bin/perl
# Generates the glue between Perl and the Swift library from perl/methods.txt:
#   perl/SwiftPlugin.xs                                   the XS module: binding tables and XSUBs
#                                                         (their C runtime: Sources/PerlGlue/spve_glue.c)
#   Sources/SwiftPluginABI/Methods.swift                  the Swift @c thunks
#   Sources/SwiftPluginCore/Bridge/Arguments.swift        the typed arguments of each method
#                                                         and their decoders
#   perl/lib/PVE/Storage/Custom/SwiftPlugin/Bindings.pm   the list of bound methods
# Usage: perl/gen-glue.pl [--check]   (--check: fail if a generated file is stale)
use strict;
use warnings;

use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $root = dirname(dirname(abs_path($0)));
my $check = @ARGV && $ARGV[0] eq '--check';

my %SHAPES = (scalar => 'SPVE_SHAPE_SCALAR', list => 'SPVE_SHAPE_LIST', context => 'SPVE_SHAPE_CONTEXT');
my %KINDS = (
    value => 'SPVE_ARG_VALUE', skip => 'SPVE_ARG_SKIP', rest => 'SPVE_ARG_REST',
    fh => 'SPVE_ARG_FH', log => 'SPVE_ARG_LOG', push => 'SPVE_ARG_PUSH',
);
# The argument types of methods.txt: the Swift type of the field and the PerlArgument
# conversion that produces it (Sources/SwiftPluginCore/Bridge/ArgumentDecoding.swift).
my %TYPES = (
    string     => ['String', 'string'],
    selector   => ['String', 'selector'],
    'string?'  => ['String?', 'optionalString'],
    name       => ['String?', 'nameIfTrue'],
    bool       => ['Bool', 'bool'],
    strings    => ['[String]', 'strings'],
    'strings?' => ['[String]?', 'optionalStrings'],
    snapshot   => ['SnapshotSelector', 'snapshot'],
    scalar     => ['Scalar', 'scalar'],
    config     => ['StorageConfig', 'storageConfig'],
    value      => ['Value', 'value'],
    fh         => ['Int32', 'fileDescriptor'],
    rest       => ['Value', 'value'],
);

sub read_methods {
    my $file = "$root/perl/methods.txt";
    open(my $fh, '<', $file) or die "cannot read $file: $!\n";
    my (@methods, %seen);
    while (my $line = <$fh>) {
        $line =~ s/#.*//;
        my @words = split(' ', $line);
        next if !@words;
        my ($name, $shape, @args) = @words;
        die "$file:$.: bad method name '$name'\n" if $name !~ /^[a-z][a-z0-9_]*$/;
        die "$file:$.: duplicate method '$name'\n" if $seen{$name}++;
        die "$file:$.: unknown shape '" . ($shape // '') . "'\n" if !defined($shape) || !$SHAPES{$shape};
        my $native = @args && $args[-1] eq 'native' ? pop(@args) : undef;
        my @parsed;
        for my $arg (@args) {
            my ($arg_name, $type) = split(/:/, $arg, 2);
            die "$file:$.: bad argument '$arg'\n" if $arg_name !~ /^[a-z][a-z0-9_]*$/i || !defined($type);
            # The glue adds these two members to every request itself.
            die "$file:$.: reserved argument name '$arg_name'\n" if $arg_name eq 'class';
            my $kind = $KINDS{$type} && $type ne 'value' ? $type : 'value';
            die "$file:$.: unknown type of argument '$arg'\n" if $kind eq 'value' && !$TYPES{$type};
            push @parsed, { name => $arg_name, kind => $kind, type => $type };
        }
        push @methods, { name => $name, shape => $shape, args => \@parsed, native => !!$native };
    }
    return @methods;
}

sub swift_name {
    my ($name) = @_;
    return $name =~ s/_([a-z0-9])/\U$1/gr;
}

sub generate_xs {
    my (@methods) = @_;
    my $out = xs_prologue();
    for my $m (@methods) {
        my $args = "NULL";
        if (@{ $m->{args} }) {
            $args = "spve_args_$m->{name}";
            $out .= "static const spve_arg $args\[] = {\n";
            $out .= "    {\"$_->{name}\", $KINDS{$_->{kind}}},\n" for @{ $m->{args} };
            $out .= "};\n";
        }
        my $count = scalar(@{ $m->{args} });
        $out .= "static const spve_binding spve_bind_$m->{name} = "
            . "{\"$m->{name}\", spve_v1_$m->{name}, $args, $count};\n\n";
    }
    for my $package ('', '::Native') {
        my @bound = grep { ($package eq '::Native') == $_->{native} } @methods;
        next if !@bound;
        $out .= "MODULE = PVE::Storage::Custom::SwiftPlugin  PACKAGE = PVE::Storage::Custom::SwiftPlugin$package\n\n";
        $out .= "PROTOTYPES: DISABLE\n\n";
        if ($package eq '') {
            $out .= "BOOT:\n"
                . "    if (spve_v1_abi_version() != SPVE_ABI_VERSION)\n"
                . "        croak(\"SwiftPlugin: the Swift library implements ABI version %u, the glue expects %u\\n\",\n"
                . "              (unsigned)spve_v1_abi_version(), (unsigned)SPVE_ABI_VERSION);\n\n";
        }
        for my $m (@bound) {
            $out .= "void\n$m->{name}(...)\n    PREINIT:\n        SV *error;\n    PPCODE:\n"
                . "        error = spve_glue_call(aTHX_ &spve_bind_$m->{name}, $SHAPES{$m->{shape}}, ax, items);\n"
                . "        if (error) croak_sv(error);\n"
                . "        SPAGAIN;\n\n";
        }
    }
    return $out;
}

sub generate_swift {
    my (@methods) = @_;
    my $out = <<'EOF';
// Generated by perl/gen-glue.pl from perl/methods.txt. Do not edit.
//
// The C entry points of include/swiftplugin.h. The compiler checks each signature
// against the header (`@implementation`); `serve` decodes, calls and encodes.
import CSwiftPlugin
import SwiftPluginCore

#if canImport(Glibc)
import Glibc
#endif

public typealias Request = UnsafePointer<UInt8>?
public typealias ReplyLength = UnsafeMutablePointer<Int>?
public typealias ErrorOut = UnsafeMutablePointer<spve_v1_error>?
public typealias Reply = UnsafeMutablePointer<UInt8>?

@c @implementation
public func spve_v1_abi_version() -> UInt32 { SPVE_ABI_VERSION }

@c @implementation
public func spve_v1_free(_ pointer: UnsafeMutableRawPointer?) { free(pointer) }
EOF
    for my $m (@methods) {
        my $swift = swift_name($m->{name});
        $out .= "\n\@c \@implementation\n"
            . "public func spve_v1_$m->{name}(_ request: Request, _ length: Int, _ replyLength: ReplyLength, _ error: ErrorOut) -> Reply {\n"
            . "    serve(request, length, replyLength, error, PluginMethods.$swift)\n}\n";
    }
    return $out;
}

sub generate_bindings {
    my (@methods) = @_;
    my @direct = map { $_->{name} } grep { !$_->{native} } @methods;
    my @native = map { $_->{name} } grep { $_->{native} } @methods;
    my $list = sub { join('', map { "    $_\n" } @_) };
    return "# Generated by perl/gen-glue.pl from perl/methods.txt. Do not edit.\n"
        . "package PVE::Storage::Custom::SwiftPlugin::Bindings;\n\n"
        . "use strict;\nuse warnings;\n\n"
        . "# Plugin methods the XS module defines directly in PVE::Storage::Custom::SwiftPlugin.\n"
        . "our \@METHODS = qw(\n" . $list->(@direct) . ");\n\n"
        . "# Methods it defines in PVE::Storage::Custom::SwiftPlugin::Native, called by Perl wrappers.\n"
        . "our \@NATIVE = qw(\n" . $list->(@native) . ");\n\n"
        . "1;\n";
}

my @methods = read_methods();
sub argument_type_name {
    my ($m) = @_;
    return ucfirst(swift_name($m->{name})) . 'Arguments';
}

sub generate_arguments {
    my (@methods) = @_;
    my $out = "// Generated by perl/gen-glue.pl from perl/methods.txt. Do not edit.\n"
        . "//\n"
        . "// The typed arguments of each plugin method and their decoders: the request of\n"
        . "// the glue is read once, here, and only the arguments a method takes are decoded.\n";
    for my $m (@methods) {
        my $type = argument_type_name($m);
        my @typed = grep { $TYPES{$_->{type}} } @{ $m->{args} };
        my $signature = join(', ', map { $_->{type} eq 'skip' ? "\$$_->{name} (ignored)" : "\$$_->{name}" } @{ $m->{args} });
        $out .= "\n/// The arguments of `$m->{name}($signature)`.\n";
        $out .= "public struct $type: PluginArguments {\n";
        $out .= "    public static let method = \"$m->{name}\"\n";
        for my $arg (@typed) {
            my $field = swift_name($arg->{name});
            $out .= "    public var $field: $TYPES{$arg->{type}}[0]\n";
        }
        $out .= "\n    public init(from request: inout RequestReader, call: Call) throws(StorageError) {\n";
        for my $arg (@typed) {
            my $field = swift_name($arg->{name});
            $out .= $arg->{type} eq 'config'
                ? "        var $field: StorageConfig?\n"
                : "        var $field = Value.undef\n";
        }
        $out .= "        for _ in 0..<(try request.beginRequest()) {\n";
        $out .= "            let key = try request.key()\n";
        my $else = '';
        for my $arg (@typed) {
            my $field = swift_name($arg->{name});
            my $read = $arg->{type} eq 'config' ? 'request.storageConfig()' : 'request.value()';
            $out .= ($else ? ' else ' : '            ') . "if key == \"$arg->{name}\" {\n                $field = try $read\n            }";
            $else = 1;
        }
        $out .= @typed
            ? " else {\n                try call.takeCommon(key, from: &request)\n            }\n"
            : "            try call.takeCommon(key, from: &request)\n";
        $out .= "        }\n        try request.end()\n";
        for my $arg (@typed) {
            my $field = swift_name($arg->{name});
            my ($swift_type, $conversion) = @{ $TYPES{$arg->{type}} };
            my $try = $conversion =~ /^(bool|strings|scalar|value|selector)$/ ? '' : 'try ';
            $out .= $arg->{type} eq 'config'
                ? "        self.$field = try PerlArgument.storageConfig(decoded: $field, \"$arg->{name}\", call)\n"
                : "        self.$field = ${try}PerlArgument.$conversion($field, \"$arg->{name}\", call)\n";
        }
        $out .= "    }\n}\n";
    }
    return $out;
}

my %outputs = (
    "Sources/SwiftPluginCore/Bridge/Arguments.swift" => generate_arguments(@methods),
    "perl/SwiftPlugin.xs" => generate_xs(@methods),
    "Sources/SwiftPluginABI/Methods.swift" => generate_swift(@methods),
    "perl/lib/PVE/Storage/Custom/SwiftPlugin/Bindings.pm" => generate_bindings(@methods),
);

my $stale = 0;
for my $file (sort keys %outputs) {
    my $path = "$root/$file";
    my $current = -e $path ? do { local (@ARGV, $/) = ($path); <> } : '';
    next if $current eq $outputs{$file};
    if ($check) {
        print STDERR "stale generated file: $file (run perl/gen-glue.pl)\n";
        $stale = 1;
        next;
    }
    mkdir dirname($path);
    open(my $fh, '>', "$path.tmp") or die "cannot write $path.tmp: $!\n";
    print {$fh} $outputs{$file};
    close($fh) or die "cannot write $path.tmp: $!\n";
    rename("$path.tmp", $path) or die "cannot rename $path.tmp: $!\n";
    print "generated $file\n";
}
exit($stale);

sub xs_prologue {
    return <<'EOF';
/* Generated by perl/gen-glue.pl from perl/methods.txt. Do not edit.
 *
 * The XS module of PVE::Storage::Custom::SwiftPlugin: one binding table and one
 * XSUB per method. The C runtime they call, Sources/PerlGlue/spve_glue.c, encodes
 * the arguments (include/swiftplugin.h, "Value encoding"), calls the Swift
 * library, puts the reply on the Perl stack and frees everything the library
 * returned; the XSUB, the outermost C frame, croaks with its error: no longjmp
 * ever crosses a Swift frame. */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include "spve_glue.h"

EOF
}
