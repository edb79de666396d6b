# nginx -s reload with events queued and Mixpanel failing: the old workers
# exit within their deadline, spool what they hold, and the new workers
# send it once Mixpanel recovers, each event once.  A plain Test::More
# file: it drives the master with signals, which Test::Nginx blocks don't.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use t::Mixpanel;

start_emulator("--identity", "original");

my $nginx = start_nginx(dirs => ["spool"], conf => <<"_EOC_");
worker_processes 2;
worker_shutdown_timeout 2s;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    mixpanel_api http://127.0.0.1:$ENV{TEST_NGINX_EMULATOR_PORT};
    mixpanel_token tok-reload;
    mixpanel_flush_interval 100ms;
    mixpanel_timeout 1s;
    mixpanel_spool %PREFIX%/spool;

    server {
        listen 127.0.0.1:%PORT%;

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

my ($pid, $prefix) = ($nginx->{pid}, $nginx->{prefix});
my $http = HTTP::Tiny->new(timeout => 10);
my $base = $nginx->{base};

sub error_log {
    open my $l, '<', "$prefix/logs/error.log" or return "";
    local $/;
    return <$l>;
}

ok(wait_until(10, sub { $http->get("$base/status")->{success} }),
   "nginx answers");

emulator("faults", '{"status":503,"count":-1,"path":"/import"}');

for my $i (1 .. 10) {
    my $res = $http->get("$base/t?s=reload&n=$i");
    is($res->{status}, 200, "request $i answered while Mixpanel fails");
}

sleep 0.5;

my $t0 = time;
kill 'HUP', $pid;

ok(wait_until(10, sub {
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

ok(wait_until(10, sub {
       opendir my $d, "$prefix/spool" or return 0;
       my @left = grep { /^mp-/ } readdir $d;
       !@left;
   }), "the spool is empty again");

my $log = error_log();
unlike($log, qr/\[alert\]/, "no [alert]");
unlike($log, qr/exited on signal/, "no worker crashed");

ok(stop_nginx($nginx), "nginx quits");

done_testing();
