package Test::Nginx::Util;

# Settings, nginx.conf generation and nginx process management for our
# Test::Nginx::Socket.  Section semantics follow openresty's test-nginx
# so that every t/*.t file runs unchanged under both.

use strict;
use warnings;

use base 'Exporter';

use Carp qw(croak);
use Config ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use POSIX qw(:sys_wait_h SIGKILL SIGQUIT);
use Time::HiRes qw(sleep time);

our $VERSION = '0.1';

sub bail_out (@);
sub gen_rand_port ($$);

our @EXPORT = qw(
    add_block_preprocessor
    add_cleanup_handler
    add_test_cleanup_handler
    bail_out
    check_accum_error_log
    config_preamble
    env_to_nginx
    error_log_data
    expand_env_in_text
    html_dir
    is_str
    log_level
    master_off
    master_on
    master_process_enabled
    no_long_string
    no_root_location
    no_shuffle
    parse_time
    repeat_each
    server_addr
    server_name
    server_port
    server_port_for_client
    server_root
    timeout
    worker_connections
    workers
    $ServerAddr
    $ServerName
    $ServerPort
    $ServerPortForClient
    $ServRoot
    $ErrLogFile
    $PidFile
    $ConfFile
    $HtmlDir
    $NginxVersion
    $RepeatEach
    $NoLongString
);

our $Verbose = $ENV{TEST_NGINX_VERBOSE};
our $NoLongString;
our $RepeatEach = 1;
our $NoShuffle = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoRootLocation = 0;
our $Workers = 1;
our $WorkerConnections = 64;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $NoClean = $ENV{TEST_NGINX_NO_CLEAN};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType = $ENV{TEST_NGINX_EVENT_TYPE};
our $WorkerUser = $ENV{TEST_NGINX_WORKER_USER};
our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ConfigPreamble = '';
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;

our $CoreSuppressions = File::Spec->rel2abs(__FILE__)
                        =~ s{[^/]+$}{nginx-core.supp}r;

# seconds; valgrind makes both startup and the exit-time leak check slow
our $StartTimeout = $UseValgrind ? 60 : 10;
our $StopTimeout = $UseValgrind ? 60 : 10;

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]+(?:\s+\w[-\w]+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

srand($$ ^ int(time() * 1000));

our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};

if ($Randomize) {
    $ServerPort = gen_rand_port(1000, {});
    if (!defined $ServerPort) {
        die "Cannot find an available listening port number\n";
    }
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
                ? File::Spec->rel2abs("t/servroot_$ServerPort")
                : $ENV{TEST_NGINX_SERVROOT}
                  || File::Spec->rel2abs('t/servroot');

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/stderr.log";
our $HtmlDir = "$ServRoot/html";
our $ConfDir = "$ServRoot/conf";
our $ConfFile = "$ConfDir/nginx.conf";
our $PidFile = "$LogDir/nginx.pid";
our $CacheDir = "$ServRoot/cache";

our $NginxBinary;
our $NginxV;
our $NginxVersion;
our $ErrLogFilePos = 0;
our $RandPorts = {};

# the nginx process we started: pid, and whether it is under valgrind
our $NginxPid;
our $NginxUnderValgrind;


sub no_long_string () { $NoLongString = 1; }
sub no_shuffle () { $NoShuffle = 1; }
sub no_root_location () { $NoRootLocation = 1; }
sub master_on () { $MasterProcessEnabled = 'on'; }
sub master_off () { $MasterProcessEnabled = 'off'; }
sub check_accum_error_log () { $CheckAccumErrLog = 1; }
sub config_preamble ($) { $ConfigPreamble = shift; }
sub html_dir () { return $HtmlDir; }
sub server_root () { return $ServRoot; }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift; }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift; }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift; }


sub getset {
    my ($ref, @args) = @_;

    if (@args) {
        $$ref = $args[0];
    }

    return $$ref;
}

