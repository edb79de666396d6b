# An exiting worker's budget is 5 s, or three quarters of
# worker_shutdown_timeout when that is shorter (docs/delivery.md): never
# more, since a service manager kills what is left of a stop after about
# 5 s (Debian's nginx.service) and an exit's retries do not back off.
# Mixpanel answers 503 until some time after the quit.  With
# worker_shutdown_timeout 12s: cleared 3.5 s after the quit, the held
# event is delivered; cleared at 6.5 s, it is counted as dropped on exit
# at 5 s, and the worker is gone then, after attempts 250 ms apart.  With
# 4s, cleared at 4 s: dropped at 3 s.  A project Mixpanel told to wait
# (Retry-After), before the quit or during the exit, is not tried again
# at exit.  About 40 s.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use POSIX ":sys_wait_h";
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

# one worker sending one project's events, with a worker_shutdown_timeout
sub nginx {
    my ($timeout, $tok) = @_;

    return dn_nginx(port => $port, conf => <<"_EOC_");
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
}

sub run {
    my ($timeout, $tok, $clear) = @_;

    dn_emu("faults", "{\"status\":503,\"count\":-1,\"path\":\"/import\","
                     . "\"token\":\"$tok\"}");

    my $n = nginx($timeout, $tok);

    is(HTTP::Tiny->new(timeout => 10)->get("$n->{base}/t")->{status}, 200,
       "$timeout: an event");
    ok(dn_wait(10, sub {
           @{ dn_emu("requests?path=/import&status=503")->{requests} }
           >= 1 }), "$timeout: refused with a 503, held");

    my $quit = time();
    my ($cleared, $gone) = (0, undef);
    dn_signal($n, 'QUIT');
    dn_wait(15, sub {
        if (!$cleared && time() - $quit >= $clear) {
            dn_emu("faults", undef, "DELETE");
            $cleared = 1;
        }
        $gone = time() if waitpid($n->{pid}, WNOHANG) == $n->{pid};
        return defined $gone });
    dn_emu("faults", undef, "DELETE") unless $cleared;
    @t::Direct::Pids = grep { $_->[0] != $n->{pid} } @t::Direct::Pids;

    ok(defined $gone, "$timeout: nginx quits");
    my $took = ($gone // time()) - $quit;

    return ($n, $took, $quit);
}

my ($n, $took) = run("12s", "tok-budget-ok", 3.5);
is(dn_emu("events?token=tok-budget-ok")->{count}, 1,
   "12s: the event delivered after 3.5 s of 503s");
ok($took > 3.4 && $took < 5.5,
   sprintf("12s: the worker gone in %.1f s, once delivered", $took));
my $log = dn_errlog($n);
unlike($log, qr/dropped on exit/, "12s: nothing dropped on exit");

my $quit;
($n, $took, $quit) = run("12s", "tok-budget-long", 6.5);
is(dn_emu("events?token=tok-budget-long")->{count}, 0,
   "12s: not delivered after 6.5 s of 503s, 5 s at most");

# the exit's retries go 250 ms apart, without the jitter
{
    my @at = grep { $_ > $quit * 1000 }
             map { $_->{received_ms} }
             @{ dn_emu("requests?path=/import&status=503")->{requests} };
    my @gap = map { $at[$_] - $at[$_ - 1] } 1 .. $#at;
    my ($max) = sort { $b <=> $a } @gap;
    cmp_ok(scalar @at, '>=', 12, "12s: the exit's attempts, one every "
           . "250 ms for 5 s (" . scalar(@at) . ")");
    cmp_ok($max // 0, '<', 1000, "12s: no more than a second apart ("
           . ($max // "none") . " ms at most)");
}

ok($took > 4.5 && $took < 7.5,
   sprintf("12s: the worker gone in %.1f s, not 9 s", $took));
$log = dn_errlog($n);
like($log, qr/mixpanel: 1 events dropped on exit/,
     "12s: the event counted as dropped on exit");
unlike($log, qr/\[alert\]/, "12s: no alert");

($n, $took) = run("4s", "tok-budget-short", 4);
is(dn_emu("events?token=tok-budget-short")->{count}, 0,
   "4s: not delivered after 4 s of 503s, the budget of 3 s spent");
ok($took > 2.5 && $took < 4.5,
   sprintf("4s: the worker gone in %.1f s", $took));
$log = dn_errlog($n);
like($log, qr/mixpanel: 1 events dropped on exit/,
     "4s: the event counted as dropped on exit");
unlike($log, qr/\[alert\]/, "4s: no alert");

# A project Mixpanel told to wait (429 with Retry-After) gets no extra
# try at exit, though Mixpanel would take it by then: its event is
# dropped on exit, sent once.  And a Retry-After that comes during the
# exit is waited for too, not cut to 250 ms: after a 503 held the event,
# a 429 asking for a minute, then Mixpanel would take it: not sent again.
# the requests to /import of one project, in order
sub reqs {
    my ($tok, $status) = @_;
    return [grep { ($_->{records}[0]{properties}{token} // "") eq $tok
                   && (!defined $status || $_->{status} == $status) }
            @{ dn_emu("requests?path=/import")->{requests} }];
}

sub told {
    my ($tok, $during) = @_;

    # during: five 503s (one before the quit, four at exit, 250 ms
    # apart), then the 429, queued behind them: no gap between the two
    dn_emu("faults", $during
           ? "[{\"status\":503,\"count\":5,\"path\":\"/import\","
             . "\"token\":\"$tok\"},{\"status\":429,\"retry_after\":60,"
             . "\"count\":1,\"path\":\"/import\",\"token\":\"$tok\"}]"
           : "{\"status\":429,\"retry_after\":120,\"count\":1,"
             . "\"path\":\"/import\",\"token\":\"$tok\"}");

    my $n = nginx("12s", $tok);

    is(HTTP::Tiny->new(timeout => 10)->get("$n->{base}/t")->{status}, 200,
       "$tok: an event");
    ok(dn_wait(10, sub { @{ reqs($tok) } >= 1 }), "$tok: refused, held");
    sleep(0.2);

    my $quit = time();
    dn_signal($n, 'QUIT');

    if ($during) {
        ok(dn_wait(4, sub { @{ reqs($tok, 429) } >= 1 }),
           "$tok: the 429 during the exit");
    } else {
        dn_emu("faults", undef, "DELETE");
    }

    my $gone;
    dn_wait(15, sub {
        $gone = time() if waitpid($n->{pid}, WNOHANG) == $n->{pid};
        return defined $gone });
    dn_emu("faults", undef, "DELETE");
    @t::Direct::Pids = grep { $_->[0] != $n->{pid} } @t::Direct::Pids;

    ok(defined $gone, "$tok: nginx quits");
    ok(($gone // time()) - $quit < 6, sprintf("$tok: within the budget "
       . "(%.1f s)", ($gone // time()) - $quit));
    is(dn_emu("events?token=$tok")->{count}, 0,
       "$tok: not sent at exit, as Mixpanel asked");
    like(dn_errlog($n), qr/mixpanel: 1 events dropped on exit/,
         "$tok: counted as dropped on exit");

    return reqs($tok);
}

my $reqs = told("tok-told-before", 0);
is(scalar @$reqs, 1, "told before the quit: the one attempt, none at exit")
    or diag(join ", ", map { "$_->{status} at $_->{received_ms}" } @$reqs);

$reqs = told("tok-told-during", 1);
is(scalar(grep { $_->{status} == 429 } @$reqs), 1,
   "told during the exit: one 429");
is($reqs->[-1]{status}, 429, "and no attempt after it")
    or diag(join ", ", map { "$_->{status} at $_->{received_ms}" } @$reqs);

done_testing();
