#!/usr/bin/perl -T
# Contract: every text a user reads says what the plugin does today. The methods that
# really refuse as not implemented (called with no arguments, every bound method
# answers before touching anything) are exactly those that the README, the POD
# (perldoc) and the Debian package's description name in their one "Not implemented:"
# statement; none of these texts says elsewhere that something is not implemented.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;

load_host();

my @methods = (@PVE::Storage::Custom::SwiftPlugin::Bindings::METHODS,
    @PVE::Storage::Custom::SwiftPlugin::Bindings::NATIVE);
my %bound = map { $_ => 1 } @methods;

# What the library refuses today.
my @refused;
for my $method (@methods) {
    my $code = PLUGIN->can($method) // PVE::Storage::Custom::SwiftPlugin::Native->can($method);
    my $error = dies { my @r = $code->(PLUGIN) };
    push @refused, $method if $error eq "$method is not implemented yet by the swift storage plugin\n";
}
ok(scalar(@methods) > 40, 'every bound method was asked');

sub slurp {
    my ($relative) = @_;
    open(my $fh, '<', project_file($relative)) or die "$relative: $!\n";
    local $/;
    return scalar(<$fh>);
}

my %texts = (
    'README.md' => slurp('README.md'),
    'the POD' => slurp('perl/lib/PVE/Storage/Custom/SwiftPlugin.pm') =~ s/\A.*?^__END__$//msr,
    'debian/control' => slurp('debian/control') =~ s/\A.*?^Description://msr,
);
for my $name (sort keys %texts) {
    my $text = $texts{$name};
    $text =~ s/^ (?:\.$)?//mg if $name eq 'debian/control';    # continuation lines, paragraph marks
    my @statements = $text =~ /^Not implemented: (.*?)(?:;|\.\s|\z)/msg;
    is(scalar(@statements), @refused ? 1 : 0, "$name: one 'Not implemented:' statement" . (@refused ? '' : ' (none: nothing refuses)'));
    my @named = grep { $bound{$_} } map { /([a-z_]+)/g } @statements;
    is_deeply([sort @named], [sort @refused], "$name: it names exactly the methods that refuse (@refused)");
    # No other claim of something missing.
    $text =~ s/^Not implemented: .*?(?:;|\.\s|\z)//msg;
    $text =~ s/is not implemented yet by the swift storage plugin//g;
    my @claims = $text =~ /^(.*\b(?:not (?:yet )?implemented|unimplemented|not available yet|not supported yet)\b.*)$/mig;
    is_deeply(\@claims, [], "$name: no other text says something is not implemented");
}

done_testing();
