# A lane's backoff starts again from 2 s once a batch gets through
# (docs/delivery.md): after three 503s (waits of 2, 4 and 8 s, each plus
# 1-5 s) and a success, the next failure waits 2 s plus 1-5 s again, not
# the 16 s the lane had come to.  About 40 s.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);
dn_emu("faults", '{"status":503,"count":3,"path":"/import"}');

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-reset;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_property scenario $arg_s;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

sub gaps {
    my @at = map { $_->{received_ms} }
        @{ dn_emu("requests?path=/import")->{requests} };
    return map { ($at[$_] - $at[$_ - 1]) / 1000 } 1 .. $#at;
}

is($http->get("$n->{base}/t?s=outage")->{status}, 200, "an event");
ok(dn_wait(45, sub { dn_emu("events?prop.scenario=outage")->{count} == 1 }),
   "delivered at the fourth attempt");

my @gap = gaps();
is(scalar @gap, 3, "three retries");
my @base = (2, 4, 8);
for my $i (0 .. 2) {
    my $g = $gap[$i] // -1;
    ok($g >= $base[$i] + 0.9 && $g <= $base[$i] + 5.5,
       sprintf("gap %d: %.1f s, %d s plus 1-5 s", $i + 1, $g, $base[$i]));
}

dn_emu("faults", '{"status":503,"count":1,"path":"/import"}');
is($http->get("$n->{base}/t?s=again")->{status}, 200, "another event");
ok(dn_wait(30, sub { dn_emu("events?prop.scenario=again")->{count} == 1 }),
   "delivered at the second attempt");

@gap = gaps();
is(scalar @gap, 5, "one more failure, one more retry");
my $g = $gap[4] // -1;
ok($g >= 2.9 && $g <= 7.5,
   sprintf("the retry after %.1f s: 2 s plus 1-5 s, the backoff started "
           . "again", $g));
ok(dn_wait(5, sub { dn_status($n)->{retries} == 4 }), "4 retries counted");

ok(dn_stop($n), "nginx quits");

done_testing();
