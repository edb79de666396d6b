# The defaults of the sender and the zone, by their effect, in
# configurations that do not set them (docs/directives.md):
# mixpanel_batch_size 2000 (2001 events: a request of 2000 at once, the
# last one at the quit), mixpanel_queue_size 50000 (queue_capacity),
# mixpanel_flush_interval 1s (a lone event leaves a second after it came),
# mixpanel_timeout 10s (an answer 10.5 s late is given up and the batch
# retried; one 9 s late is taken), mixpanel_zone 4m (28000 device bindings
# are all kept: the oldest devices come back without a new $identify).
# mixpanel_retry_max_time 10m: t/131; mixpanel_concurrency 8: t/098
# TEST 4b; mixpanel_json_max_size 64k: t/013 TEST 17a; mixpanel_gzip on:
# t/030 TEST 4.  A plain Test::More file (about a minute).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);

sub imports { @{ dn_emu("requests?path=/import")->{requests} } }

# mixpanel_batch_size and mixpanel_queue_size: the flush interval is long,
# so that only the batch's size cuts it
my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-batch;
    mixpanel_flush_interval 1h;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

is(dn_status($n)->{queue_capacity}, 50000, "queue_capacity: 50000");

my $ok = 0;
$ok += $http->get("$n->{base}/t")->{status} == 200 for 1 .. 2001;
is($ok, 2001, "2001 events");

my @r;
ok(dn_wait(30, sub { @r = imports(); @r >= 1 }), "a batch leaves at once");
is(scalar @{ $r[0]{records} // [] }, 2000, "of 2000 events");
is(dn_status($n)->{queue_depth}, 1, "one event left for the flush");
ok(dn_stop($n), "nginx quits");
@r = imports();
is(scalar @r, 2, "the last event sent at the quit");
is(scalar @{ $r[1]{records} // [] }, 1, "alone");
is(dn_emu("events?token=tok-batch")->{count}, 2001, "every event once");

# mixpanel_flush_interval, mixpanel_timeout and mixpanel_zone as they come
dn_emu("reset", "");

$n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-defaults;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_property scenario $arg_s;
            return 200 "ok\n";
        }
        location = /id {
            mixpanel track;
            mixpanel_device_id $http_x_device_id;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $t0 = time();
is($http->get("$n->{base}/t?s=flush")->{status}, 200, "a lone event");
ok(dn_wait(10, sub { @r = imports(); @r >= 1 }), "sent");
my $after = @r ? $r[0]{received_ms} / 1000 - $t0 : -1;
ok($after >= 0.95 && $after <= 1.45,
   sprintf("%.2f s after it came: a second", $after));

# an answer 10.5 s late: given up at 10 s, retried 2 s plus 1-5 s later
dn_emu("faults", '{"delay_ms":10500,"count":1,"path":"/import"}');
$t0 = time();
is($http->get("$n->{base}/t?s=late")->{status}, 200, "an event");
ok(dn_wait(30, sub { dn_emu("events?prop.scenario=late")->{count} == 1
                     && imports() >= 3 }), "delivered");
@r = imports();
is(scalar @r, 3, "in two attempts");
$after = @r == 3 ? $r[2]{received_ms} / 1000 - $t0 : -1;
ok($after >= 13.9 && $after <= 18.8,
   sprintf("the second %.1f s after the event: 1 s of flush, 10 s of "
           . "timeout, 3-7 s of backoff", $after));
ok(dn_wait(5, sub { dn_status($n)->{retries} == 1 }), "one retry counted");

# an answer 9 s late is taken
dn_emu("faults", '{"delay_ms":9000,"count":1,"path":"/import"}');
is($http->get("$n->{base}/t?s=slow")->{status}, 200, "an event");
ok(dn_wait(20, sub { dn_emu("events?prop.scenario=slow")->{count} == 1 }),
   "delivered");
is(scalar(imports()), 4, "at the first attempt");
ok(dn_wait(5, sub { dn_status($n)->{batches_sent} == 3 }), "counted");
is(dn_status($n)->{retries}, 1, "no retry");

ok(dn_stop($n), "nginx quits");

# mixpanel_zone: 28000 devices, each bound to its account (4m holds about
# 32000 bindings, 3m about 24000); then the oldest ones again: still
# bound, nothing more to identify.  Written to a file: faster.
$n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api file:%PREFIX%/logs/sink.jsonl;
    mixpanel_token tok-zone;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /id {
            mixpanel track;
            mixpanel_device_id $http_x_device_id;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

sub dev { sprintf("%08x-0000-4000-8000-%012x", $_[0], $_[0]) }

sub id {
    my ($i) = @_;
    return $http->get("$n->{base}/id", { headers => {
        "X-Device-Id" => dev($i), "X-Account" => "acc-$i" } })->{status};
}

my $N = 28000;
$ok = 0;
$ok += id($_) == 200 for 1 .. $N;
is($ok, $N, "$N devices");
ok(dn_wait(30, sub { dn_status($n)->{identify_sent} == $N }),
   "$N \$identify");
$ok = 0;
$ok += id($_) == 200 for 1 .. 50;
is($ok, 50, "the 50 oldest again");
ok(dn_wait(30, sub { dn_status($n)->{events_sent} == 2 * $N + 50 }),
   "their events sent");
is(dn_status($n)->{identify_sent}, $N, "and no \$identify: kept");

ok(dn_stop($n), "nginx quits");

done_testing();
