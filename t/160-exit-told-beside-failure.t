# A project Mixpanel told to wait gets no try at exit (docs/delivery.md),
# whatever other failure its other batch in flight met beside the refusal:
# two events of one project in flight, one answered 429 with Retry-After
# 10 s, the other 401 (whose pause, 60 s, is longer), in either order;
# then a quit.  Neither is sent again during the exit: Mixpanel's 10 s are
# not over before the exit's deadline.  The control: two 401s, no 429,
# and the exit sends both.  And a Retry-After is its answer's only: a 503
# without one, on the request slot that had a 429 with one, gets its
# try at exit.  A plain Test::More file driving
# nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $http = HTTP::Tiny->new(timeout => 10);

sub imports { dn_emu("requests?path=/import")->{count} }

for my $case ([ "the 429 first, then the 401",
                { status => 429, retry_after => 10 }, { status => 401 },
                "refused the credentials (401)" ],
              [ "the 401 first, then the 429",
                { status => 401 }, { status => 429, retry_after => 10 },
                "answered 429" ],
              [ "two 401s", { status => 401 }, { status => 401 }, "" ])
{
    my ($name, $first, $second, $last) = @$case;

    dn_emu("faults", undef, "DELETE");
    dn_emu("faults", JSON::PP::encode_json([
        { %$first, delay_ms => 200, count => 1, path => "/import" },
        { %$second, delay_ms => 1000, count => 1, path => "/import" } ]));

    my $before = imports();

    my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 4s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-told;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_concurrency 2;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    is($http->get("$n->{base}/t")->{status}, 200, "$name: an event");
    is($http->get("$n->{base}/t")->{status}, 200, "$name: another");

    ok(dn_wait(10, sub {
           imports() - $before == 2
           && dn_errlog($n) =~ /refused the credentials/ }),
       "$name: both refused");

    ok(dn_stop($n), "$name: nginx quits");
    Time::HiRes::sleep(0.5);

    if ($last eq "") {
        is(imports() - $before, 4, "$name: both tried again at exit");
        like(dn_errlog($n),
             qr/\[notice\] [^\n]*mixpanel: on exit 2 events were sent/,
             "$name: and sent");
        next;
    }

    is(imports() - $before, 2,
       "$name: no try at exit, Mixpanel said to wait 10 s");

    like(dn_errlog($n),
         qr/\[error\] [^\n]*mixpanel: 2 events dropped on exit, last failure: "[^"]+" \Q$last\E/,
         "$name: both dropped at exit, with the last failure");
}

# What Mixpanel said is its answer's only: one request slot
# (mixpanel_concurrency 1) takes tok-a's batch, answered 429 with
# Retry-After 10 s, then tok-b's, answered 503 with none.  At the quit
# tok-b gets its one more try (its 503 said nothing of when), tok-a none.

dn_emu("faults", undef, "DELETE");
dn_emu("faults", JSON::PP::encode_json([
    { status => 429, retry_after => 10, count => 1, token => "tok-a",
      path => "/import" },
    { status => 503, count => 1, token => "tok-b", path => "/import" } ]));

my $before = imports();

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 4s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token \$arg_t;
    mixpanel_batch_size 1;
    mixpanel_flush_interval 10ms;
    mixpanel_concurrency 1;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

is($http->get("$n->{base}/t?t=tok-a")->{status}, 200, "one slot: tok-a");
ok(dn_wait(10, sub { imports() - $before == 1 }), "refused, 429");
is($http->get("$n->{base}/t?t=tok-b")->{status}, 200, "then tok-b");
ok(dn_wait(10, sub { imports() - $before == 2
                     && (dn_status($n)->{last_error} // "") =~ /^HTTP 503/ }),
   "refused, 503");

ok(dn_stop($n), "nginx quits");
Time::HiRes::sleep(0.5);

is(imports() - $before, 3, "one try at exit: tok-b's");
my $log = dn_errlog($n);
like($log, qr/\[notice\] [^\n]*mixpanel: on exit 1 events were sent, 0 spooled, 1 dropped/,
     "tok-b's event sent at exit, tok-a's dropped");
like($log, qr/mixpanel: 1 events dropped on exit, last failure: "[^"]+" answered 429/,
     "for its 429");

done_testing();
