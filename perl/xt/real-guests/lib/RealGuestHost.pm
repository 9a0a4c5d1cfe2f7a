package RealGuestHost;

# Proxmox's guest layer (qemu-server, pve-container, pve-guest-common), driven from their
# sources for the guest-level comparison tests in perl/xt/real-guests, one layer above
# perl/xt/real-pve's RealPVEHost (whose host it starts: storage.cfg in a temporary
# directory, cfs writes and locks mocked, the plugin registered).
#
# What needs a running cluster, KVM or LXC is replaced, and only that:
#   - the guest configurations live below $RealPVEHost::CFS_DIR/nodes/<node>/{qemu-server,lxc}
#     (AbstractConfig's config_file points there instead of /etc/pve) and PVE::Cluster's
#     guest list is read from them (pmxcfs would compute it);
#   - the config locks (flock files) are in a scratch directory, as is the replication state;
#   - workers (fork_worker) run synchronously in this process, as `qm`/`pct` would run them
#     in the foreground, so their errors reach the test; their UPID is a fake one;
#   - the cluster has a second node, NODE2 (same machine): ssh to it is intercepted in
#     run_command: `pvesm export ... | ssh NODE2 pvesm import ...` runs PVE::Storage's
#     volume_export on this node's storage.cfg and volume_import on NODE2's (the same
#     storage IDs, each path mapped through %NODE2_PATH, as another machine would have its
#     own directory behind the same path), `qm unlock`/`pct unlock` act on NODE2's config,
#     `pvesr set-state` of an empty state (a guest without replication jobs) is accepted,
#     `pvesr prepare-local-job`/`finalize-local-job` run pve-manager's pvesr (or, without
#     its sources, a stand-in) as NODE2 (see node2_pvesr); every stream is counted
#     (@STREAMS) and can be broken on purpose ($STREAM_FAULT); a remote command that fails
#     makes run_command die as PVE's does for it (its stderr to the caller's errfunc or
#     logfunc, then "command '...' failed: exit code 255", ssh's code for a remote error);
#     every other remote command fails the test that triggered it;
#   - the size dir's import reads from a stream is untainted (pvesm runs without -T);
#   - qemu-img is Debian's, not pve-qemu's: its `zeroinit:` target prefix is dropped;
#   - the RPC environment grants every privilege (root@pam).
# Nothing is started: no QEMU, no LXC; guests are stopped throughout.

use strict;
use warnings;

use Exporter qw(import);
use Test::More;
use Test::MockModule;
use File::Path ();
use JSON::PP ();
use POSIX ();
use Storable ();
use SwiftPluginTest;
use RealPVEHost;

no warnings 'once';

use constant NODE2 => 'cmpnode2';

our @EXPORT = qw(NODE2 start_guest_host %NODE2_PATH @REMOTE_COMMANDS node2_cfg guest_dirs_created
    @STREAMS pvesr_source on_node2);

# Storage ID => the directory that storage has on NODE2 (default: the same as on NODE).
our %NODE2_PATH;

# Every remote (ssh) command run, as a list of its words after the ssh options.
our @REMOTE_COMMANDS;

# Every `pvesm export ... | ssh NODE2 pvesm import ...` stream: { volid, format, snapshot,
# base, with_snapshots (as the export was asked), bytes (the stream's length, as the pipe
# carried it), and for a killed import `killed` => { signal, sent, alive, status } }.
our @STREAMS;

# A fault for the next stream, which consumes it (not exported: `local` on an imported
# scalar would not reach this one):
#   { truncate => F }: the import gets only the first F (a fraction) of the stream, as
#       when the sending side dies (pvesm export, ssh);
#   { signal => 'TERM'|'KILL', after => F }: the import runs in a child process, as
#       `pvesm import` on NODE2 would, fed the first F of the stream through a pipe, then
#       sent that signal while it waits for the rest.
our $STREAM_FAULT;

