#!/usr/bin/perl
# summarize.pl WORKDIR PHASE...
#
# Reads the logs try-upstream-change wrote to WORKDIR/logs/PHASE/PROJECT__TARGET.log
# (with .rc beside each: the exit status) and WORKDIR/skipped.txt, prints the
# summary and exits non-zero when the change broke a test that passed before
# it, or when one of our own tests did not behave as expected in a phase.
#
# A target's tests are its TAP lines ("ok N - name"), one per name (a name that
# fails in any line fails); a TAP::Harness summary ("Files=.., Tests=N" and
# "Result: PASS") counts as N tests of one unit; container setup tests count
# their "prepare DIR" lines; anything else is one unit, judged by its exit status.

use strict;
use warnings;

my ($work, @phases) = @ARGV;
die "usage: $0 WORKDIR PHASE...\n" if !defined($work) || !@phases;

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return undef;
    local $/;
    my $text = <$fh>;
    close($fh);
    return $text;
}

# $results->{$phase}->{"$project $target"} = { units => { name => 0|1 }, weight => { name => n }, rc => n }
my $results = {};
my @order;
my %seen_target;

for my $phase (@phases) {
    my $dir = "$work/logs/$phase";
    opendir(my $dh, $dir) or next;
    for my $file (sort readdir($dh)) {
        next if $file !~ m/^(.+)__(.+)\.log$/;
        my ($project, $target) = ($1, $2);
        my $key = "$project $target";
        push @order, $key if !$seen_target{$key}++;
        my $log = slurp("$dir/$file") // '';
        my $rc = slurp("$dir/$project\__$target.rc") // '1';
        $rc =~ s/\s+//g;

        my (%units, %weight, %occurrence);
        for my $line (split(/\n/, $log)) {
            next if $line !~ m/^(not )?ok (\d+)(?:\s+-?\s*(.*))?$/;
            my ($not, $num, $name) = ($1, $2, $3);
            $name = "#$num" if !defined($name) || $name eq '';
            $name =~ s/\s+#\s*(?:skip|todo)\b.*//i;
            # the same name again (a suite repeating it, or a failing test's
            # several assertions): counted on its own, in order of appearance
            my $n = ++$occurrence{$name};
            $name .= " ($n)" if $n > 1;
            $units{$name} = $not ? 0 : 1;
        }
        if (!%units && $log =~ m/Files=\d+, Tests=(\d+)/) {
            my $n = $1;
            my $pass = $log =~ m/^Result: PASS$/m && $rc eq '0';
            $units{'(harness)'} = $pass ? 1 : 0;
            $weight{'(harness)'} = $n;
        } elsif (!%units) {
            my @prepared = $log =~ m/^prepare (\S+)$/mg;
            if (@prepared) {
                $units{$_} = 1 for @prepared;
                $units{ $prepared[-1] } = 0 if $rc ne '0';
            } else {
                $units{'(exit status)'} = $rc eq '0' ? 1 : 0;
            }
        }
        $units{'(exit status)'} = 0 if $rc ne '0' && !grep { !$_ } values %units;

        $results->{$phase}->{$key} = { units => \%units, weight => \%weight, rc => $rc };
    }
}

sub counts {
    my ($r) = @_;
    return (0, 0) if !$r;
    my ($pass, $fail) = (0, 0);
    for my $name (keys $r->{units}->%*) {
        my $w = $r->{weight}->{$name} // 1;
        if ($r->{units}->{$name}) { $pass += $w } else { $fail += $w }
    }
    return ($pass, $fail);
}

my @skipped = grep { length } split(/\n/, slurp("$work/skipped.txt") // '');

print "\n=== summary ===\n\n";
printf("%-44s", 'project / target');
printf(" %-21s", $_) for @phases;
print "\n";

my ($failures, @regressions, @both, @ours_bad) = (0);
my ($total_pass, $total_fail) = (0, 0);

for my $key (@order) {
    printf("%-44s", $key);
    for my $phase (@phases) {
        my $r = $results->{$phase}->{$key};
        if (!$r) {
            printf(" %-21s", '-');
            next;
        }
        my ($p, $f) = counts($r);
        printf(" %-21s", "$p passed, $f failed");
    }
    print "\n";

    my ($project) = split(/ /, $key);
    my $after = $results->{after}->{$key};
    if ($project eq 'ours') {
        for my $phase (@phases) {
            my $r = $results->{$phase}->{$key} or next;
            my ($p, $f) = counts($r);
            push @ours_bad, "$key ($phase)" if $f || !$p;
        }
        my ($p, $f) = counts($after);
        $total_pass += $p;
        $total_fail += $f;
        next;
    }
    my $before = $results->{before}->{$key};
    if ($before && $after) {
        for my $name (sort keys $before->{units}->%*) {
            next if !$before->{units}->{$name};
            push @regressions, "$key: $name" if !$after->{units}->{$name};
        }
        for my $name (sort keys $after->{units}->%*) {
            push @both, "$key: $name"
                if !$after->{units}->{$name} && exists($before->{units}->{$name})
                && !$before->{units}->{$name};
        }
    }
    my ($p, $f) = counts($after);
    $total_pass += $p;
    $total_fail += $f;
}

if (my $strict = $results->{strict}) {
    print "\nstrict variant (not proposed; the default storage types asked too) breaks:\n";
    my $n = 0;
    for my $key (sort keys %$strict) {
        my $after = $results->{after}->{$key} or next;
        for my $name (sort keys $strict->{$key}->{units}->%*) {
            next if $strict->{$key}->{units}->{$name} || !$after->{units}->{$name};
            print "  $key: $name\n";
            $n++;
        }
    }
    print "  (nothing)\n" if !$n;
}

print "\nskipped (not run here):\n";
print "  $_\n" for @skipped;
print "  (nothing)\n" if !@skipped;

if (@both) {
    print "\nfailing before and after the change alike (not caused by it):\n";
    print "  $_\n" for @both;
}

if (@regressions) {
    print "\nREGRESSIONS (passed before the change, fail after it):\n";
    print "  $_\n" for @regressions;
    $failures++;
}

if (@ours_bad) {
    print "\nOUR TESTS did not behave as expected in:\n";
    print "  $_\n" for @ours_bad;
    $failures++;
}

print "\n";
if ($failures) {
    print "RESULT: FAILED\n";
} else {
    print "RESULT: OK - no test that passed before fails after the change; our tests: refused"
        . " before, migrated (or refused with a reason) after, as expected\n";
}
print "after the change: $total_pass passed, $total_fail failed\n";
exit($failures ? 1 : 0);
