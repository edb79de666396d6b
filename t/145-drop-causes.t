# The line of events dropped after mixpanel_retry_max_time names the last
# failure by its kind (docs/troubleshooting.md): an answer that never
# comes, a host name that does not resolve, a connection closed with no
# answer, a redirect, a file sink that cannot be written; and at exit, a
# request still in flight.  t/120 has "could not connect", t/098 a 401,
# t/031 a 503.  One nginx per cause (mixpanel_api takes one URL).
# A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $emu = "http://127.0.0.1:" . ($port + 1);

sub conf {
    my ($api, $more) = @_;

    return <<"_EOC_";
worker_processes 1;
worker_shutdown_timeout 2s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api $api;
    mixpanel_token tok-cause;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1s;
$more
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_
}

# one event, dropped once its retry time is spent: the cause logged
sub cause {
    my ($name, $api, $fault, $more) = @_;

    dn_emu("faults", undef, "DELETE");
    dn_emu("faults", $fault) if $fault;

    my $n = dn_nginx(port => $port, conf => conf($api, $more // ""));

    is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200,
       "$name: an event");

    my $s;
    ok(dn_wait(40, sub { $s = dn_status($n);
                         $s->{events_dropped}{retry_expired} == 1 }),
       "$name: dropped after the retry time");

    my $cause;
    dn_wait(10, sub {
        ($cause) = dn_errlog($n)
            =~ /\[error\].*mixpanel: 1 events dropped after \d+ attempts? in \d+ ms \(mixpanel_retry_max_time 1000 ms\), last failure: (.*)$/m;
        defined $cause });

    dn_emu("faults", undef, "DELETE");
    ok(dn_stop($n), "$name: nginx quits");

    return $cause // "(no line)";
}

is(cause("hang", $emu, '{"hang":true,"count":-1,"path":"/import"}',
         "    mixpanel_timeout 1s;"),
   "\"$emu\" did not answer in time",
   "an answer that never came: did not answer in time");

is(cause("resolve", "http://no-such-host.invalid", undef,
         "    mixpanel_timeout 30s;"),
   "could not resolve \"http://no-such-host.invalid\"",
   "a host name that does not resolve: could not resolve");

is(cause("empty", $emu, '{"close":"empty","count":-1,"path":"/import"}'),
   "sending to \"$emu\" failed: Server returned nothing (no headers, no "
   . "data)",
   "a connection closed with no answer: the transfer's error");

is(cause("redirect", $emu,
         '{"status":307,"count":-1,"path":"/import"}'),
   "\"$emu\" answered 307, a redirect",
   "a redirect: answered 307, a redirect");

is(cause("full", "file:/dev/full", undef),
   "write() to \"/dev/full\" failed",
   "a file sink that cannot be written: write() failed");

# at exit: a request in flight when the budget ends
{
    dn_emu("faults", '{"hang":true,"count":-1,"path":"/import"}');

    my $n = dn_nginx(port => $port,
                     conf => conf($emu, "    mixpanel_timeout 30s;"));
    is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "exit: an event");
    ok(dn_wait(10, sub {
           @{ dn_emu("requests?path=/import")->{requests} } >= 1 }),
       "exit: its request in flight, never answered");
    sleep(0.3);
    ok(dn_stop($n), "exit: nginx quits");
    dn_emu("faults", undef, "DELETE");

    like(dn_errlog($n),
         qr/mixpanel: 1 events dropped on exit, last failure: still in flight at the deadline/,
         "exit: still in flight at the deadline");
}

done_testing();
