#!/usr/bin/perl -T
# Contract: alloc_image stops when its task is stopped. PVE stops a task with SIGTERM
# (SIGINT, SIGHUP from a terminal); while qemu-img runs (a preallocation can take
# hours) such a signal kills qemu-img at once, no volume is published and no temporary
# is left, and the call dies "unable to create image: interrupted by signal <n>\n" --
# Perl runs the process's own handler (PVE's die "received interrupt") as the call
# unwinds, so the task reports its handler's message, as with dir.
# Without a handler (default disposition) the process still dies of the signal, after
# the temporary is removed (the empty VMID directory may stay, as with dir).
use strict;
use warnings;

use lib 'perl/t/testlib';
use Test::More;
use SwiftPluginTest;
use POSIX ();
use Time::HiRes ();

load_host();

my $dir = storage_dir();
my $scfg = { type => 'swift', path => $dir, preallocation => 'full' };

# Starts a fully preallocated 16 GiB raw allocation in a child, waits until qemu-img
# writes its temporary, sends $signal and returns (wait status, the child's message,
# seconds from the signal to the child's end).
sub interrupted_allocation {
    my ($vmid, $signal, $handler) = @_;
    pipe(my $reader, my $writer) or die;
    my $pid = fork() // die;
    if (!$pid) {
        close($reader);
        # As a PVE task: its handler dies, an outer eval reports.
        $SIG{$signal} = $handler if $handler;
        my @seen;
        eval {
            eval { PLUGIN->alloc_image('s', $scfg, $vmid, 'raw', undef, 16 * 1024 * 1024); 1 } or push @seen, $@;
            1;
        } or push @seen, $@;
        print $writer join('|', @seen);
        close($writer);
        POSIX::_exit(0);
    }
    close($writer);
    my $deadline = time + 20;
    until (grep { m{^images/$vmid/\.tmp\.} } @{ files_below($dir) }) {
        die "no temporary appeared\n" if time > $deadline;
        Time::HiRes::sleep(0.02);
    }
    Time::HiRes::sleep(0.2);
    my $sent = Time::HiRes::time();
    kill($signal, $pid);
    my $message = do { local $/; <$reader> } // '';
    my $waited = 0;
    until (waitpid($pid, POSIX::WNOHANG()) == $pid) {
        if ($waited++ > 300) { kill('KILL', $pid); waitpid($pid, 0); last }
        Time::HiRes::sleep(0.1);
    }
    return ($?, $message, Time::HiRes::time() - $sent);
}

for my $case (['TERM', 15, 200], ['INT', 2, 201], ['HUP', 1, 202]) {
    my ($signal, $number, $vmid) = @$case;
    my ($status, $message, $seconds) = interrupted_allocation($vmid, $signal, sub { die "received interrupt\n" });
    is($message, "received interrupt\n", "SIG$signal: the task's handler runs as soon as the call returns");
    is($status, 0, "SIG$signal: the handler ran after the call (the child exited normally)");
    ok($seconds < 5, "SIG$signal: stopped promptly (" . sprintf('%.1f', $seconds) . ' s)');
    is_deeply([grep { m{^images/$vmid\b} } @{ files_below($dir) }], [], "SIG$signal: no volume, no temporary, no directory left");
}

my ($status, $message) = interrupted_allocation(203, 'TERM', undef);
is($status & 127, 15, 'no handler: the process dies of SIGTERM');
is($message, '', '... without returning');
is_deeply([grep { m{^images/203/} } @{ files_below($dir) }], [], '... and leaves no volume and no temporary behind');

done_testing();
