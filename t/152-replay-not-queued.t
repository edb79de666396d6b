# A replayed spool file is no queued event: while its batch is in flight
# (Mixpanel slow to answer), queue_depth and queue_oldest_age stay 0, in
# JSON and in Prometheus' format; the live event sent meanwhile is the
# one they count.  Two live batches in flight: the age is the older's.
# A plain Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

# the replay's request hangs; a live event's batch is answered
dn_emu("faults", JSON::PP::encode_json([
    { hang => JSON::PP::true, count => 1, path => "/import" } ]));

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_",
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-r;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_flush_interval 1h;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_
                 before => dn_spool_file(dn_spool_section("tok-r", 2)));

ok(dn_wait(15, sub { dn_emu("requests?path=/import")->{count} >= 1 }),
   "the spool file's batch is in flight");
sleep(3.2);

my $s = dn_status($n);
is($s->{queue_depth}, 0, "replayed events are not queued");
is($s->{queue_oldest_age}, 0, "nor their age the oldest queued event's");

my $text = HTTP::Tiny->new->get("$n->{base}/status?format=prometheus")
           ->{content} // "";
like($text, qr/^nginx_mixpanel_queue_oldest_age_seconds 0$/m,
     "the same in Prometheus' format");

# the positive control: a live event held (a flush interval of an hour)
is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "a live event");
Time::HiRes::sleep(2.5);
$s = dn_status($n);
is($s->{queue_depth}, 1, "it is queued");

# about 2.5 s, in whole seconds from the worker's last report (once a
# second): 1 to 4; the replay's records, were they counted, are from the
# machine's start (round 25's bug)
cmp_ok($s->{queue_oldest_age}, '>=', 1, "its age is the oldest, 2.5 s");
cmp_ok($s->{queue_oldest_age}, '<=', 4, "not the replay's");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

# live batches in flight: the oldest of them, not the last slot's.  Two
# at once, each of one event, both hanging: the first 4.5 s older.
dn_emu("reset", "{}");
dn_emu("faults", JSON::PP::encode_json([
    { hang => JSON::PP::true, count => -1, path => "/import" } ]));

$n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-r;
    mixpanel_flush_interval 50ms;
    mixpanel_batch_size 1;
    mixpanel_concurrency 2;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "in flight: one");
ok(dn_wait(10, sub { dn_emu("requests?path=/import")->{count} >= 1 }),
   "its batch hangs");
Time::HiRes::sleep(4.5);
is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "4.5 s later, another");
ok(dn_wait(10, sub { dn_emu("requests?path=/import")->{count} >= 2 }),
   "its batch hangs beside the first");
Time::HiRes::sleep(1.5);
$s = dn_status($n);
is($s->{queue_depth}, 2, "two events in flight");
cmp_ok($s->{queue_oldest_age}, '>=', 4, "the oldest age is the first's");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
