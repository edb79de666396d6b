# The retry schedule of a failing lane (docs/delivery.md): 2 s doubling
# to 60 s at most, plus 1-5 s of jitter each time.  Mixpanel answers 503
# (no Retry-After) to every /import: the gaps between one batch's eight
# attempts are 2, 4, 8, 16, 32, 60 and 60 s, each plus 1-5 s; without the
# cap the last two would be 64 and 128 s.  Delivery failures are logged
# at most once a minute per reason: of the eight 503s, the first, the
# sixth, the seventh and the eighth (the only ones 60 s or more after the
# last line).  Meanwhile another project's token is refused once (401):
# its lane waits 60 s plus 1-5 s ("retried slowly"), logs it once
# although a 503 was just logged, and delivers at the retry.  About 3.5
# minutes.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);
dn_emu("faults",
       '{"status":401,"count":1,"path":"/import","token":"tok-auth"}');
dn_emu("faults",
       '{"status":503,"count":-1,"path":"/import","token":"tok-backoff"}');

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
        location = /auth {
            mixpanel track;
            mixpanel_token tok-auth;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "one event");
is(HTTP::Tiny->new->get("$n->{base}/auth")->{status}, 200,
   "one event of the refused token");

my @at;
ok(dn_wait(260, sub {
       @at = map { $_->{received_ms} }
           @{ dn_emu("requests?path=/import&status=503")->{requests} };
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

# one line a minute: an attempt is logged when the last line is 60 s old
my ($last, $lines) = (undef, 0);
for my $t (@at) {
    next if defined $last && $t - $last < 60000;
    ($last, $lines) = ($t, $lines + 1);
}
is($lines, 4, "the 503s logged: the first, sixth, seventh and eighth");
# the worker writes the sender's lines a moment after the answer
my ($log, @warn);
dn_wait(5, sub {
    $log = dn_errlog($n);
    @warn = $log =~ /\[warn\] [^\n]*mixpanel: "[^"\n]*" answered 503, will/g;
    @warn >= $lines });
sleep(1);
$log = dn_errlog($n);
@warn = $log =~ /\[warn\] [^\n]*mixpanel: "[^"\n]*" answered 503, will/g;
is(scalar @warn, $lines, "one line a minute for the eight 503s")
    or diag(join("\n", @warn));

my $refused = dn_emu("requests?path=/import&status=401")->{requests};
my $taken = dn_emu("requests?path=/import&status=200")->{requests};
is(scalar @$refused, 1, "the other token refused once");
is(scalar @$taken, 1, "and taken at its one retry");
my $wait = @$refused && @$taken
    ? ($taken->[0]{received_ms} - $refused->[0]{received_ms}) / 1000 : -1;
ok($wait >= 60.9 && $wait <= 65.5,
   sprintf("the refused lane retried after %.1f s, 60 s plus 1-5 s", $wait));
my @auth = $log
    =~ /\[error\] [^\n]*mixpanel: "[^"\n]*" refused the credentials \(401\)/g;
is(scalar @auth, 1, "the refusal logged once, besides the 503s' line");
is(dn_emu("events?token=tok-auth")->{count}, 1, "its event delivered");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");
is(dn_emu("events?token=tok-backoff")->{count}, 1,
   "the event delivered at the quit, once Mixpanel answers");

done_testing();
