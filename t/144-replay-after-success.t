# Spooled records are sent 5 s after a live batch succeeds (Mixpanel is
# back), not at the next 30 s look (docs/delivery.md).  One project's
# event is refused (503) and, its retry time spent, spooled; once that
# project's wait is over, another project's event goes through, and the
# spooled event follows within 5 s (and the few of its lane's wait), well
# before the 30 s look.  The spool file is of mode 0600 (it holds the
# token).  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $started = time();

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1s;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-[ab])$ {
            mixpanel track;
            mixpanel_token $1;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

dn_emu("faults", '{"status":503,"count":1,"path":"/import","token":"tok-a"}');
is($http->get("$n->{base}/tok-a")->{status}, 200, "tok-a: an event");
ok(dn_wait(10, sub { dn_status($n)->{events_spooled} == 1 }),
   "refused, its retry time spent: spooled");

# the record holds the token: the file is the workers' user's alone
my @files = glob "$n->{prefix}/spool/mp-*.json";
is(scalar @files, 1, "one spool file");
is(sprintf("%04o", (stat $files[0])[2] & 07777), "0600",
   "of mode 0600 (docs/security.md)");

# tok-a's wait after the 503: 2 s and up to 5 s of jitter
sleep(7.5);
is(dn_status($n)->{events_replayed}, 0, "not replayed yet");

my $live = time();
is($http->get("$n->{base}/tok-b")->{status}, 200, "tok-b: an event");
ok(dn_wait(10, sub { dn_emu("events?token=tok-b")->{count} == 1 }),
   "tok-b's event went through: Mixpanel is back");

ok(dn_wait(10, sub { dn_status($n)->{events_replayed} == 1 }),
   "the spooled event replayed");
my $after = time() - $live;
my $since = time() - $started;
ok($after < 8.5, sprintf("%.1f s after the live success: 5 s, and a "
   . "little", $after));
ok($since < 25, sprintf("%.1f s after the start: not at the 30 s look",
   $since));
is(dn_emu("events?token=tok-a")->{count}, 1, "tok-a's event delivered once");

ok(dn_stop($n), "nginx quits");

done_testing();
