# An exiting worker's budget is three quarters of worker_shutdown_timeout
# when that is set (docs/delivery.md), however long: not 5 s at most.
# With worker_shutdown_timeout 12s Mixpanel answers 503 until 6.5 s after
# the quit, and the held event is delivered at a retry after that, within
# the 9 s; the worker exits then, well before the master's 12 s.  A
# second run, worker_shutdown_timeout 4s, gives up at 3 s: the event is
# counted as dropped on exit.  About 25 s.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

sub run {
    my ($timeout, $tok) = @_;

    dn_emu("faults", "{\"status\":503,\"count\":-1,\"path\":\"/import\","
                     . "\"token\":\"$tok\"}");

    my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout $timeout;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token $tok;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    is(HTTP::Tiny->new(timeout => 10)->get("$n->{base}/t")->{status}, 200,
       "$timeout: an event");
    ok(dn_wait(10, sub {
           @{ dn_emu("requests?path=/import&status=503")->{requests} }
           >= 1 }), "$timeout: refused with a 503, held");

    my $quit = time();
    dn_signal($n, 'QUIT');
    sleep(6.5 - (time() - $quit));
    dn_emu("faults", undef, "DELETE");

    ok(dn_stop($n, 'QUIT', 15), "$timeout: nginx quits");
    my $took = time() - $quit;

    return ($n, $took);
}

my ($n, $took) = run("12s", "tok-budget-long");
is(dn_emu("events?token=tok-budget-long")->{count}, 1,
   "12s: the event delivered after 6.5 s of 503s");
ok($took > 6.4 && $took < 11, sprintf("12s: the worker gone in %.1f s", $took));
my $log = dn_errlog($n);
unlike($log, qr/dropped on exit/, "12s: nothing dropped on exit");
unlike($log, qr/\[alert\]/, "12s: no alert (the master's 12 s not reached)");

($n, $took) = run("4s", "tok-budget-short");
is(dn_emu("events?token=tok-budget-short")->{count}, 0,
   "4s: not delivered, the budget of 3 s spent");
$log = dn_errlog($n);
like($log, qr/mixpanel: 1 events dropped on exit/,
     "4s: the event counted as dropped on exit");
unlike($log, qr/\[alert\]/, "4s: no alert");

done_testing();
