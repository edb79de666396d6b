# A lane that stays empty for 5 minutes is freed (tokens may come and
# go), events and people updates alike, and made again when its token
# comes back: the worker lives on, and what comes after is delivered.
# Two tokens log a person in (an event and a people update: both kinds
# of lane) and track; after 5 minutes and 5 s of silence a
# third token wakes the thread, which frees the four idle lanes; the
# first two tokens then log in and track again.  About 5.5 minutes.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-idle-$arg_tok;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /login {
            mixpanel login;
            mixpanel_account_id $arg_acct;
            mixpanel_people_set plan $arg_plan;
            return 200 "ok\n";
        }
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

sub visit {
    my ($round) = @_;
    for my $tok ("a", "b") {
        is($http->get("$n->{base}/login?tok=$tok&acct=$tok-$round"
                      . "&plan=p$round")->{status}, 200,
           "round $round: a login of token $tok");
        is($http->get("$n->{base}/t?tok=$tok")->{status}, 200,
           "round $round: a page of token $tok");
    }
}

sub updates {
    my ($tok, $acct) = @_;
    return scalar grep { !$_->{error} }
        @{ dn_emu("updates?token=tok-idle-$tok&distinct_id=$acct")
           ->{updates} };
}

visit(1);
ok(dn_wait(20, sub { updates("a", "a-1") >= 1 && updates("b", "b-1") >= 1
                     && dn_emu("events?token=tok-idle-b")->{count} >= 2 }),
   "round 1 delivered, both kinds, both tokens");

diag("5 minutes of silence");
sleep(305);

is($http->get("$n->{base}/t?tok=c")->{status}, 200,
   "another token wakes the thread: the idle lanes go");
ok(dn_wait(20, sub { dn_emu("events?token=tok-idle-c")->{count} == 1 }),
   "its event delivered");
sleep(1);

visit(2);
ok(dn_wait(20, sub { updates("a", "a-2") >= 1 && updates("b", "b-2") >= 1
                     && dn_emu("events?token=tok-idle-b")->{count} >= 4 }),
   "round 2 delivered through new lanes");

for my $tok ("a", "b") {
    my $ev = dn_emu("events?token=tok-idle-$tok");
    my %by;
    $by{ $_->{event} }++ for @{ $ev->{events} };
    is_deeply(\%by, { 'Log In' => 2, 'API Request' => 2 },
              "token $tok: each event once")
        or diag(explain(\%by));
    is(updates($tok, "$tok-$_"), 1, "token $tok: round $_, its update once")
        for 1, 2;
}

# the worker takes the thread's counts on its own time: wait for them
my $s;
dn_wait(10, sub { $s = dn_status($n);
                  $s->{events_sent} == 13 && $s->{queue_depth} == 0 });
is($s->{events_sent}, 13, "13 events and updates sent, each once");
is($s->{queue_depth}, 0, "nothing held");
is(dn_balance($s), 0, "queued = sent + rejected + dropped + spooled + depth");

my $log = dn_errlog($n);
unlike($log, qr/exited on signal|\[alert\]|\[crit\]/,
       "no worker died, no alert");
ok(dn_stop($n), "nginx quits");

done_testing();
