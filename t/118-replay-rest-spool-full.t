# Regression: a spool file half sent when its token's lane fails, in a
# spool at its max_size (the file itself takes it), then a reload.  The
# rest of the section could not be written to a file of its own ("spool
# is full"), so the file was kept, claimed, waiting for the lane; at the
# reload the exiting worker tried again, failed again, and gave the file
# back whole: the next worker sent the section from its start, the part
# accepted before a second time.
#
# Expected (SPEC §5, delivery.md: "a reload during a replay, never send a
# file twice"): the rest of a section takes the place of the section,
# which is counted against max_size already: it is written even when the
# spool is full, and nothing is accepted twice.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

# max_size: less than the file holds
my $conf = <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_spool %PREFIX%/spool max_size=512;
    mixpanel_batch_size 2;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token tok-live;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emulator($port + 2);

# the first batch of the file accepted, then the token's lane fails
dn_emu("faults", JSON::PP::encode_json([
    { delay_ms => 1, token => "tok-a", count => 1 },
    { status => 503, token => "tok-a", count => -1 } ]));

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                 before => dn_spool_file(dn_spool_section("tok-a", 6)));

my $s;
ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_replayed} >= 2 }),
   "the first batch was replayed");
ok(dn_wait(10, sub { dn_emu("stats")->{requests}{by_status}{"/import"}{503}
                     }), "the second failed");

is(dn_emu("events?token=tok-a")->{count}, 2, "2 events stored");

# a reload while the lane waits; then Mixpanel is back
my ($old) = split ' ', `pgrep -P $n->{pid}`;
dn_signal($n, 'HUP');
ok(dn_wait(15, sub { !kill 0, $old }), "the old worker exits");
dn_emu("faults", undef, "DELETE");

# a worker looks at the spool when it starts
dn_signal($n, 'HUP');

ok(dn_wait(60, sub { !(() = glob "$n->{prefix}/spool/mp-*.json") }),
   "the spool is empty");
ok(dn_wait(10, sub { dn_emu("events?token=tok-a")->{count} == 6 }),
   "6 events stored");
is(dn_emu("stats")->{events}{duplicates}, 0, "none accepted twice");

ok(dn_stop($n), "nginx quits");
unlike(dn_errlog($n), qr/\[alert\]/, "no [alert]");

done_testing();
