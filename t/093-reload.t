# nginx -s reload with events queued and Mixpanel failing: the old workers
# exit within their deadline, spool what they hold, and the new workers
# send it once Mixpanel recovers, each event once.  A plain Test::More
# file: it drives the master with signals, which Test::Nginx blocks don't.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ":sys_wait_h";
use Time::HiRes qw(sleep time);
use t::Mixpanel;

my $binary = $ENV{TEST_NGINX_BINARY} || "nginx";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "");

start_emulator("--identity", "original");
my $emu = $ENV{TEST_NGINX_EMULATOR_PORT};

my $prefix = tempdir(CLEANUP => !$ENV{KEEP});
mkdir "$prefix/$_" for qw(conf logs spool);

# the workers run as nobody: they must reach the spool nginx creates
chmod 0755, $prefix;

my $probe = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                  LocalPort => 0, ReuseAddr => 1) or die;
my $port = $probe->sockport;
close $probe;

my $load = join "", map { "load_module $_;\n" } @modules;

open my $fh, '>', "$prefix/conf/nginx.conf" or die $!;
print $fh <<"_EOC_";
$load
daemon off;
master_process on;
worker_processes 2;
worker_shutdown_timeout 2s;
error_log logs/error.log info;
pid logs/nginx.pid;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api http://127.0.0.1:$emu;
    mixpanel_token tok-reload;
    mixpanel_flush_interval 100ms;
    mixpanel_timeout 1s;
    mixpanel_spool $prefix/spool;

    server {
        listen 127.0.0.1:$port;

        location = /t {
            mixpanel track;
            mixpanel_property scenario \$arg_s;
            return 200 "ok\\n";
        }

        location = /status {
            mixpanel_status;
        }
    }
}
_EOC_
close $fh;

my $pid = fork();
die "fork: $!" unless defined $pid;

if ($pid == 0) {
    open STDERR, '>', "$prefix/logs/stderr.log";
    exec $binary, "-p", "$prefix/", "-c", "conf/nginx.conf";
    die "exec: $!";
}

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";

sub wait_until {
    my ($what, $timeout, $cond) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.1;
    }
    return 0;
}

sub error_log {
    open my $l, '<', "$prefix/logs/error.log" or return "";
    local $/;
    return <$l>;
}

ok(wait_until("nginx", 10, sub { $http->get("$base/status")->{success} }),
   "nginx answers");

emulator("faults", '{"status":503,"count":-1,"path":"/import"}');

for my $i (1 .. 10) {
    my $res = $http->get("$base/t?s=reload&n=$i");
    is($res->{status}, 200, "request $i answered while Mixpanel fails");
}

sleep 0.5;

my $t0 = time;
kill 'HUP', $pid;

ok(wait_until("old workers", 10, sub {
       my @exited = error_log() =~ /worker process \d+ exited with code 0/g;
       @exited >= 2;
   }), "both old workers exited");

my $took = time - $t0;
cmp_ok($took, '<', 5, sprintf("within the deadline (%.1f s)", $took));

like(error_log(), qr/events spooled to "[^"]+" on exit/,
     "the old workers spooled what they held");

emulator("faults/clear", "{}");

my $res = $http->get("$base/t?s=live");
is($res->{status}, 200, "a live request after recovery");

my $events = emulator("events?prop.scenario=reload&wait_for=10&timeout=40");
is($events->{count}, 10, "every spooled event arrived");

my %seen;
$seen{ $_->{insert_id} }++ for @{ $events->{events} };
is(scalar(grep { $seen{$_} > 1 } keys %seen), 0, "none twice");

ok(wait_until("spool", 10, sub {
       opendir my $d, "$prefix/spool" or return 0;
       my @left = grep { /^mp-/ } readdir $d;
       !@left;
   }), "the spool is empty again");

my $log = error_log();
unlike($log, qr/\[alert\]/, "no [alert]");
unlike($log, qr/exited on signal/, "no worker crashed");

kill 'QUIT', $pid;

my $gone = wait_until("exit", 10, sub { waitpid($pid, WNOHANG) == $pid });
ok($gone, "nginx quits");
kill 'KILL', $pid unless $gone;

done_testing();
