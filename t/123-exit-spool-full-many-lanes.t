# Regression: a worker exits holding the events of many tokens (a lane
# each) in a spool at its max_size (or on a failing disk).  Each lane's
# refused spool write was logged on its own line; the sender's log
# outbox holds 64 lines, so past that the rest were lost, and with them
# the exit's report ("on exit N events were sent, M spooled, K
# dropped", the dropped events' cause): the log said only "213 lines of
# the sender were not logged".
#
# Expected (SPEC §5): the exit's report is logged whole; the refused
# writes are one line, with the count of the events not spooled.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $conf = <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    # nothing listens there: Mixpanel is down
    mixpanel_api http://127.0.0.1:@{[ $port + 2 ]};
    mixpanel_flush_interval 50ms;
    mixpanel_spool %PREFIX%/spool max_size=30k;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token \$arg_t;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf);
chmod 0777, "$n->{prefix}/spool";

# 200 tokens, 3 events each: about 100 lanes' files fill the spool
my $http = HTTP::Tiny->new(keep_alive => 1);
for my $t (1 .. 200) {
    $http->get("$n->{base}/v?t=tok-$t") for 1 .. 3;
}

my $s;
ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_queued} == 600 }),
   "600 events queued");

dn_signal($n, 'HUP');

ok(dn_wait(15, sub { $s = dn_status($n); $s->{queue_depth} == 0 }),
   "the old worker exited");

my $d = $s->{events_dropped};
my $spooled = $s->{events_spooled};
my $dropped = $d->{shutdown};

ok($spooled > 0 && $dropped > 0, "some spooled ($spooled), some dropped");
is($spooled + $dropped, 600, "spooled and dropped: 600");
is(dn_balance($s), 0, "every event counted once");

my $log = dn_errlog($n);

like($log, qr/on exit 0 events were sent, $spooled spooled, $dropped dropped/,
     "the exit's report");
like($log, qr/$dropped events dropped on exit, last failure: /,
     "the dropped events' cause");
my @full = $log =~ /is full \(max_size=30720\), (\d+) events not spooled/g;
is_deeply(\@full, [$dropped], "the refused writes: one line");
unlike($log, qr/lines of the sender were not logged/, "no line lost");
unlike($log, qr/\[alert\]/, "no [alert]");

# the records hold the tokens: the files are the workers' user's alone
my @files = glob "$n->{prefix}/spool/mp-*.json*";
ok(scalar @files, "the exit's spool files (" . scalar(@files) . ")");
is(join(" ", map { sprintf "%04o", (stat $_)[2] & 07777 } @files),
   join(" ", ("0600") x @files), "each of mode 0600 (docs/security.md)");

ok(dn_stop($n), "nginx quits");

done_testing();