sub repeat_each (@) { getset(\$RepeatEach, @_) }
sub workers (@) { getset(\$Workers, @_) }
sub worker_connections (@) { getset(\$WorkerConnections, @_) }
sub log_level (@) { getset(\$LogLevel, @_) }
sub timeout (@) { getset(\$Timeout, @_) }
sub server_addr (@) { getset(\$ServerAddr, @_) }
sub server_name (@) { getset(\$ServerName, @_) }
sub server_port_for_client (@) { getset(\$ServerPortForClient, @_) }


# as in the real harness, this does not change the port the client uses
sub server_port (@) { getset(\$ServerPort, @_) }


sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    }

    return $MasterProcessEnabled;
}


sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;

    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v";
        }

        push @EnvToNginx, $v;
    }
}


sub parse_time ($) {
    my $t = shift;

    return undef if !defined $t;

    if ($t =~ /^\s*([\d.]+)\s*ms\s*$/) {
        return $1 / 1000;
    }

    if ($t =~ /^\s*([\d.]+)\s*s?\s*$/) {
        return $1;
    }

    return $t;
}


sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }

    if (!$NoLongString && eval { require Test::LongString; 1 }) {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        return Test::LongString::is_string($got, $expected, $desc);
    }

    return Test::More::is($got, $expected, $desc);
}


sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}


sub port_is_free ($) {
    my $port = shift;

    my $sock = IO::Socket::INET->new(
        LocalAddr => $ServerAddr,
        LocalPort => $port,
        Proto => 'tcp',
        Listen => 5,
        ReuseAddr => 1,
    );

    return 0 if !$sock;

    close $sock;
    return 1;
}


sub gen_rand_port ($$) {
    my ($tries, $used) = @_;

    for (1 .. $tries) {
        # 1984 and the three ports above it are the fixed test ports
        my $port = 1988 + int rand(65535 - 1988);

        next if $used->{$port};

        return $port if port_is_free($port);
    }

    return undef;
}


sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;

    return $text if !defined $text || ref $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;

        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $val = $rand_ports->{$var};

            if (!defined $val) {
                $val = gen_rand_port(1000, \%used);

                if (!defined $val) {
                    bail_out("$name - Cannot find an available listening "
                             . "port number for $var.\n");
                }

                $rand_ports->{$var} = $val;
                $used{$val} = 1;
            }

        } else {
            if (!defined $ENV{$var}) {
                bail_out("$name - No environment $var defined.\n");
            }

            $val = $ENV{$var};
        }

        $val;
    }ge;

    return $text;
}


sub find_nginx_binary () {
    return $NginxBinary if defined $NginxBinary;

    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';

    if ($bin =~ m{/}) {
        $NginxBinary = $bin if -f $bin && -x _;

    } else {
        for my $dir (split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} || '') {
            next if $dir eq '';

            if (-f "$dir/$bin" && -x _) {
                $NginxBinary = "$dir/$bin";
                last;
            }
        }

        if (!defined $NginxBinary && $bin eq 'nginx' && -x '/usr/sbin/nginx') {
            $NginxBinary = '/usr/sbin/nginx';
        }
    }

    if (!defined $NginxBinary) {
        bail_out("Cannot find the nginx executable \"$bin\" "
                 . "(set TEST_NGINX_BINARY or PATH)");
    }

    return $NginxBinary;
}


sub nginx_V () {
    return $NginxV if defined $NginxV;

    my $bin = find_nginx_binary();

    $NginxV = `'$bin' -V 2>&1`;

    if ($? != 0) {
        bail_out("Failed to run \"$bin -V\": $NginxV");
    }

    if ($NginxV =~ m{nginx version: [^/]*/(\d+)\.(\d+)\.(\d+)}) {
        $NginxVersion = sprintf "%d.%03d%03d", $1, $2, $3;
    }

    return $NginxV;
}


sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }

    if (defined $NginxPid) {
        stop_nginx('cleanup', 1);
    }
}


