# The retry schedule of a failing lane (docs/delivery.md): 2 s doubling
# to 60 s at most, plus 1-5 s of jitter each time.  Mixpanel answers 503
# (no Retry-After) to every /import: the gaps between one batch's eight
# attempts are 2, 4, 8, 16, 32, 60 and 60 s, each plus 1-5 s; without the
# cap the last two would be 64 and 128 s.  About 3.5 minutes.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);
dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-backoff;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "one event");

my @at;
ok(dn_wait(260, sub {
       @at = map { $_->{received_ms} }
           @{ dn_emu("requests?path=/import")->{requests} };
       @at >= 8 }), "eight attempts within 260 s")
    or diag("attempts at " . join(", ", map { $_ - $at[0] } @at) . " ms");

my @gap = map { ($at[$_] - $at[$_ - 1]) / 1000 } 1 .. $#at;
my @base = (2, 4, 8, 16, 32, 60, 60);

for my $i (0 .. 6) {
    my $g = $gap[$i] // -1;
    ok($g >= $base[$i] + 0.9 && $g <= $base[$i] + 5.5,
       sprintf("gap %d: %.1f s, %d s plus 1-5 s", $i + 1, $g, $base[$i]));
}

is(dn_status($n)->{events_dropped}{retry_expired}, 0,
   "nothing dropped (mixpanel_retry_max_time 10m)");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");
is(dn_emu("events?token=tok-backoff")->{count}, 1,
   "the event delivered at the quit, once Mixpanel answers");

done_testing();
