# A kept-alive connection to Mixpanel that dies with a batch on it: the
# receiver read the request and closed without an answer.  libcurl sends
# the batch again at once on a new connection (a reused connection that
# dies before any answer is retried by libcurl itself), for which it
# rewinds the upload to its start through the module's seek callback:
# the batch is delivered once, without a retry counted or a backoff.
# Refusing that rewind (an off-by-one at offset 0) made the batch fail
# and wait for the retry's backoff.  The control: the second batch's
# first request did reach the receiver on the first connection.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-rewind;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new;

is($http->get("$n->{base}/t?n=1")->{status}, 200, "a first event");
ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 1 }),
   "sent: the connection is open and kept alive");
is(dn_emu("concurrency")->{connections}, 1, "one connection so far");

dn_emu("faults", JSON::PP::encode_json({ close => JSON::PP::true,
                                         count => 1, path => "/import" }));

is($http->get("$n->{base}/t?n=2")->{status}, 200, "a second event");
ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 2 }), "sent too");

my $s = dn_status($n);
is($s->{retries}, 0, "libcurl sent it again itself: no retry counted");
is($s->{batches_sent}, 2, "two batches");

my $reqs = dn_emu("requests?path=/import")->{requests};
is(scalar @$reqs, 3, "three requests reached the receiver");
is_deeply([map { $_->{status} } @$reqs], [200, undef, 200],
          "the second closed without an answer, the third answered");
is(dn_emu("concurrency")->{connections}, 2,
   "on two connections: the first kept alive for the closed one, a new "
   . "one for the third");
is_deeply([map { $_->{body} } @$reqs[1, 2]], [$reqs->[1]{body},
                                              $reqs->[1]{body}],
          "the same batch, whole, both times");

my $events = dn_emu("events?token=tok-rewind");
is($events->{count}, 2, "both events stored, once each");

ok(dn_stop($n), "nginx quits");

done_testing();
