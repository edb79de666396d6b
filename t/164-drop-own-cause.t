# A batch given up names its own last failure, not another batch's of its
# project (docs/troubleshooting.md): two events in flight, the first (at
# 0 s) given no answer within mixpanel_timeout (8 s), the second (at 6 s)
# answered 503 with a Retry-After of 11 s just after, at 8.5 s.  The
# 503's pause (11 s plus 1-5 s) ends past the first's
# mixpanel_retry_max_time (20 s), not the second's: the first is given
# up, and its line says it did not answer in time, not "answered 503".  A plain Test::More file driving nginx directly
# (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

dn_emu("faults", JSON::PP::encode_json([
    { delay_ms => 10000, count => 1, path => "/import" },
    { status => 503, retry_after => 11, delay_ms => 2500, count => 1,
      path => "/import" } ]));

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-own;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_concurrency 2;
    mixpanel_timeout 8s;
    mixpanel_retry_max_time 20s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$n->{base}/t")->{status}, 200, "an event: no answer");
Time::HiRes::sleep(6);
is($http->get("$n->{base}/t")->{status}, 200, "another, 6 s later: 503");

ok(dn_wait(10, sub { dn_status($n)->{events_dropped}{retry_expired} == 1 }),
   "the first given up");

my @lines = dn_errlog($n) =~ /mixpanel: (1 events dropped after [^\n]*)/g;
like($lines[0] // "",
     qr/^1 events dropped after 1 attempt in \d+ ms \(mixpanel_retry_max_time 20000 ms\), last failure: "[^"]+" did not answer in time$/,
     "the first: its own failure, no answer in time");

dn_emu("faults", undef, "DELETE");
ok(dn_wait(5, sub { dn_status($n)->{queue_depth} == 1 }),
   "the second waits for the 503's pause");
ok(dn_stop($n), "nginx quits");

done_testing();