sub kill_stale_nginx () {
    return if !-f $PidFile;

    open my $in, '<', $PidFile or return;
    my $pid = <$in>;
    close $in;

    return if !defined $pid || $pid !~ /^\s*(\d+)\s*$/;
    $pid = $1;

    # only kill what really is an nginx (or valgrind running one) left
    # behind by an earlier run in this server root
    open my $cmd, '<', "/proc/$pid/cmdline" or return;
    my $cmdline = do { local $/; <$cmd> } // '';
    close $cmd;

    return if $cmdline !~ /nginx|valgrind/ || index($cmdline, $ServRoot) < 0;

    kill SIGQUIT, $pid;

    for (1 .. 200) {
        return if !kill 0, $pid;
        sleep 0.05;
    }

    kill SIGKILL, $pid;
}


sub setup_server_root () {
    kill_stale_nginx();

    if (-d $ServRoot) {
        # remove only what we create, in case TEST_NGINX_SERVROOT points
        # somewhere with real data in it
        remove_tree($ConfDir, $CacheDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        if (!-d $dir) {
            make_path($dir) or bail_out("Failed to do mkdir $dir\n");
        }
    }

    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}


sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files;

    return if !$files;

    if (!ref $files) {
        my @list;

        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
                next;
            }

            if (@list) {
                $list[-1][1] .= $line;
            }
        }

        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;

        $body = '' if !defined $body;

        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";

        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            if (!-d $dir) {
                make_path($dir)
                    or bail_out("$name - Cannot create directory $dir");
            }
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - Failed to set the mtime of $path\n");
        }
    }
}


sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $rand_ports) // '';
    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $rand_ports) // '';
    my $main_config = $block->main_config // '';

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ }
                      split /\s+/, $LoadModules;
        $main_config = join ' ', @modules, $main_config;
    }

    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    my $err_log_file = expand_env_in_text($block->error_log_file, $name,
                                          $rand_ports) || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;
    my $log_level = $block->log_level || $LogLevel;

    $config //= '';

    my $extra_http_config = '';

    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        if ($PostponeOutput !~ /^\d+$/) {
            bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: "
                     . "$PostponeOutput\n");
        }

        $extra_http_config = " postpone_output $PostponeOutput;";
    }

    my $nginx_V = nginx_V();
    my @temp_paths;

    if ($http_config !~ /\bclient_body_temp_path\b/) {
        push @temp_paths, "client_body_temp_path $ServRoot/client_body_temp;";
    }

    if ($http_config !~ /\bproxy_temp_path\b/) {
        push @temp_paths, "proxy_temp_path $ServRoot/proxy_temp;";
    }

    for my $m (qw(fastcgi scgi uwsgi)) {
        if ($nginx_V !~ /--without-http_${m}_module/) {
            push @temp_paths, "${m}_temp_path $ServRoot/${m}_temp;";
        }
    }

    my $env = join '', map {
        my $v = /\s/ ? "'$_'" : $_;
        "env $v;\n"
    } qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
         LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
         DYLD_FORCE_FLAT_NAMESPACE), @EnvToNginx;

    (my $quoted_server_name = $server_name) =~ s/(['\\])/\\$1/g;

    my $root_location = '';

    if (!$NoRootLocation) {
        $root_location = <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    my $user = '';

    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";

    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    my $use_events = $EventType ? "    use $EventType;\n" : '';

    # The layout keeps every line where the real harness puts it, so the
    # "in nginx.conf:NN" of nginx's messages is the same under both.
    # The process is always our direct child, so "daemon" is always off.
    my $conf = <<"_EOC_";
worker_processes  $Workers;
daemon off;
master_process $MasterProcessEnabled;
error_log $err_log_file $log_level;
pid       $PidFile;
${env}#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile; @temp_paths
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;$extra_http_config

$http_config
    server {
        listen          $ServerPort;
        #placeholder
        server_name     '$quoted_server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$use_events}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
_EOC_

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out $conf, $user;
    close $out;
}


sub nginx_command ($) {
    my $use_valgrind = shift;

    my $bin = find_nginx_binary();
    nginx_V();

    my @cmd = ($bin, '-p', "$ServRoot/", '-c', 'conf/nginx.conf');

    # "-e" (nginx >= 1.19.5) keeps startup errors out of the compiled-in
    # error log and in ours, where must_die blocks look for them
    if (defined $NginxVersion && $NginxVersion >= 1.019005) {
        push @cmd, '-e', $ErrLogFile;
    }

    if ($use_valgrind) {
        my @opts;

        if ($use_valgrind =~ /^\d+$/) {
            @opts = qw(--tool=memcheck --leak-check=full
                       --show-possibly-lost=no --keep-debuginfo=yes
                       --num-callers=100 --gen-suppressions=all);

            if (-f $CoreSuppressions) {
                push @opts, "--suppressions=$CoreSuppressions";
            }

            if (-f 'valgrind.suppress') {
                push @opts, '--suppressions='
                            . File::Spec->rel2abs('valgrind.suppress');
            }

        } else {
            @opts = split ' ', $use_valgrind;
        }

        unshift @cmd, 'valgrind', '-q', @opts;
    }

    return @cmd;
}


sub reap_nginx ($) {
    my $flags = shift;

    return undef if !defined $NginxPid;

    my $pid = waitpid($NginxPid, $flags);

    if ($pid == $NginxPid || $pid == -1) {
        my $status = $pid == -1 ? 0 : $?;
        undef $NginxPid;
        return $status;
    }

    return undef;
}


# Looks for a listening socket in /proc instead of connecting: a probe
# connection would show up in the error log (and in its connection
# numbers), which the real harness does not do.
sub port_listening ($) {
    my $port = shift;

    my $seen_proc = 0;

    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $table or next;
        $seen_proc = 1;

        while (<$in>) {
            if (/^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]+)\s+\S+\s+0A\s/
                && hex($1) == $port)
            {
                close $in;
                return 1;
            }
        }

        close $in;
    }

    # without /proc, the pid file alone has to do
    return !$seen_proc;
}


