# An $identify dropped after its retries (mixpanel_retry_max_time, no
# spool) is sent again with the device's next request: the worker is
# told of the drop and marks the device in the shared zone, whatever its
# cookie says.  The control: once that $identify has been delivered, the
# same request sends none.  (The mark was untested for this drop: only a
# full queue's refusal was, in t/059.)  The same for an $identify dropped
# by a reload's exit (events_dropped.shutdown): the new worker identifies
# the device again, as the mark is in the shared zone.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $D = "5c1b3e0a-7d4f-4a8e-9b2c-0f6e1d2a3b4c";

# 503 with Retry-After: 1: the lane pauses 1 s plus 1-5 s of jitter (not
# the 2 s backoff plus jitter); a batch made during the pause would be
# dropped too, so the next request waits for its end
dn_emu("faults", '{"status":503,"retry_after":1,"count":-1,'
                 . '"path":"/import"}');

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-dropped;
    mixpanel_cookie_secret 0123456789abcdef0123456789abcdef;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1s;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /login {
            mixpanel login;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location /api/ {
            mixpanel track;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

sub req {
    my ($method, $path, $cookie, $account) = @_;
    my ($status, $c) = dn_device_req($n, $method, $path, $cookie,
                                     $account // "acc-d");
    is($status, 200, "$method $path");
    return $c;
}

sub identifies { return scalar dn_identifies($_[0] // "tok-dropped") }

my $bound = req(POST => "/login", $D);
like($bound, qr/^\Q$D\E\.[0-9a-f]{12}$/,
     "the login's cookie says bound: its \$identify was handed over");

ok(dn_wait(15, sub { dn_status($n)->{events_dropped}{retry_expired} == 2 }),
   "Mixpanel answered 503 for 1 s: the \$identify and the login's event "
   . "dropped")
    or diag(JSON::PP::encode_json(dn_status($n)));

dn_emu("faults", undef, "DELETE");
is(identifies(), 0, "no \$identify reached Mixpanel");
sleep(6.5);    # the lane's pause ends

my $c = req(GET => "/api/next", $bound);
ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 3 }),
   "the next request's \$identify and event sent (and the login's "
   . "people update before them)");
is(identifies(), 1, "the device was identified again");

my ($op) = @{ dn_emu("identity?token=tok-dropped")->{identity} };
is_deeply([@{ $op->{ids} || {} }{qw($identified_id $anon_id)}, $op->{outcome}],
          ["acc-d", $D, "merged"],
          "with the account and the device: merged")
    or diag(JSON::PP::encode_json($op));

req(GET => "/api/again", $c);
ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 4 }),
   "the request after it sent its event");
is(identifies(), 1, "and no \$identify: the device is bound now");

my $s = dn_status($n);
is_deeply([@$s{qw(events_queued events_sent identify_sent)},
           $s->{events_dropped}{retry_expired}, $s->{queue_depth}],
          [6, 4, 1, 2, 0], "queued 6 = sent 4 (one \$identify) + dropped 2");

ok(dn_stop($n), "nginx quits");

# -- dropped at a reload's exit ---------------------------------------------

my $m = dn_nginx(port => $port + 2, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-reload;
    mixpanel_cookie_secret 0123456789abcdef0123456789abcdef;
    mixpanel_flush_interval 50ms;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /login {
            mixpanel login;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location /api/ {
            mixpanel track;
            mixpanel_account_id $http_x_account;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

$n = $m;
my $E = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b";

dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');

$bound = req(POST => "/login", $E, "acc-e");
like($bound, qr/^\Q$E\E\.[0-9a-f]{12}$/, "reload: the login's cookie, bound");
ok(dn_wait(10, sub { dn_emu("requests?path=/import&status=503")->{count}
                     >= 1 }),
   "its \$identify failed once, and waits for its retry");

dn_signal($m, 'HUP');
ok(dn_wait(30, sub { dn_status($m)->{events_dropped}{shutdown} == 2 }),
   "the reload's exit dropped the \$identify and the login's event")
    or diag(JSON::PP::encode_json(dn_status($m)));

dn_emu("faults", undef, "DELETE");
is(identifies("tok-reload"), 0, "no \$identify reached Mixpanel");

$c = req(GET => "/api/next", $bound, "acc-e");
ok(dn_wait(10, sub { identifies("tok-reload") == 1 }),
   "the new worker identified the device again");
($op) = @{ dn_emu("identity?token=tok-reload")->{identity} };
is_deeply([@{ $op->{ids} || {} }{qw($identified_id $anon_id)},
           $op->{outcome}], ["acc-e", $E, "merged"],
          "with its account: merged")
    or diag(JSON::PP::encode_json($op));

req(GET => "/api/again", $c, "acc-e");
ok(dn_wait(10, sub { dn_status($m)->{events_sent} == 4 }),
   "the request after it sent its event (and the login's people update)")
    or diag(JSON::PP::encode_json(dn_status($m)));
is(identifies("tok-reload"), 1, "and no second \$identify");

ok(dn_stop($m), "nginx quits");

done_testing();
