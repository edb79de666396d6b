# A batch completed by a record that comes after the sender took the
# first ones: with mixpanel_batch_size 2 and a long flush interval, a
# first event wakes the thread (it was idle), which takes it; a second
# event 300 ms later completes the batch, and must wake the thread again:
# the batch leaves at once, not when the first event's flush interval
# (10 s) ends.  It did not: the worker woke the thread only when its own
# inbox held a whole batch.  The same with two projects: the lane that
# holds the most records decides, not the last one made.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-take;
    mixpanel_batch_size 2;
    mixpanel_flush_interval 10s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new;

# the thread is idle: the first event wakes it, and it takes it
sleep(0.5);
is($http->get("$n->{base}/t?n=1")->{status}, 200, "a first event");
sleep(0.3);

my $t0 = time;
is($http->get("$n->{base}/t?n=2")->{status}, 200,
   "a second one completes the batch");

ok(dn_wait(5, sub { dn_emu("events?token=tok-take")->{count} == 2 }),
   "the batch of 2 arrived");
cmp_ok(time - $t0, '<', 4, "at once, not after the 10 s flush interval");

my $reqs = dn_emu("requests?path=/import");
is($reqs->{count}, 1, "in one request");

ok(dn_stop($n), "nginx quits");

# two lanes: the one that holds the most records decides when the worker
# wakes the thread, not the last one made.  With batches of 4, tok-a
# holds 3 and tok-b 1 after a take; tok-a's fourth event completes its
# batch and must wake the thread at once.
$n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_batch_size 4;
    mixpanel_flush_interval 10s;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-[ab])$ {
            mixpanel track;
            mixpanel_token $1;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

sleep(0.5);
my $ok = 0;
$ok += $http->get("$n->{base}/$_")->{status} == 200
    for qw(tok-a tok-a tok-a tok-b);
is($ok, 4, "three events of tok-a, one of tok-b");
sleep(0.3);

$t0 = time;
is($http->get("$n->{base}/tok-a")->{status}, 200,
   "tok-a's fourth completes its batch");

ok(dn_wait(5, sub { dn_emu("events?token=tok-a")->{count} == 4 }),
   "tok-a's batch of 4 arrived");
cmp_ok(time - $t0, '<', 4, "at once, not after the 10 s flush interval");

ok(dn_stop($n), "nginx quits");

done_testing();
