#!/usr/bin/perl -T
# Contract: PVE daemons fork a worker per request; the library must work in forked
# children (no threads, no state that breaks across fork), including the error path,
# and leave no zombie behind from its own probes.
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, content => { images => 1 } };
PLUGIN->status('s', $scfg, {});    # warm up in the parent

my @children;
for my $n (1 .. 20) {
    my $pid = fork() // die "fork: $!\n";
    if ($pid == 0) {
        my $ok = eval {
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm(10);
            my @parsed = PLUGIN->parse_volname("$n/vm-$n-disk-0.raw");
            die "parse\n" if $parsed[2] ne $n;
            PLUGIN->activate_storage('s', $scfg, {});
            my @status = PLUGIN->status('s', $scfg, {});
            die "status\n" if $status[3] != 1;
            my $error = dies { PLUGIN->parse_volname('bogus') };
            die "error path\n" if $error ne "unable to parse directory volume name 'bogus'\n";
            if ($n % 2) {    # a grandchild too
                my $grandchild = fork() // die "fork: $!\n";
                POSIX::_exit(PLUGIN->check_connection('s', $scfg) == 1 ? 0 : 1) if !$grandchild;
                waitpid($grandchild, 0);
                die "grandchild\n" if $?;
            }
            alarm(0);
            1;
        };
        POSIX::_exit($ok ? 0 : 1);
    }
    push @children, $pid;
}
my $failures = 0;
for my $pid (@children) {
    waitpid($pid, 0);
    $failures++ if $?;
}
is($failures, 0, '20 forked children (and grandchildren) called into Swift');

opendir(my $dh, '/proc/self/task') or die;
is(scalar(grep { /^\d+$/ } readdir($dh)), 1, 'the library started no thread');
is(waitpid(-1, POSIX::WNOHANG()), -1, 'no unreaped child left by the status probes');

done_testing();
