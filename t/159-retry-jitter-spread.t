# The retries' jitter spreads them over 1 to 5 s (docs/delivery.md), so
# that workers and servers do not all come back at once: twelve projects
# refused at the same moment (a 503 each) come back over more than a
# second, each 2 s of backoff and 1 to 5 s of jitter after its refusal.
# Twelve draws of a spread of 4 s all fall within one second once in
# about half a million runs; a jitter of 0.4 s never spreads them so.
# A plain Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my @tokens = map { "tok-j$_" } 1 .. 12;

dn_emulator($port + 2);

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-j\\d+)\$ {
            mixpanel track;
            mixpanel_token \$1;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emu("faults", JSON::PP::encode_json([
    { status => 503, count => scalar @tokens, path => "/import" } ]));

my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$n->{base}/$_")->{status}, 200, "$_: an event") for @tokens;

ok(dn_wait(20, sub { dn_status($n)->{events_sent} == @tokens }),
   "each refused once, then delivered");

my (%first, %retry);
for my $r (@{ dn_emu("requests?path=/import")->{requests} }) {
    my $t = $r->{records}[0]{properties}{token} // next;
    if (($r->{status} // 0) == 503) {
        $first{$t} //= $r->{received_ms};
    } elsif (($r->{status} // 0) == 200) {
        $retry{$t} //= $r->{received_ms};
    }
}

my @waits = map { ($retry{$_} // 0) - ($first{$_} // 0) } @tokens;
my ($min, $max) = (sort { $a <=> $b } @waits)[0, -1];
cmp_ok($min, '>=', 2900, "each retry after 2 s and 1 s of jitter at least");
cmp_ok($max, '<=', 7500, "and within 2 + 5 s");
my @at = sort { $a <=> $b } map { $retry{$_} // 0 } @tokens;
cmp_ok($at[-1] - $at[0], '>', 1000,
       "the twelve retries spread over more than a second "
       . "(" . ($at[-1] - $at[0]) . " ms)");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
