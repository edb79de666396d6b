# What is logged "at most once a minute" is logged again a minute later
# while it goes on, not once for good.  Mixpanel answers 503 to every
# /import, so the one event a queue of 1 holds stays in it; a request
# every 2 s for 70 s is dropped each time (events_dropped.queue_full,
# exactly), and the warning is written at the first drop and at the
# first one a minute after it: twice.  Each of these requests also logs
# in without an account id and reads a JWT claim where no mixpanel_jwt
# applies: two lines each too.  About 75 s.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);
dn_emu("faults",
       '{"status":503,"count":-1,"path":"/import","token":"tok-full"}');

my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-full;
    mixpanel_queue_size 1;
    mixpanel_flush_interval 50ms;
    mixpanel_jwt_claim_set $jwt_sub sub;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /login {
            mixpanel login;
            mixpanel_account_id $http_x_none;
            return 200 "sub=$jwt_sub\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

is($http->get("$n->{base}/t")->{status}, 200, "one event, held");
ok(dn_wait(10, sub {
       @{ dn_emu("requests?path=/import&status=503")->{requests} } >= 1 }),
   "and refused with a 503");

my ($start, @at) = (time());
while (time() - $start < 70) {
    my $t = time();
    is($http->get("$n->{base}/login")->{content}, "sub=\n",
       "a login without an account, its claim empty")
        or last;
    push @at, $t;
    sleep(2 - (time() - $t)) if time() - $t < 2;
}

my $s = dn_status($n);
is($s->{events_dropped}{queue_full}, scalar @at,
   "every login's event dropped: queue_full " . scalar @at);
is($s->{events_queued}, 1, "one event queued");
is($s->{queue_depth}, 1, "and held");
is(dn_balance($s), 0, "queued = sent + rejected + dropped + spooled + depth");

# a line at the first drop, and at the first one 60 s or more after it
my ($last, $lines) = (undef, 0);
for my $t (@at) {
    next if defined $last && $t - $last < 59.9;
    ($last, $lines) = ($t, $lines + 1);
}
is($lines, 2, "70 s of drops a request every 2 s: two lines due");

my $log = dn_errlog($n);
my @full = $log
    =~ /\[warn\] [^\n]*mixpanel: queue of 1 events is full, new events/g;
is(scalar @full, $lines, "the full queue logged once a minute")
    or diag(join("\n", @full));
my $none = qr/\[warn\] [^\n]*mixpanel: "login" in location "\/login" had/
           . qr/ no account id \("mixpanel_account_id" evaluated empty\)/;
my @none = $log =~ /$none/g;
is(scalar @none, $lines, "the login without an account, once a minute");
my $unset = qr/\[info\] [^\n]*mixpanel: claim variable "\$jwt_sub" read/
            . qr/ in location "\/login", where no "mixpanel_jwt" applies/;
my @unset = $log =~ /$unset/g;
is(scalar @unset, $lines, "the claim read where none applies, once a "
   . "minute");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");
is(dn_emu("events?token=tok-full")->{count}, 1,
   "the held event delivered at the quit, once Mixpanel answers");

done_testing();