sub pid_file_has ($) {
    my $pid = shift;

    open my $in, '<', $PidFile or return 0;
    my $got = <$in>;
    close $in;

    return defined $got && $got =~ /^\s*\Q$pid\E\s*$/;
}


# Starts nginx as a direct child (daemon off) and waits until it either
# exits or has written its pid file and accepts connections.
# Returns (undef, 'ready') or ($status, 'exited') or (undef, 'timeout').
sub start_nginx ($$) {
    my ($name, $use_valgrind) = @_;

    my @cmd = nginx_command($use_valgrind);

    for (1 .. 100) {
        last if port_is_free($ServerPort);

        if ($_ == 100) {
            bail_out("$name - port $ServerPort is in use by another process "
                     . "(set TEST_NGINX_SERVER_PORT to another port)");
        }

        sleep 0.05;
    }

    if ($Verbose) {
        warn "starting @cmd\n";
    }

    open my $devnull, '<', '/dev/null' or die "/dev/null: $!";
    open my $stderr, '>>', $StderrFile
        or bail_out("$name - Cannot open $StderrFile: $!");

    my $pid = fork();

    if (!defined $pid) {
        bail_out("$name - fork() failed: $!");
    }

    if ($pid == 0) {
        open STDIN, '<&', $devnull;
        open STDOUT, '>&', $stderr;
        open STDERR, '>&', $stderr;
        exec { $cmd[0] } @cmd
            or print STDERR "exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }

    close $stderr;

    $NginxPid = $pid;
    $NginxUnderValgrind = $use_valgrind;

    my $deadline = time() + $StartTimeout;

    while (time() < $deadline) {
        my $status = reap_nginx(WNOHANG);

        if (defined $status) {
            return ($status, 'exited');
        }

        if (pid_file_has($pid) && port_listening($ServerPort)) {
            return (undef, 'ready');
        }

        sleep 0.01;
    }

    return (undef, 'timeout');
}


sub process_children ($) {
    my $ppid = shift;
    my @kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in>;
        close $in;

        if (defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) /s
            && $2 == $ppid)
        {
            push @kids, $1;
        }
    }

    return @kids;
}


