#!/usr/bin/perl
# Generates the glue between Perl and a Swift storage plugin from the plugin's
# methods.txt (its header says what the plugin is called and where each file goes):
#   header    the plugin's C ABI: one function per method under its symbol prefix
#   map       the linker version script: those functions and the XS boot function
#   xs        the XS module: binding tables and XSUBs (their C runtime:
#             SDK/Sources/PerlGlue/spve_glue.c)
#   swift     the Swift @c entry points, each calling one method of the plugin type
#   arguments the typed arguments of each method and their decoders
#   bindings  the Perl list of bound methods (<package>::Bindings)
# Usage: SDK/gen-glue.pl [--check] METHODS.TXT...   (--check: fail if a generated file is stale)
use strict;
use warnings;

use File::Basename qw(dirname basename);
use Cwd qw(abs_path);
use File::Spec;

# The SDK's C header, which every plugin header includes (by a path relative to it).
my $sdk_header = dirname(abs_path($0)) . '/include/spve_sdk.h';

my $check = @ARGV && $ARGV[0] eq '--check';
shift @ARGV if $check;
die "usage: $0 [--check] METHODS.TXT...\n" if !@ARGV;

# `refuse`: a method the plugin does not support, refused in the SDK's words
# (MethodRefusal) without any Swift of the plugin's, instead of PVE's base class
# running its directory code for a storage that has none.
my %SHAPES = (scalar => 'SPVE_SHAPE_SCALAR', list => 'SPVE_SHAPE_LIST', context => 'SPVE_SHAPE_CONTEXT',
              refuse => 'SPVE_SHAPE_SCALAR');
my %KINDS = (
    value => 'SPVE_ARG_VALUE', skip => 'SPVE_ARG_SKIP', rest => 'SPVE_ARG_REST',
    fh => 'SPVE_ARG_FH', log => 'SPVE_ARG_LOG', push => 'SPVE_ARG_PUSH',
);
# The argument types of methods.txt: the Swift type of the field and the PerlArgument
# conversion that produces it (SDK/Sources/PVEStoragePerl/PerlArgument.swift). `config`
# is the plugin's own configuration type (its `config` header line); `config(Type)`
# names another PluginConfiguration.
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
    config     => [undef, 'configuration'],
    value      => ['Value', 'value'],
    perl       => ['PerlValue', 'perl'],
    fh         => ['Int32', 'fileDescriptor'],
    rest       => ['Value', 'value'],
);
# The conversions that also read a PerlValue in place (cheap arguments of hot methods).
my %IN_PLACE = map { $_ => 1 } qw(string selector);
# The header lines of a methods.txt: `key value`.
my @SETTINGS = qw(package name prefix module plugin config);
my @OUTPUTS = qw(header map xs swift arguments bindings);

my $plugin; # the settings of the methods.txt being generated