# pve-manager's pvesr accepts only storages of the types it lists (zfspool) on the
# target node (not exported either): with this true (the default) NODE2 runs it as it is; false, a storage
# whose plugin says it replicates raw disks (storage_can_replicate) passes that check.
our $PVESR_ZFSPOOL_ONLY = 1;

my @mocks;
my $scratch;
my %dir_existed;

# System directories PVE's modules create when they load (mkdir at file scope). The ones
# that did not exist before are removed again at exit if they are still empty.
my @SYSTEM_DIRS = qw(/var/run/qemu-server /run/qemu-server /var/lock/qemu-server /run/lock/lxc /var/lock/lxc
    /var/lib/lxc /var/lock/pve-manager /run/lock/pve-manager);

# pve-container works in /var/lib/lxc/<vmid> (moving and cloning volumes, migration):
# those this process made are removed at exit if empty.
my %lxc_existed;

END {
    if (opendir(my $dh, '/var/lib/lxc')) {
        for my $entry (grep { /^\d+$/ && !$lxc_existed{$_} } readdir($dh)) {
            rmdir(untaint("/var/lib/lxc/$entry")); # only if empty
        }
    }
    for my $dir (@SYSTEM_DIRS) {
        next if $dir_existed{$dir} || !-d $dir;
        rmdir(untaint($dir)); # only if empty
    }
}

sub guest_dirs_created {
    return [grep { !$dir_existed{$_} && -d $_ } @SYSTEM_DIRS];
}

