# Regression: an answer that is neither 200 nor a 4xx/5xx — a redirect
# (301/302/307/308: "http://" where the server wants "https://", a moved
# relay or proxy), 202 or 204 from a relay in front of Mixpanel — makes
# the module count the whole batch as rejected ("Mixpanel refused it as
# invalid") and drop it: data lost for good on a transient or
# configuration problem, and the events_rejected alert blames the events.
#
# Expected (SPEC §5 and docs/delivery.md "Answers and what the sender
# does"): only "a 4xx other than 401/403/413/429" is rejected; 5xx,
# timeouts and connection errors are retried.  A 3xx is not a refusal of
# the data (libcurl does not follow it: CURLOPT_FOLLOWLOCATION is off, and
# a 307/308 to https would carry the Basic credentials elsewhere), so it
# should be retried (and logged as a configuration error), as a 401 is.
#
# Now: a 3xx is logged at error (check mixpanel_api) and retried with the
# lane's backoff; any 2xx is an acceptance, as a 200 (a relay took the
# batch), never retried.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $conf = <<'_EOC_';
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-3xx;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $n = dn_nginx(port => $port, conf => $conf);
my $http = HTTP::Tiny->new(keep_alive => 1);
my $sent = 0;
my $s;

for my $status (301, 302, 307, 308) {
    dn_emu("faults", qq({"status":$status,"count":1,"path":"/import"}));
    $http->get("$n->{base}/t?status=$status");
    $sent++;
    dn_wait(20, sub { $s = dn_status($n);
                      $s->{events_sent} + $s->{events_rejected} >= $sent });
    is($s->{events_rejected}, 0, "$status: the event is not rejected");
    is($s->{events_sent}, $sent, "$status: sent on the retry");
    $sent = $s->{events_sent} + $s->{events_rejected};
}

is($s->{retries}, 4, "each redirected batch was retried once");

my $stored = dn_emu("events?wait_for=4&timeout=15");
is($stored->{count}, 4, "all 4 events reached Mixpanel in the end");

# a 2xx other than 200 (a relay in front of Mixpanel) is an acceptance:
# counted as sent at once, never retried
for my $status (202, 204) {
    dn_emu("faults", qq({"status":$status,"count":1,"path":"/import",)
                     . qq("body":""}));
    $http->get("$n->{base}/t?status=$status");
    $sent++;
    dn_wait(20, sub { $s = dn_status($n); $s->{events_sent} >= $sent });
    is($s->{events_sent}, $sent, "$status: counted as sent");
}

sleep 2;
$s = dn_status($n);
is($s->{events_rejected}, 0, "nothing rejected");
is($s->{retries}, 4, "a 2xx is not retried");
is($s->{queue_depth}, 0, "nothing held");
is(dn_balance($s), 0, "the counters balance");
is(scalar @{ dn_emu("requests?path=/import")->{requests} }, 10,
   "10 requests: 4 redirected, 4 retries, 2 accepted by the relay");

ok(dn_stop($n), "nginx quits");

my $log = dn_errlog($n);
my @redirect = $log =~ /\[error\].*mixpanel: "http:\S+" answered 30\d, a redirect with no Location, check mixpanel_api; will retry/g;
is(scalar @redirect, 1, "the redirect logged once, at error (rate-limited)");

# a redirect with a Location is logged with its target, the token masked
# (a relay may have put it in the URL); on a second nginx, the first one
# having logged its once a minute
$n = dn_nginx(port => $port, conf => $conf);
dn_emu("faults", qq({"status":307,"count":1,"path":"/import",)
                 . qq("location":"https://relay.example/import?t=tok-3xx&x=1"}));
is(HTTP::Tiny->new->get("$n->{base}/t?status=307")->{status}, 200,
   "a request whose batch is redirected with a Location");
ok(dn_wait(20, sub { $s = dn_status($n); $s->{events_sent} >= 1 }),
   "sent on the retry");
ok(dn_stop($n), "the second nginx quits");

$log = dn_errlog($n);
like($log, qr{\[error\].*mixpanel: "http:\S+" answered 307, a redirect to "https://relay\.example/import\?t=\[token\]&x=1", check mixpanel_api; will retry},
     "the redirect logged with its target, the token masked");
unlike($log, qr/tok-3xx/, "the token is nowhere in the log");

done_testing();
