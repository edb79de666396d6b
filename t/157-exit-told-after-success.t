# A project Mixpanel told to wait gets no try at exit (docs/delivery.md),
# also when another of its batches, in flight beside the refused one,
# succeeded after the refusal: two events of one project in flight, the
# first answered 429 with Retry-After 60 s after 0.2 s, the second 200
# after 1 s; then a quit.  The refused event is not sent again during the
# exit: it is dropped at exit, its last failure the 429.  A plain
# Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 4s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-told;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_concurrency 2;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emu("faults", JSON::PP::encode_json([
    { status => 429, retry_after => 60, delay_ms => 200, count => 1,
      path => "/import" },
    { delay_ms => 1000, count => 1, path => "/import" } ]));

my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$n->{base}/t")->{status}, 200, "an event");
is($http->get("$n->{base}/t")->{status}, 200, "another");

ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 1 }),
   "one refused (429), then the other accepted");
is(dn_emu("requests?path=/import")->{count}, 2, "two requests so far");

ok(dn_stop($n), "nginx quits");
Time::HiRes::sleep(0.5);

my $r = dn_emu("requests?path=/import");
is($r->{count}, 2, "no try at exit: Mixpanel said to wait 60 s");

my $log = dn_errlog($n);
like($log, qr/\[error\] [^\n]*mixpanel: 1 events dropped on exit, last failure: "[^"]+" answered 429/,
     "the refused event dropped at exit, for the 429");

done_testing();
