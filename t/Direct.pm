package t::Direct;

# Helpers of the plain-Perl files that drive nginx directly (t/032-034,
# t/043, t/044, t/106, t/107, t/109-t/118, t/120-t/127, t/129-t/164):
# an emulator and an nginx as direct children on fixed ports
# (TEST_NGINX_SERVER_PORT, default 2500, and the next ones), driven with
# signals, and the status' counters.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use HTTP::Tiny;
use JSON::PP ();
use POSIX ":sys_wait_h";
use Time::HiRes ();

our @EXPORT = qw(dn_emulator dn_emu dn_nginx dn_signal dn_status dn_wait
                 dn_balance dn_stop dn_errlog dn_spool_section
                 dn_spool_file dn_identifies dn_device_req dn_worker_cpu
                 dn_workers);

our (@Pids, $EmuPort);

# A test killed with TERM, INT or HUP (prove interrupted, a runner's
# timeout) still runs the END below: the nginx it started is in a group of
# its own, out of reach of a signal to the test's group.
$SIG{$_} = sub { exit 1 } for grep { !defined $SIG{$_} } qw(TERM INT HUP);

sub dn_wait {
    my ($timeout, $cond) = @_;
    my $end = Time::HiRes::time() + $timeout;
    while (Time::HiRes::time() < $end) {
        return 1 if $cond->();
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

sub dn_emulator {
    my ($port, @args) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/stdout";
        open STDERR, '>', "$dir/stderr";
        exec "python3", "tools/mixpanel-emulator", "serve", "--listen",
             "127.0.0.1:$port", "--db", "$dir/db", @args;
        die "exec: $!";
    }
    push @Pids, [$pid, 'TERM'];
    $EmuPort = $port;
    dn_wait(10, sub { eval { dn_emu("health") } }) or die "no emulator";
    return $port;
}

sub dn_emu {
    my ($path, $body, $method) = @_;
    my $http = HTTP::Tiny->new(timeout => 60);
    my $url = "http://127.0.0.1:$EmuPort/_emulator/$path";
    my $res = $http->request($method // (defined $body ? "POST" : "GET"),
                             $url, defined $body
                             ? { content => $body, headers =>
                                 { "Content-Type" => "application/json" } }
                             : {});
    die "emulator $path: $res->{status} $res->{content}"
        unless $res->{success};
    return JSON::PP::decode_json($res->{content});
}

# nginx as a direct child: daemon off, master on unless master => 0
sub dn_nginx {
    my (%o) = @_;
    my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
    my $prefix = File::Temp::tempdir(CLEANUP => !$ENV{KEEP});
    mkdir "$prefix/$_" for "conf", "logs", @{ $o{dirs} // [] };
    chmod 0755, $prefix;
    my $conf = join("", map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // ""))
               . "daemon off;\nmaster_process "
               . (($o{master} // 1) ? "on" : "off")
               . ";\npid logs/nginx.pid;\nerror_log logs/error.log info;\n"
               . $o{conf};
    $conf =~ s/%PREFIX%/$prefix/g;
    $conf =~ s/%PORT%/$o{port}/g;
    $conf =~ s/%EMU%/$EmuPort/g;
    $o{before}->($prefix) if $o{before};
    open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        # a group of its own: a test that dies kills the workers too, else
        # an orphaned worker keeps the port and prove's pipe open
        setpgrp(0, 0);
        open STDOUT, '>', "$prefix/logs/stdout.log";
        open STDERR, '>', "$prefix/logs/stderr.log";
        exec $binary, "-p", "$prefix/", "-c", "conf/nginx.conf";
        die "exec: $!";
    }
    push @Pids, [$pid, 'KILL'];
    my $n = { pid => $pid, prefix => $prefix, port => $o{port},
              base => "http://127.0.0.1:$o{port}" };
    dn_wait(10, sub { HTTP::Tiny->new(timeout => 2)
                          ->get("$n->{base}/status")->{success} })
        or die "nginx did not start: " . dn_errlog($n);
    return $n;
}

sub dn_errlog {
    my ($n) = @_;
    open my $l, '<', "$n->{prefix}/logs/error.log" or return "";
    local $/;
    return <$l>;
}

sub dn_signal { kill $_[1], $_[0]->{pid} }

sub dn_status {
    my ($n) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)->get("$n->{base}/status");
    return $r->{success} ? JSON::PP::decode_json($r->{content}) : undef;
}

# The text of a spool file's section as the module writes it: n events
# "Spooled" of a token, a minute old, each with its own $insert_id (one
# counter for the whole test file, so that no two sections share one).
our ($SpoolTime, $SpoolId) = (int(Time::HiRes::time() * 1000) - 60000, 0);

sub dn_spool_section {
    my ($token, $n) = @_;
    my $s = "{\"kind\":\"import\",\"token\":\"$token\",\"count\":$n,"
            . "\"time\":" . int($SpoolTime / 1000) . "}\n";
    for (1 .. $n) {
        my $id = ++$SpoolId;
        $s .= "{\"event\":\"Spooled\",\"properties\":{\"token\":"
              . "\"$token\",\"time\":" . ($SpoolTime + $id)
              . ",\"distinct_id\":\"d$id\",\"\$insert_id\":\""
              . sprintf("%032x", $id) . "\"}}\n";
    }
    return $s;
}

# the $identify calls the emulator took for a project (their number, in
# scalar context)
sub dn_identifies {
    my ($token) = @_;
    return grep { $_->{op} eq '$identify' }
        @{ dn_emu("identity?token=$token")->{identity} };
}

# a request with a device cookie (and an account, X-Account): its status
# and the device cookie after it, the one it set or else the one it sent
sub dn_device_req {
    my ($n, $method, $path, $cookie, $account) = @_;
    my $res = HTTP::Tiny->new(timeout => 10)->request(
        $method, "$n->{base}$path",
        { headers => { Cookie => "mp_device_id=$cookie",
                       "X-Account" => $account } });
    my $c = $res->{headers}{"set-cookie"} // "";
    $c = join "\n", @$c if ref $c;
    return ($res->{status}, $c =~ /mp_device_id=([^;]+)/ ? $1 : $cookie);
}

# dn_nginx's "before": one spool file, mp-1-1-0.json, of that text, before
# the start (mode: the file's, if given), in a directory anyone may write
sub dn_spool_file {
    my ($text, $mode) = @_;
    return sub {
        my ($prefix) = @_;
        my $f = "$prefix/spool/mp-1-1-0.json";
        open my $fh, '>', $f or die "$f: $!";
        print $fh $text;
        close $fh;
        chmod $mode, $f if defined $mode;
        chmod 0777, "$prefix/spool";
    };
}

# nginx's workers: [pid, the fields of /proc/PID/stat after the command]
sub dn_workers {
    my ($n) = @_;
    my @w;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $f, '<', $stat or next;
        my $line = <$f> // next;
        my ($pid) = $stat =~ m{(\d+)/stat$};
        $line =~ s/^.*\) //;
        my @f = split ' ', $line;
        push @w, [$pid, \@f] if $f[1] == $n->{pid};
    }
    return @w;
}

# the CPU time (user + system, in seconds) nginx's workers used over the
# next $secs seconds (or while the code $secs runs): an idle sender waits,
# it does not spin
sub dn_worker_cpu {
    my ($n, $secs) = @_;
    my $cpu = sub {
        my $t = 0;
        $t += $_->[11] + $_->[12] for map { $_->[1] } dn_workers($n);
        return $t;
    };
    my $before = $cpu->();
    ref $secs ? $secs->() : Time::HiRes::sleep($secs);
    return ($cpu->() - $before) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# events_queued - (sent + rejected + dropped + spooled + queue_depth)
sub dn_balance {
    my ($s) = @_;
    my $d = $s->{events_dropped};
    return $s->{events_queued} - ($s->{events_sent} + $s->{events_rejected}
           + $d->{retry_expired} + $d->{shutdown} + $d->{worker_died}
           + $d->{memory} + $s->{events_spooled}
           + $s->{queue_depth});
}

sub dn_stop {
    my ($n, $sig, $timeout) = @_;
    kill $sig // 'QUIT', $n->{pid};
    my $gone = dn_wait($timeout // 15, sub {
        waitpid($n->{pid}, WNOHANG) == $n->{pid} });
    kill 'KILL', -$n->{pid} unless $gone;
    waitpid($n->{pid}, 0) unless $gone;
    @Pids = grep { $_->[0] != $n->{pid} } @Pids;
    return $gone;
}

END {
    for (@Pids) {
        kill $_->[1], $_->[1] eq 'KILL' ? -$_->[0] : $_->[0];
        waitpid $_->[0], 0;
    }
}

1;