# Starts the storage host (RealPVEHost), then loads and prepares the guest layer.
# Returns the warnings of loading (both layers).
sub start_guest_host {
    $dir_existed{$_} = -d $_ ? 1 : 0 for @SYSTEM_DIRS;
    if (opendir(my $dh, '/var/lib/lxc')) {
        $lxc_existed{$_} = 1 for readdir($dh);
    }
    my @warnings = start_real_host();
    $scratch = storage_dir();
    my $cfs = $RealPVEHost::CFS_DIR;
    for my $node (RealPVEHost::NODE, NODE2) {
        File::Path::make_path("$cfs/nodes/$node/qemu-server", "$cfs/nodes/$node/lxc", "$cfs/nodes/$node/priv");
    }
    File::Path::make_path("$scratch/lock", "$scratch/replication");

    # The cluster: two nodes, both online.
    my $ipcc = Test::MockModule->new('PVE::IPCC');
    push @mocks, $ipcc;
    my $ipcc_send_rec = \&PVE::IPCC::ipcc_send_rec;
    $ipcc->redefine(ipcc_send_rec => sub {
        my ($msgid) = @_;
        return $ipcc_send_rec->(@_) if $msgid != 2; # CFS_IPC_GET_CLUSTER_INFO
        $! = 0;
        return JSON::PP::encode_json({
            version => 1,
            cluster => { name => 'test', version => 1, nodes => 2, quorate => 1 },
            nodelist => {
                RealPVEHost::NODE() => { id => 1, online => 1, ip => '127.0.0.1' },
                NODE2() => { id => 2, online => 1, ip => '127.0.0.2' },
            },
        });
    });

    {
        local $SIG{__WARN__} = sub { push @warnings, @_ };
        require PVE::API2::Storage::Config;
        require PVE::QemuServer;
        require PVE::QemuConfig;
        require PVE::API2::Qemu;
        require PVE::QemuMigrate;
        require PVE::LXC;
        require PVE::LXC::Config;
        require PVE::LXC::Create;
        require PVE::API2::LXC;
        require PVE::API2::LXC::Snapshot;
        require PVE::LXC::Migrate;
        require PVE::ReplicationState;
        require PVE::SSHInfo;
        require PVE::Replication;
    }

    # Guest configurations in the temporary cluster directory.
    my $abstract = Test::MockModule->new('PVE::AbstractConfig');
    push @mocks, $abstract;
    $abstract->redefine(config_file => sub {
        my ($class, $vmid, $node) = @_;
        return "$cfs/" . $class->cfs_config_path($vmid, $node);
    });
    for my $class (qw(PVE::QemuConfig PVE::LXC::Config)) {
        my $mock = Test::MockModule->new($class);
        push @mocks, $mock;
        $mock->redefine(config_file_lock => sub { my ($class, $vmid) = @_; return "$scratch/lock/$class-$vmid.lock" });
    }

    my $cluster = Test::MockModule->new('PVE::Cluster');
    push @mocks, $cluster;
    $cluster->redefine(get_vmlist => \&vmlist);
    # RealPVEHost's cfs_write_file knows files by name; guest configs are registered by type
    # (nodes/<node>/qemu-server/<vmid>.conf as '/qemu-server/'), which cfs_file_version resolves.
    $cluster->redefine(cfs_write_file => sub {
        my ($filename, $data) = @_;
        my (undef, $info) = PVE::Cluster::cfs_file_version($filename);
        my $writer = $info->{writer} || die "no writer defined";
        PVE::Tools::file_set_contents(untaint("$cfs/$filename"), $writer->("/etc/pve/$filename", $data));
        return;
    });
    $cluster->redefine(check_cfs_quorum => sub { return 1 }); # pmxcfs's /etc/pve/local is writable

    $PVE::ReplicationState::state_path = "$scratch/replication/state.json";
    $PVE::ReplicationState::state_lock = "$scratch/replication/state.lck";
    $PVE::ReplicationState::replicate_logdir = "$scratch/replication/log";

    # Workers in the foreground.
    my $rest = Test::MockModule->new('PVE::RESTEnvironment');
    push @mocks, $rest;
    my $worker = 0;
    $rest->redefine(fork_worker => sub {
        my ($self, $dtype, $id, $user, $function, $background) = @_;
        my $upid = sprintf('UPID:%s:%08X:%08X:%08X:%s:%s:%s:', RealPVEHost::NODE, $$, ++$worker, time(),
            $dtype // 'unknown', $id // '', $user // 'root@pam');
        local $PVE::RESTEnvironment::WORKER_FLAG = 1;
        $function->($upid);
        return $upid;
    });

    # No KVM binary: QEMU's version is that of this machine's qemu-img (the binary the
    # disk operations run; a node's kvm and qemu-img come from the same pve-qemu-kvm).
    my $qemu_version = qemu_img_version();
    for my $package (qw(PVE::QemuServer::Helpers PVE::QemuServer PVE::QemuServer::DriveDevice)) {
        my $mock = Test::MockModule->new($package);
        push @mocks, $mock;
        $mock->redefine(kvm_user_version => sub { return $qemu_version });
    }

    my $rpc = Test::MockModule->new('PVE::RPCEnvironment');
    push @mocks, $rpc;
    $rpc->mock(get => sub { return PVE::RESTEnvironment::get() });
    $rpc->mock($_ => sub { return 1 }) for qw(check_vm_perm check_pool_exist check_sdn_bridge check_perm_modify);
    PVE::RPCEnvironment->setup_default_cli_env('root@pam');

    # ssh to NODE2.
    my $ssh = Test::MockModule->new('PVE::SSHInfo');
    push @mocks, $ssh;
    $ssh->redefine(get_ssh_info => sub {
        my ($node, $network) = @_;
        die "no node '$node' in the test cluster\n" if $node ne NODE2;
        return { ip => '127.0.0.2', name => $node, network => $network };
    });
    for my $package (qw(PVE::Tools PVE::Storage)) {
        my $mock = Test::MockModule->new($package);
        push @mocks, $mock;
        my $original = do { no strict "refs"; \&{"${package}::run_command"} };
        $mock->redefine(run_command => sub {
            my ($cmd, %param) = @_;
            my $handled = remote_command($cmd, %param);
            return $handled->() if $handled;
            return $original->(without_zeroinit($cmd), %param);
        });
    }

    # `pvesm import` runs without taint mode (pvesm has no -T), this process with: the
    # size dir's import reads from a stream header would reach qemu-img tainted. As in
    # perl/xt/real-pve/streams-compare.t, that one value is untainted.
    my $plugin = Test::MockModule->new('PVE::Storage::Plugin');
    push @mocks, $plugin;
    my $read_common_header = \&PVE::Storage::Plugin::read_common_header;
    $plugin->redefine(read_common_header => sub ($) { return untaint($read_common_header->(@_)) });

    return @warnings;
}

sub qemu_img_version {
    local $ENV{PATH} = '/usr/bin:/bin';
    open(my $fh, '-|', '/usr/bin/qemu-img', '--version') or die "qemu-img --version: $!\n";
    my $text = do { local $/; <$fh> };
    close($fh);
    $text =~ /^qemu-img version (\d+\.\d+(?:\.\d+)?)/m or die "qemu-img --version: no version in '$text'\n";
    return $1;
}

# pve-qemu's qemu-img has a `zeroinit` block driver (a protocol prefix telling convert that
# the target reads as zeros, so zero blocks need not be written); Debian's has not. The
# result is the same without it: the prefix is dropped.
sub without_zeroinit {
    my ($cmd) = @_;
    return $cmd if ref($cmd) ne 'ARRAY' || ref($cmd->[0]) || ($cmd->[0] // '') !~ m{(?:^|/)qemu-img$};
    return [map { s/^zeroinit://r } @$cmd];
}

# The guest list pmxcfs would report: every config below nodes/*/{qemu-server,lxc}.
sub vmlist {
    my $cfs = $RealPVEHost::CFS_DIR;
    my %ids;
    opendir(my $nodes, "$cfs/nodes") or return { version => 1, ids => {} };
    for my $node (grep { !/^\./ } readdir($nodes)) {
        for my $pair (['qemu-server', 'qemu'], ['lxc', 'lxc']) {
            opendir(my $dh, "$cfs/nodes/$node/$pair->[0]") or next;
            for my $file (readdir($dh)) {
                next if $file !~ /^(\d+)\.conf$/;
                $ids{$1} = { node => untaint($node), type => $pair->[1], version => 1 };
            }
        }
    }
    return { version => 1, ids => \%ids };
}

# NODE2's view of storage.cfg: the same storages, paths mapped through %NODE2_PATH.
sub node2_cfg {
    my $cfg = Storable::dclone(PVE::Storage::config());
    for my $sid (keys %NODE2_PATH) {
        $cfg->{ids}->{$sid}->{path} = $NODE2_PATH{$sid} if $cfg->{ids}->{$sid};
    }
    return $cfg;
}

# A command for NODE2 (its words after `ssh ... root@127.0.0.2 [--]`), or a pipeline
# ending in one: returns the code that runs it here, or undef for a local command.
sub remote_command {
    my ($cmd, %param) = @_;
    my @pipeline = ref($cmd->[0]) ? @$cmd : ($cmd);
    my $last = $pipeline[-1];
    return undef if ($last->[0] // '') ne '/usr/bin/ssh';
    my @words = @$last;
    shift(@words) while @words && $words[0] ne 'root@127.0.0.2';
    die "ssh to an unknown host: @$last\n" if !@words;
    shift(@words);
    shift(@words) if @words && $words[0] eq '--';
    push @REMOTE_COMMANDS, [@words];
    my $errfunc = $param{errfunc} // $param{logfunc} // sub { print STDERR "$_[0]\n" };

    if (@pipeline == 1 && "@words" eq '/bin/true') {
        return sub { return 0 };
    }
    if (@pipeline == 1 && @words == 3 && $words[0] =~ /^(qm|pct)$/ && $words[1] eq 'unlock') {
        my $class = $words[0] eq 'qm' ? 'PVE::QemuConfig' : 'PVE::LXC::Config';
        my $vmid = $words[2];
        return sub {
            my $path = $class->cfs_config_path($vmid, NODE2);
            my $conf = PVE::Cluster::cfs_read_file($path) // die "no config of $vmid on " . NODE2 . "\n";
            delete $conf->{lock};
            PVE::Cluster::cfs_write_file($path, $conf);
            return 0;
        };
    }
    # pvesr set-state <vmid> <state>: the replication state of a guest without jobs.
    if (@pipeline == 1 && @words == 4 && $words[0] eq 'pvesr' && $words[1] eq 'set-state' && $words[3] eq "'{}'") {
        return sub { return 0 };
    }
    if (@pipeline == 1 && @words >= 3 && $words[0] eq 'pvesr' && $words[1] =~ /^(?:prepare|finalize)-local-job$/) {
        return sub {
            my $error = node2_pvesr(\@words, $param{outfunc} // $param{logfunc}, $errfunc);
            remote_failed(\@pipeline, $error, $errfunc) if $error;
            return 0;
        };
    }
    if (@pipeline == 2 && $pipeline[0]->[0] eq 'pvesm' && $pipeline[0]->[1] eq 'export'
        && $words[0] eq 'pvesm' && $words[1] eq 'import') {
        my ($export, $import) = (parse_pvesm($pipeline[0]), parse_pvesm([@words]));
        return sub {
            my $file = "$scratch/stream";
            my $fault = $STREAM_FAULT;
            undef $STREAM_FAULT;
            my $error = failure_of(sub {
                open(my $out, '>', $file) or die "$file: $!\n";
                PVE::Storage::volume_export(PVE::Storage::config(), $out, $export->{volid}, $export->{format},
                    $export->{snapshot}, $export->{base}, $export->{'with-snapshots'});
                close($out) or die "$file: $!\n";
            });
            my $stream = { volid => $export->{volid}, format => $export->{format}, snapshot => $export->{snapshot},
                base => $export->{base}, with_snapshots => $export->{'with-snapshots'}, bytes => -s $file // 0 };
            push @STREAMS, $stream;
            if ($error) {
                # the export failed: the import saw what the stream carried until then
            } elsif ($fault && $fault->{signal}) {
                $error = import_killed($file, $import, $fault, $stream);
            } else {
                truncate($file, int($stream->{bytes} * $fault->{truncate})) or die "truncate $file: $!\n"
                    if $fault && defined($fault->{truncate});
                $error = failure_of(sub {
                    open(my $in, '<', $file) or die "$file: $!\n";
                    my $volid = PVE::Storage::volume_import(node2_cfg(), $in, $import->{volid}, $import->{format},
                        $import->{snapshot}, $import->{base}, $import->{'with-snapshots'}, $import->{'allow-rename'});
                    close($in);
                    PVE::Storage::volume_snapshot_delete(node2_cfg(), $volid, $import->{'delete-snapshot'})
                        if defined($import->{'delete-snapshot'});
                    $errfunc->(PVE::Storage::volume_imported_message($volid) =~ s/\n$//r);
                });
            }
            unlink($file);
            remote_failed(\@pipeline, $error, $errfunc) if $error;
            return 0;
        };
    }
    die "unexpected command for " . NODE2 . ": " . join(' | ', map { "@$_" } @pipeline) . "\n";
}

# The error a piece of code dies with ('' if none).
sub failure_of {
    my ($code) = @_;
    local $@;
    return eval { $code->(); 1 } ? '' : ($@ || "died\n");
}

# What run_command does when the remote command (or the pipeline) fails: the remote
# side's stderr to errfunc, line by line, then it dies naming the command (ssh exits
# with 255 when the remote command fails or is killed).
sub remote_failed {
    my ($pipeline, $error, $errfunc) = @_;
    $errfunc->($_) for split(/\n/, $error);
    my $string = @$pipeline == 1 ? PVE::Tools::cmd2string($pipeline->[0])
        : 'set -o pipefail && ' . join(' | ', map { PVE::Tools::cmd2string($_) } @$pipeline);
    die "command '$string' failed: exit code 255\n";
}

# Runs $code as NODE2 would: its node name, its storage.cfg (%NODE2_PATH applied).
sub on_node2 {
    my ($code) = @_;
    my $cfg2 = node2_cfg();
    no warnings 'redefine';
    local *PVE::INotify::nodename = sub { return NODE2 };
    local *PVE::Storage::config = sub { return $cfg2 };
    return $code->();
}

# `pvesm import` on NODE2 as a process of its own, killed mid-stream: it is fed the first
# part of the stream through a pipe (the write returns once it has read all but what the
# pipe holds), given a moment, then sent the signal. Returns the error the pipeline ends
# with; $stream->{killed} says whether the import was still running when it was signalled.
sub import_killed {
    my ($file, $import, $fault, $stream) = @_;
    my $cfg2 = node2_cfg();
    pipe(my $reader, my $writer) or die "pipe: $!\n";
    my $pid = fork() // die "fork: $!\n";
    if (!$pid) {
        close($writer);
        my $ok = eval {
            PVE::Storage::volume_import($cfg2, $reader, $import->{volid}, $import->{format}, $import->{snapshot},
                $import->{base}, $import->{'with-snapshots'}, $import->{'allow-rename'});
            1;
        };
        print STDERR $@ if !$ok;
        POSIX::_exit($ok ? 0 : 255); # no END blocks: they belong to the test process
    }
    close($reader);
    local $SIG{PIPE} = 'IGNORE';
    open(my $in, '<', $file) or die "$file: $!\n";
    binmode($in);
    my $part = int($stream->{bytes} * $fault->{after});
    my $sent = 0;
    while ($sent < $part) {
        my $want = $part - $sent > 65536 ? 65536 : $part - $sent;
        my $got = read($in, my $buffer, $want) or last;
        my $written = syswrite($writer, $buffer) // last;
        $sent += $written;
        last if $written < $got;
    }
    close($in);
    select(undef, undef, undef, 0.5);
    my $alive = waitpid($pid, POSIX::WNOHANG()) == 0 ? 1 : 0;
    kill($fault->{signal}, $pid) if $alive;
    waitpid($pid, 0) if $alive;
    my $status = $?;
    close($writer);
    $stream->{killed} = { signal => $fault->{signal}, sent => $sent, alive => $alive, status => $status };
    return $alive ? "pvesm import killed by SIG$fault->{signal}\n" : "pvesm import ended before the signal (status $status)\n";
}

# Where NODE2's `pvesr` comes from: 'pve-manager' (its PVE::CLI::pvesr, loaded from the
# extracted sources) or 'stand-in'.
my $pvesr_source;
sub pvesr_source {
    return $pvesr_source if defined($pvesr_source);
    local $SIG{__WARN__} = sub {};
    $pvesr_source = eval { require PVE::CLI::pvesr; 1 } ? 'pve-manager' : 'stand-in';
    return $pvesr_source;
}

# `pvesr prepare-local-job|finalize-local-job <jobid> [volids] --option value ...` run
# on NODE2, as the CLI would: what it prints on stdout goes to $outfunc, on stderr (its
# log, warnings) to $errfunc, line by line; returns the error ('' if none), which the
# caller reports as the CLI would (remote_failed). With pve-manager's sources it is PVE::CLI::pvesr's handler;
# without them a stand-in doing what pvesr's documentation says: prepare lists the guest's
# images on the storages of the volumes and of --scan, removes stale replication
# snapshots (PVE::Replication::prepare), frees volumes the job no longer wants that had
# replication snapshots of the job, and prints the remaining snapshots (volume_snapshot_info
# per volume) as JSON; finalize runs PVE::Replication::prepare on the given volumes.
sub node2_pvesr {
    my ($words, $outfunc, $errfunc) = @_;
    my (undef, $verb, $id, @rest) = map { untaint($_) } @$words;
    my %param = (id => $id, 'extra-args' => []);
    while (@rest) {
        my $word = shift(@rest);
        if ($word =~ /^--?(\w+)$/) {
            $param{$1} = $1 eq 'force' ? 1 : shift(@rest);
        } else {
            push $param{'extra-args'}->@*, $word;
        }
    }
    my $method = $verb =~ tr/-/_/r;
    my ($out, $err) = ('', '');
    my $error;
    {
        local *STDOUT;
        local *STDERR;
        open(STDOUT, '>', \$out) or die "stdout: $!\n";
        open(STDERR, '>', \$err) or die "stderr: $!\n";
        my $previous = select(STDOUT);
        local $SIG{__WARN__} = sub { print STDERR $_[0] };
        $error = failure_of(sub {
            on_node2(sub {
                if (pvesr_source() eq 'pve-manager') {
                    pvesr_gate(sub { PVE::CLI::pvesr->$method({%param}) });
                } else {
                    pvesr_stand_in($method, \%param);
                }
            });
        });
        select($previous);
    }
    $outfunc->($_) for split(/\n/, $out);
    $errfunc->($_) for split(/\n/, $err);
    return $error;
}

# pvesr's check of the storage type (storage_check_enabled's answer, asked from pvesr's
# own package) sees, unless $PVESR_ZFSPOOL_ONLY, a storage whose plugin replicates raw
# disks as one of the type pvesr lists.
sub pvesr_gate {
    my ($code) = @_;
    return $code->() if $PVESR_ZFSPOOL_ONLY;
    my $check = \&PVE::Storage::storage_check_enabled;
    no warnings 'redefine';
    local *PVE::Storage::storage_check_enabled = sub {
        my ($cfg, $storeid) = @_;
        my $scfg = $check->(@_);
        return $scfg if !$scfg || caller() ne 'PVE::CLI::pvesr';
        return $scfg if !PVE::Storage::storage_can_replicate($cfg, $storeid, 'raw');
        return { %$scfg, type => 'zfspool' };
    };
    return $code->();
}

sub pvesr_stand_in {
    my ($method, $param) = @_;
    my ($vmid, undef, $jobid) = PVE::ReplicationConfig::parse_replication_job_id($param->{id});
    my $cfg = PVE::Storage::config();
    my $log = sub { print STDERR "$_[0]\n" };
    my @wanted = $param->{'extra-args'}->@*;
    if ($method eq 'finalize_local_job') {
        PVE::Replication::prepare($cfg, [sort @wanted], $jobid, $param->{last_sync} // 0, undef, $log);
        return;
    }
    die "no such pvesr command '$method'\n" if $method ne 'prepare_local_job';
    my %storages = map { ($_ => 1) } PVE::Tools::split_list($param->{scan} // '');
    $storages{(PVE::Storage::parse_volume_id($_))[0]} = 1 for @wanted;
    my @volids;
    for my $storeid (sort keys %storages) {
        my $images = PVE::Storage::vdisk_list($cfg, $storeid, $vmid);
        push @volids, map { $_->{volid} } ($images->{$storeid} // [])->@*;
    }
    my ($snapshots, $cleaned) = PVE::Replication::prepare($cfg, \@volids, $jobid, $param->{last_sync} // 0,
        $param->{parent_snapname}, $log);
    my %wanted = map { ($_ => 1) } @wanted;
    my $stale = sub {
        my ($volid) = @_;
        return $cleaned->{$volid}
            || grep { PVE::Replication::is_replication_snapshot($_, $jobid) } keys(($snapshots->{$volid} // {})->%*);
    };
    for my $volid (grep { !$wanted{$_} && $stale->($_) } @volids) {
        $log->("$jobid: delete stale volume '$volid'");
        PVE::Storage::vdisk_free($cfg, $volid);
        delete $snapshots->{$volid};
    }
    print JSON::PP->new->canonical->encode($snapshots) . "\n";
}

# `pvesm export|import <volid> <format> <file> -option value ...` as a hash. The words
# are untainted, as pvesm's parameter check leaves them (they arrive as command-line
# arguments on the other node).
sub parse_pvesm {
    my ($words) = @_;
    my (undef, $verb, $volid, $format, $file, @rest) = map { untaint($_) } @$words;
    my %opts = (verb => $verb, volid => $volid, format => $format, file => $file);
    while (@rest) {
        my $key = shift(@rest) =~ s/^-+//r;
        $opts{$key} = shift(@rest);
    }
    return \%opts;
}

1;
