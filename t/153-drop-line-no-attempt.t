# The drop line of a batch never attempted: one made while its lane waits
# a Retry-After that ends past the batch's mixpanel_retry_max_time is
# dropped without an attempt, and its line says "0 attempts in N ms", N
# the time since the batch was made (not since the clock's zero).  The
# line is written at most once a minute: the first drop (a 429 whose
# Retry-After is past the retry time) writes it, a second one 57 s later
# is counted only, and the batch made while that second pause goes on,
# 61.5 s after the first, writes the second line.  About 75 s.

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
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-none;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 2s;
    mixpanel_concurrency 1;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new;

sub expired { dn_status($n)->{events_dropped}{retry_expired} }

dn_emu("faults", '{"status":429,"count":1,"retry_after":5,"path":"/import"}');
is($http->get("$n->{base}/t")->{status}, 200, "a first event");
ok(dn_wait(10, sub { expired() == 1 }),
   "a 429 of 5 s against a retry time of 2 s: dropped at once");
my $t0 = time;

sleep($t0 + 57 - time);
dn_emu("faults", '{"status":429,"count":1,"retry_after":10,"path":"/import"}');
is($http->get("$n->{base}/t")->{status}, 200, "57 s later, a second");
ok(dn_wait(3, sub { expired() == 2 }), "dropped at once too");

sleep($t0 + 61.5 - time);
is($http->get("$n->{base}/t")->{status}, 200,
   "61.5 s after the first, a third, while the lane waits");
ok(dn_wait(20, sub { expired() == 3 }), "dropped, never attempted");
is(dn_emu("requests?path=/import")->{count}, 2,
   "two requests: the third event's batch never went");

ok(dn_stop($n), "nginx quits");

my @lines = dn_errlog($n) =~ /mixpanel: (1 events dropped after [^\n]*)/g;
is(scalar @lines, 2, "two drop lines, a minute apart") or diag(join "\n", @lines);
like($lines[0] // "", qr/^1 events dropped after 1 attempt in \d+ ms/,
     "the first: one attempt");
like($lines[1] // "", qr/^1 events dropped after 0 attempts in (\d+) ms/,
     "the second: no attempt");
my ($ms) = ($lines[1] // "") =~ / in (\d+) ms/;
cmp_ok($ms // -1, '>=', 0, "the time since the batch was made");
cmp_ok($ms // 1e12, '<', 15000, "at most the wait for the pause, not more");

done_testing();
