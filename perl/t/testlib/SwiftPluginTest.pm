package SwiftPluginTest;

# Test support for the Perl tests of PVE::Storage::Custom::SwiftPlugin. Works with
# the stand-in PVE host (perl/t/lib) and with the real PVE modules on @INC.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp ();
use JSON::PP ();
use Cwd ();

our @EXPORT = qw(
    PLUGIN load_host storage_dir vectors dies warnings_of taint untaint project_file
);

use constant PLUGIN => 'PVE::Storage::Custom::SwiftPlugin';

sub untaint {
    my ($value) = @_;
    return undef if !defined($value);
    $value =~ /^(.*)$/s;
    return $1;
}

# A copy of $value carrying Perl's taint flag (pvedaemon runs with -T; arguments
# arriving from the API are tainted).
sub taint {
    my ($value) = @_;
    return $value . substr($ENV{PATH} // '', 0, 0) . substr($0, 0, 0);
}

# The project root, from this file's location (perl/t/testlib).
sub project_file {
    my ($relative) = @_;
    my $here = untaint(Cwd::abs_path(__FILE__));
    $here =~ s{/perl/t/testlib/SwiftPluginTest\.pm$}{};
    return "$here/$relative";
}

# Loads PVE::Storage, whose plugin scan finds and registers the plugin, and
# returns the warnings the load produced. With the real PVE modules, whose scan
# only looks in /usr/share/perl5/PVE/Storage/Custom, an uninstalled plugin is
# registered the same way the scan does it.
sub load_host {
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    if (!defined($ENV{PVE_STORAGE_CUSTOM_DIR})) {
        for my $dir (@INC) {
            next if ref($dir) || !-f "$dir/PVE/Storage/Custom/SwiftPlugin.pm";
            $ENV{PVE_STORAGE_CUSTOM_DIR} = untaint("$dir/PVE/Storage/Custom");
            last;
        }
    }
    require PVE::Storage;
    if (!PVE::Storage::Plugin->private()->{plugins}->{swift}) {
        require PVE::Storage::Custom::SwiftPlugin;
        PLUGIN->register();
        PVE::Storage::Plugin->init();
    }
    return @warnings;
}

# A fresh, symlink-free storage directory, removed at exit.
sub storage_dir {
    my $dir = File::Temp::tempdir('swiftplugin-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    return untaint(Cwd::realpath($dir));
}

# The shared vectors of one suite (../shared/spec/test-vectors.json beside the project).
sub vectors {
    my ($suite) = @_;
    my $file = project_file('../shared/spec/test-vectors.json');
    open(my $fh, '<', $file) or die "cannot read $file: $!\n";
    my $data = JSON::PP::decode_json(do { local $/; <$fh> });
    return grep { $_->{suite} eq $suite } $data->{vectors}->@*;
}

# The exception a call raises ('' when it succeeds).
sub dies(&) {
    my ($code) = @_;
    local $@;
    eval { $code->(); 1 } and return '';
    return $@;
}

# The warnings a call emits, and its result.
sub warnings_of(&) {
    my ($code) = @_;
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, @_ };
    my @result = $code->();
    return (\@warnings, @result);
}

1;