# The import lines of a generated Swift file: the SDK's modules and the plugin's own.
sub swift_imports {
    my (@modules) = @_;
    my %seen;
    return join('', map { "import $_\n" } sort grep { !$seen{$_}++ } @modules, @{ $plugin->{imports} // [] });
}

sub read_methods {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "cannot read $file: $!\n";
    my (@methods, %seen, %settings);
    while (my $line = <$fh>) {
        $line =~ s/#.*//;
        my @words = split(' ', $line);
        next if !@words;
        if (grep { $_ eq $words[0] } @SETTINGS, 'output', 'import') {
            die "$file:$.: '$words[0]' after the first method\n" if @methods;
            if ($words[0] eq 'import') {
                die "$file:$.: import needs one module\n" if @words != 2;
                push @{ $settings{imports} }, $words[1];
            } elsif ($words[0] eq 'output') {
                die "$file:$.: unknown output '" . ($words[1] // '') . "'\n" if !grep { $_ eq ($words[1] // '') } @OUTPUTS;
                die "$file:$.: output $words[1] needs a path\n" if @words != 3;
                $settings{output}{$words[1]} = dirname(abs_path($file)) . "/$words[2]";
            } else {
                die "$file:$.: $words[0] needs one value\n" if @words != 2;
                $settings{$words[0]} = $words[1];
            }
            next;
        }
        my ($name, $shape, @args) = @words;
        die "$file:$.: bad method name '$name'\n" if $name !~ /^[a-z][a-z0-9_]*$/;
        die "$file:$.: duplicate method '$name'\n" if $seen{$name}++;
        die "$file:$.: unknown shape '" . ($shape // '') . "'\n" if !defined($shape) || !$SHAPES{$shape};
        my $native = @args && $args[-1] eq 'native' ? pop(@args) : undef;
        die "$file:$.: a refused method takes no arguments\n" if $shape eq 'refuse' && (@args || $native);
        my @parsed;
        for my $arg (@args) {
            my ($arg_name, $type) = split(/:/, $arg, 2);
            die "$file:$.: bad argument '$arg'\n" if $arg_name !~ /^[a-z][a-z0-9_]*$/i || !defined($type);
            # The glue adds these two members to every request itself.
            die "$file:$.: reserved argument name '$arg_name'\n" if $arg_name eq 'class';
            # config(Type): a configuration type of its own, for a method that reads a few options.
            my $config_type = $type =~ s/^config\((\w+)\)$/config/ ? $1 : undef;
            my $kind = $KINDS{$type} && $type ne 'value' ? $type : 'value';
            die "$file:$.: unknown type of argument '$arg'\n" if $kind eq 'value' && !$TYPES{$type};
            push @parsed, { name => $arg_name, kind => $kind, type => $type, config_type => $config_type };
        }
        push @methods, { name => $name, shape => $shape, args => \@parsed, native => !!$native };
    }
    for my $key (@SETTINGS) { die "$file: no '$key' line\n" if !defined($settings{$key}) }
    for my $key (@OUTPUTS) { die "$file: no 'output $key' line\n" if !defined($settings{output}{$key}) }
    die "$file: bad prefix '$settings{prefix}'\n" if $settings{prefix} !~ /^[a-z][a-z0-9_]*_$/;
    die "$file: bad package '$settings{package}'\n" if $settings{package} !~ /^\w+(::\w+)*$/;
    $settings{file} = basename(dirname(abs_path($file))) . '/' . basename($file);
    return (\%settings, @methods);
}

sub swift_name {
    my ($name) = @_;
    return $name =~ s/_([a-z0-9])/\U$1/gr;
}

sub generated_by {
    my ($comment) = @_;
    return "$comment Generated by SDK/gen-glue.pl from $plugin->{file}. Do not edit.";
}

sub c_prototype {
    my ($m) = @_;
    return "void $plugin->{prefix}$m->{name}(spve_v1_call *call);\n";
}

sub generate_header {
    my (@methods) = @_;
    my $guard = uc(basename($plugin->{output}{header}) =~ s/\W/_/gr);
    my $out = "/*" . generated_by('') . "\n"
        . " *\n"
        . " * The C ABI of $plugin->{package}: one function per storage method,\n"
        . " * named after the PVE::Storage::Plugin method it implements (see $plugin->{file}\n"
        . " * for their arguments and return shapes), each of the shape spve_v1_method\n"
        . " * (spve_sdk.h, which also describes how the library reads and makes Perl values).\n"
        . " * The Swift library implements every function with `\@c \@implementation`, so the\n"
        . " * compiler rejects a Swift signature that differs from the one declared here.\n"
        . " */\n"
        . "#ifndef $guard\n#define $guard\n\n#include \"" . File::Spec->abs2rel($sdk_header, dirname($plugin->{output}{header})) . "\"\n\n"
        . "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        . "/* The ABI version the library implements (SPVE_ABI_VERSION it was built with). */\n"
        . "uint32_t $plugin->{prefix}abi_version(void);\n\n"
        . "/* Releases anything the library returned. NULL is ignored. */\n"
        . "void $plugin->{prefix}free(void *pointer);\n\n"
        . "/* Storage methods. */\n";
    $out .= c_prototype($_) for @methods;
    $out .= "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* $guard */\n";
    return $out;
}

sub boot_symbol {
    return 'boot_' . ($plugin->{package} =~ s/::/__/gr);
}

sub generate_map {
    return "/*" . generated_by('') . "\n"
        . "   Linker version script: the library exports the ABI of its header and Perl's\n"
        . "   XS boot function, nothing else (the Swift runtime and its code stay internal). */\n"
        . uc($plugin->{name}) . "_1 {\n    global:\n        $plugin->{prefix}*;\n        " . boot_symbol() . ";\n"
        . "    local:\n        *;\n};\n";
}

sub generate_xs {
    my (@methods) = @_;
    my $package = $plugin->{package};
    my $header = basename($plugin->{output}{header});
    my $out = "/*" . generated_by('') . "\n"
        . " *\n"
        . " * The XS module of $package: one binding table and one XSUB per\n"
        . " * method. The C runtime they call, SDK/Sources/PerlGlue/spve_glue.c, hands the\n"
        . " * arguments to the Swift library (spve_sdk.h), puts its result on the Perl\n"
        . " * stack and emits what it warned, printed or logged; the XSUB, the outermost C\n"
        . " * frame, croaks with its error: no longjmp ever crosses a Swift frame. */\n"
        . "#define PERL_NO_GET_CONTEXT\n#include \"EXTERN.h\"\n#include \"perl.h\"\n#include \"XSUB.h\"\n\n"
        . "#include \"spve_glue.h\"\n#include \"$header\"\n\n"
        . "static const spve_plugin spve_this_plugin = {\"$plugin->{name}\", $plugin->{prefix}free};\n\n";
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
            . "{&spve_this_plugin, \"$m->{name}\", $plugin->{prefix}$m->{name}, $args, $count};\n\n";
    }
    for my $sub ('', '::Native') {
        my @bound = grep { ($sub eq '::Native') == $_->{native} } @methods;
        next if !@bound;
        $out .= "MODULE = $package  PACKAGE = $package$sub\n\n";
        $out .= "PROTOTYPES: DISABLE\n\n";
        if ($sub eq '') {
            $out .= "BOOT:\n"
                . "    if ($plugin->{prefix}abi_version() != SPVE_ABI_VERSION)\n"
                . "        croak(\"$plugin->{name}: the Swift library implements ABI version %u, the glue expects %u\\n\",\n"
                . "              (unsigned)$plugin->{prefix}abi_version(), (unsigned)SPVE_ABI_VERSION);\n\n";
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
    my $prefix = $plugin->{prefix};
    my $out = generated_by('//') . "\n"
        . "//\n"
        . "// The C entry points of $plugin->{package}'s header. The compiler checks each\n"
        . "// signature against it (`\@c \@implementation`); `serve` reads the arguments, makes\n"
        . "// a $plugin->{plugin}, calls the method and writes its result.\n"
        . swift_imports('CPVEStorageSDK', $plugin->{module}, 'PVEStorage', 'PVEStoragePerl') . "\n"
        . "\@c \@implementation\n"
        . "public func ${prefix}abi_version() -> UInt32 { SPVE_ABI_VERSION }\n\n"
        . "\@c \@implementation\n"
        . "public func ${prefix}free(_ pointer: UnsafeMutableRawPointer?) { release(pointer) }\n";
    for my $m (@methods) {
        my $swift = swift_name($m->{name});
        my $type = argument_type_name($m);
        $out .= "\n\@c \@implementation\n"
            . "public func $prefix$m->{name}(_ call: UnsafeMutablePointer<spve_v1_call>?) {\n";
        if ($m->{shape} eq 'refuse') {
            $out .= "    refuse(call, package: \"$plugin->{package}\", method: \"$m->{name}\")\n}\n";
            next;
        }
        $out .= ""
            . "    " . ($m->{shape} eq 'scalar' ? 'serve' : 'serveList') . "(call, package: \"$plugin->{package}\") {\n"
            . "        (plugin: $plugin->{plugin}, arguments: $type) throws(StorageError) in try plugin.$swift(arguments)\n"
            . "    }\n}\n";
    }
    return $out;
}

sub generate_bindings {
    my (@methods) = @_;
    my @direct = map { $_->{name} } grep { !$_->{native} } @methods;
    my @native = map { $_->{name} } grep { $_->{native} } @methods;
    my $list = sub { join('', map { "    $_\n" } @_) };
    my $package = $plugin->{package};
    return generated_by('#') . "\n"
        . "package ${package}::Bindings;\n\n"
        . "use strict;\nuse warnings;\n\n"
        . "# Plugin methods the XS module defines directly in $package.\n"
        . "our \@METHODS = qw(\n" . $list->(@direct) . ");\n\n"
        . "# Methods it defines in ${package}::Native, called by Perl wrappers.\n"
        . "our \@NATIVE = qw(\n" . $list->(@native) . ");\n\n"
        . "1;\n";
}

sub argument_type_name {
    my ($m) = @_;
    return ucfirst(swift_name($m->{name})) . 'Arguments';
}

sub generate_arguments {
    my (@methods) = @_;
    my $config = $plugin->{config};
    my $out = generated_by('//') . "\n"
        . "//\n"
        . "// The typed arguments of each plugin method and their decoders: each reads the\n"
        . "// Perl values the method takes, in place, and nothing else.\n"
        . swift_imports('PVEStorage', 'PVEStoragePerl');
    for my $m (grep { $_->{shape} ne 'refuse' } @methods) {
        my $type = argument_type_name($m);
        my @typed = grep { $TYPES{$_->{type}} } @{ $m->{args} };
        my $signature = join(', ', map { $_->{type} eq 'skip' ? "\$$_->{name} (ignored)" : "\$$_->{name}" } @{ $m->{args} });
        my $swift_type = sub { $_[0]{type} eq 'config' ? $_[0]{config_type} // $config : $TYPES{ $_[0]{type} }[0] };
        $out .= "\n/// The arguments of `$m->{name}($signature)`.\n";
        $out .= "public struct $type: PluginArguments {\n";
        $out .= "    public static let method = \"$m->{name}\"\n";
        for my $arg (@typed) {
            my $field = swift_name($arg->{name});
            $out .= "    public var $field: " . $swift_type->($arg) . "\n";
        }
        $out .= "    public static let parameters: [String] = [" . join(', ', map { "\"$_->{name}\"" } @{ $m->{args} }) . "]\n";
        $out .= "\n    public init(from arguments: PerlArguments, call: Call) throws(StorageError) {\n";
        $out .= "        _ = (arguments, call)\n" if !@typed;
        my $position = 0;
        for my $arg (@{ $m->{args} }) {
            $position++;
            next if !$TYPES{$arg->{type}};
            my $field = swift_name($arg->{name});
            my ($unused, $conversion) = @{ $TYPES{$arg->{type}} };
            my $try = $conversion =~ /^(bool|strings|scalar|value|selector)$/ ? '' : 'try ';
            if ($IN_PLACE{$conversion}) {
                $out .= "        self.$field = ${try}PerlArgument.$conversion(arguments[$position], \"$arg->{name}\", call)\n";
            } elsif ($arg->{type} eq 'perl') {
                $out .= "        self.$field = arguments[$position]\n";
            } elsif ($arg->{type} eq 'config') {
                $out .= "        self.$field = try PerlArgument.configuration(arguments[$position], \"$arg->{name}\", call)\n";
            } elsif ($arg->{type} eq 'rest') {
                $out .= "        self.$field = PerlArgument.value(try arguments.rest(from: $position), \"$arg->{name}\", call)\n";
            } else {
                $out .= "        self.$field = ${try}PerlArgument.$conversion(try arguments.value($position), \"$arg->{name}\", call)\n";
            }
        }
        $out .= "    }\n}\n";
    }
    return $out;
}

my $stale = 0;
for my $file (@ARGV) {
    (my $settings, my @methods) = read_methods($file);
    $plugin = $settings;
    my %outputs = (
        header    => generate_header(@methods),
        map       => generate_map(),
        xs        => generate_xs(@methods),
        swift     => generate_swift(@methods),
        arguments => generate_arguments(@methods),
        bindings  => generate_bindings(@methods),
    );
    for my $kind (@OUTPUTS) {
        my $path = $plugin->{output}{$kind};
        my $current = -e $path ? do { local (@ARGV, $/) = ($path); <> } : '';
        next if $current eq $outputs{$kind};
        if ($check) {
            print STDERR "stale generated file: $path (run SDK/gen-glue.pl $file)\n";
            $stale = 1;
            next;
        }
        mkdir dirname($path);
        open(my $fh, '>', "$path.tmp") or die "cannot write $path.tmp: $!\n";
        print {$fh} $outputs{$kind};
        close($fh) or die "cannot write $path.tmp: $!\n";
        rename("$path.tmp", $path) or die "cannot rename $path.tmp: $!\n";
        print "generated $path\n";
    }
}
exit($stale);
