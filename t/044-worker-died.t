# Regression: a worker that dies (crash, OOM killer, kill -9) with
# events queued leaves them in queue_depth for ever: the zone's counter is
# never taken back, so the status says N events are held though no live
# worker holds any (queue_oldest_age 0), the events are counted in no
# outcome, and MixpanelQueueNotDraining / MixpanelNoSuccess (the alerts
# docs/delivery.md proposes) fire until nginx restarts.
#
# Expected (SPEC §5): counters "so an operator can alert on drops,
# rejections and a stalled queue"; docs/delivery.md: queue_depth "is what
# the workers hold right now".  The queue of a worker that is gone should
# leave queue_depth (counted as lost/dropped), as queue_capacity already
# leaves out workers that stopped reporting.
#
# Now: a live worker frees the status line of a worker that has not
# reported for 10 s and whose pid is gone, and moves what it held from
# queue_depth to events_dropped.worker_died.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);
dn_emu("faults", '{"status":503,"count":-1}');

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-crash;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(keep_alive => 1);
$http->get("$n->{base}/t?n=$_") for 1 .. 20;

my $s;
ok(dn_wait(10, sub { $s = dn_status($n); $s->{queue_depth} == 20 }),
   "20 events held");

# the worker dies; the master starts another
my $worker = `pgrep -P $n->{pid}`;
chomp $worker;
kill 'KILL', $worker;

dn_emu("faults", undef, "DELETE");

ok(dn_wait(20, sub { $s = dn_status($n); $s->{queue_capacity} > 0 }),
   "a new worker reports");
sleep 12;
$s = dn_status($n);

is($s->{queue_oldest_age}, 0, "no live worker holds an event");
is($s->{queue_depth}, 0, "queue_depth is 0 (got $s->{queue_depth})");
is($s->{events_dropped}{worker_died}, 20,
   "the dead worker's 20 events counted as dropped (worker_died)");
is($s->{events_queued}, 20, "20 queued");
is(dn_balance($s), 0, "the counters balance");

my $prom = HTTP::Tiny->new->get("$n->{base}/status?format=prometheus")
                          ->{content};
like($prom, qr/^nginx_mixpanel_events_dropped_total\{reason="worker_died"\} 20$/m,
     "in Prometheus' format too");

ok(dn_stop($n), "nginx quits");

my @lines = dn_errlog($n) =~ /\[error\].*mixpanel: worker process $worker died holding 20 events, counted as dropped \(worker_died\)$/mg;
is(scalar @lines, 1, "logged once, at error");

done_testing();