# Stops our nginx with SIGQUIT; SIGKILLs it (and its workers) when it is
# still there after $StopTimeout.  Returns ($status, $killed, $premature).
sub stop_nginx ($$) {
    my ($name, $quiet) = @_;

    return (undef, 0, 0) if !defined $NginxPid;

    my $status = reap_nginx(WNOHANG);

    if (defined $status) {
        return ($status, 0, 1);
    }

    my $pid = $NginxPid;

    kill SIGQUIT, $pid;

    my $deadline = time() + $StopTimeout;

    while (time() < $deadline) {
        $status = reap_nginx(WNOHANG);
        return ($status, 0, 0) if defined $status;
        sleep 0.01;
    }

    my @kids = process_children($pid);

    kill SIGKILL, $pid, @kids;
    $status = reap_nginx(0);

    if (!$quiet) {
        warn "$name - nginx $pid did not exit within ${StopTimeout}s "
             . "after SIGQUIT, killed\n";
    }

    return ($status, 1, 0);
}


sub read_file_from ($$) {
    my ($file, $pos) = @_;

    open my $in, '<', $file or return ([], $pos);

    if ($pos > 0) {
        seek $in, $pos, 0;
    }

    my @lines = <$in>;
    my $end = tell $in;
    close $in;

    return (\@lines, $end);
}


sub error_log_data () {
    # give nginx time to write what it logs after closing the connection
    sleep $TestNginxSleep * 3;

    my ($lines, $end) = read_file_from($ErrLogFile,
                                       $CheckAccumErrLog ? 0 : $ErrLogFilePos);

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = $end;
    }

    return $lines;
}


sub access_log_data () {
    sleep $TestNginxSleep * 3;

    my ($lines) = read_file_from($AccLogFile, 0);
    return $lines;
}


sub stderr_data () {
    my ($lines) = read_file_from($StderrFile, 0);
    return join '', @$lines;
}


# Lines of valgrind's own chatter (only printed without -q).
our @ValgrindInfo = (
    'Warning', 'WARNING', 'Memcheck', 'Copyright', 'Using Valgrind',
    'Command:', 'Parent PID', 'HEAP SUMMARY', 'LEAK SUMMARY',
    'in use at exit', 'total heap usage', 'All heap blocks', 'For lists of',
    'For counts of', 'For a detailed leak', 'ERROR SUMMARY: 0 errors',
    'Rerun with', 'To see them', 'Reachable blocks', 'Use --',
    'definitely lost:', 'indirectly lost:', 'possibly lost:',
    'still reachable:', 'suppressed:', 'Searching for pointers', 'checked ',
);


# The first line of each memcheck error report and leak record; the other
# lines of a report are indented further.
sub valgrind_errors ($) {
    my $text = shift;

    my @errors;

  LINE:
    for my $line (split /\n/, $text) {
        next if $line !~ /^==\d+== (\S.*)$/;

        my $msg = $1;

        for my $info (@ValgrindInfo) {
            next LINE if index($msg, $info) == 0;
        }

        next if $msg =~ /are (?:possibly lost|still reachable) in loss record/;

        push @errors, $msg;
    }

    return @errors;
}


END {
    if (defined $NginxPid) {
        if ($NoClean && !$NginxUnderValgrind) {
            undef $NginxPid;

        } else {
            local $?;
            stop_nginx('END', 0);
        }
    }

    for my $hdl (@CleanupHandlers) {
        local $?;
        $hdl->();
    }

    if ($Randomize && -d $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
