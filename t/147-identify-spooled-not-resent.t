# An $identify that is spooled is not dropped: the worker must not mark
# its device for a resend (t/127 shows that a dropped one is resent).
# Its device's next request, with the cookie that says bound, sends no
# $identify of its own, and the replay delivers the spooled one: one
# $identify in all.  Spooled twice over: when its retry time is spent
# (events_spooled), and by a reload's exit, read by the new worker.
# (Round 19 of issue 18: a spooled batch released as dropped sent a
# second $identify, and passed the whole suite.)  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $conf = <<'_EOC_';
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token %TOKEN%;
    mixpanel_cookie_secret 0123456789abcdef0123456789abcdef;
    mixpanel_flush_interval 50ms;
    %RETRY%
    mixpanel_spool %PREFIX%/spool;
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

sub conf_of {
    my ($token, $retry) = @_;
    (my $c = $conf) =~ s/%TOKEN%/$token/;
    $c =~ s/%RETRY%/$retry/;
    return $c;
}

my $n;

sub req {
    my ($method, $path, $cookie, $account) = @_;
    my ($status, $c) = dn_device_req($n, $method, $path, $cookie, $account);
    is($status, 200, "$method $path");
    return $c;
}

sub identifies { return dn_identifies($_[0]) }

# -- spooled when its retry time is spent -----------------------------------

$n = dn_nginx(port => $port, dirs => ["spool"],
              conf => conf_of("tok-spooled", "mixpanel_retry_max_time 1s;"));

my $D = "7a3c5e1f-2b4d-4c6e-8f0a-1b2c3d4e5f60";

# 503 with Retry-After: 1 (the lane pauses 1 s and 1-5 s of jitter)
dn_emu("faults", '{"status":503,"retry_after":1,"count":-1,'
                 . '"path":"/import"}');

my $bound = req(POST => "/login", $D, "acc-s");
like($bound, qr/^\Q$D\E\.[0-9a-f]{12}$/,
     "the login's cookie says bound: its \$identify was handed over");

ok(dn_wait(15, sub { dn_status($n)->{events_spooled} == 2 }),
   "the \$identify and the login's event spooled, their retry time spent")
    or diag(JSON::PP::encode_json(dn_status($n)));

dn_emu("faults", undef, "DELETE");
is(scalar identifies("tok-spooled"), 0, "no \$identify reached Mixpanel");
sleep(6.5);    # the lane's pause ends

my $c = req(GET => "/api/next", $bound, "acc-s");
ok(dn_wait(20, sub { my $s = dn_status($n);
                     $s->{events_replayed} == 2 && $s->{events_sent} == 2 }),
   "the spool replayed, and the next request's event sent")
    or diag(JSON::PP::encode_json(dn_status($n)));

my @ids = identifies("tok-spooled");
is(scalar @ids, 1, "one \$identify in all: the replayed one, none sent "
   . "again by the next request");
is_deeply([@{ $ids[0]{ids} || {} }{qw($identified_id $anon_id)},
           $ids[0]{outcome}], ["acc-s", $D, "merged"],
          "with the account and the device: merged")
    or diag(JSON::PP::encode_json(\@ids));
is(dn_emu("events?token=tok-spooled")->{count}, 3,
   "the \$identify and the login's event (replayed) and the next "
   . "request's event reached Mixpanel");

my $s = dn_status($n);
is_deeply([@$s{qw(events_queued events_sent identify_sent events_spooled
                  events_replayed)}, dn_balance($s)],
          [4, 2, 1, 2, 2, 0],
          "queued 4 = sent 2 (the people update, the event) + spooled 2; "
          . "the one \$identify sent is the replayed one")
    or diag(JSON::PP::encode_json($s));

ok(dn_stop($n), "nginx quits");

# -- spooled by a reload's exit ---------------------------------------------

$n = dn_nginx(port => $port + 2, dirs => ["spool"],
              conf => conf_of("tok-exit", ""));

my $E = "4d2e6f8a-1c3b-4a5d-9e7f-0a1b2c3d4e5f";

dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');

$bound = req(POST => "/login", $E, "acc-x");
like($bound, qr/^\Q$E\E\.[0-9a-f]{12}$/, "reload: the login's cookie, bound");
ok(dn_wait(10, sub { dn_emu("requests?path=/import&status=503")->{count}
                     >= 1 }),
   "its \$identify failed once, and waits for its retry");

dn_signal($n, 'HUP');
ok(dn_wait(30, sub { dn_status($n)->{events_spooled} == 2 }),
   "the reload's exit spooled the \$identify and the login's event")
    or diag(JSON::PP::encode_json(dn_status($n)));

dn_emu("faults", undef, "DELETE");
is(scalar identifies("tok-exit"), 0, "no \$identify reached Mixpanel");

req(GET => "/api/next", $bound, "acc-x");
# the new worker started before the old one's exit wrote the file: it is
# found at the next look, 30 s on (docs/delivery.md)
ok(dn_wait(45, sub { dn_status($n)->{events_replayed} == 2 }),
   "the new worker replayed the spool at its next look")
    or diag(JSON::PP::encode_json(dn_status($n)));

@ids = identifies("tok-exit");
is(scalar @ids, 1, "one \$identify in all: the replayed one, none sent "
   . "again by the new worker");
is_deeply([@{ $ids[0]{ids} || {} }{qw($identified_id $anon_id)},
           $ids[0]{outcome}], ["acc-x", $E, "merged"],
          "with its account: merged")
    or diag(JSON::PP::encode_json(\@ids));

ok(dn_stop($n), "nginx quits");

done_testing();
