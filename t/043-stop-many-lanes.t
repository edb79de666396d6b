# Review finding: "nginx -s stop" (SIGTERM) with Mixpanel down, the spool
# on and events held in many lanes (mixpanel_token from a variable: a
# token per customer) writes one fsync()ed spool file per lane after the
# 300 ms budget.  The master sends SIGKILL about 3 s after SIGTERM, in the
# middle of that: the worker dies ("exited on signal 9", an [alert]), the
# events of the lanes not yet written are lost and counted nowhere, and a
# temporary file is left behind.  Here 5000 lanes (1 ms an fsync on this
# disk); on a disk where fsync takes 10 ms, some 300 lanes are enough.
#
# Expected (SPEC §5): "each old worker flushes what it holds within a
# bounded time ..., then spools the rest ... or counts it as dropped — all
# of it, at the deadline, whatever the number of batches, tokens and
# kinds.  A worker never hangs on exit, leaves no [alert] in the log".

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes ();
use t::Review4;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $lanes = $ENV{LANES} || 5000;

my $n = r4_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    # nothing listens there: Mixpanel is down
    mixpanel_api http://127.0.0.1:@{[ $port + 2 ]};
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token \$arg_tok;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(keep_alive => 1);
$http->get("$n->{base}/v?tok=customer-$_") for 1 .. $lanes;

my $s;
ok(r4_wait(20, sub { $s = r4_status($n); $s->{events_queued} == $lanes }),
   "$lanes events queued");

my $t0 = Time::HiRes::time();
ok(r4_stop($n, 'TERM', 30), "nginx stops");
diag(sprintf("exit took %.2f s", Time::HiRes::time() - $t0));

my $log = r4_errlog($n);
unlike($log, qr/exited on signal 9/, "the worker was not killed");
unlike($log, qr/\[alert\]/, "no [alert]");

my ($files, $records) = (0, 0);
opendir my $d, "$n->{prefix}/spool" or die;
for my $f (grep { /^mp-.*\.json$/ } readdir $d) {
    open my $fh, '<', "$n->{prefix}/spool/$f" or next;
    my @l = <$fh>;
    $files++;
    $records += @l - 1;
}
my @tmp = grep { /\.tmp$/ } do { rewinddir $d; readdir $d };

my ($dropped) = $log =~ /on exit \d+ events were sent, \d+ spooled, (\d+) dropped/;
$dropped //= 0;

is($records + $dropped, $lanes,
   "every event spooled ($records in $files files) or counted as dropped "
   . "($dropped)");
is(scalar @tmp, 0, "no temporary file left");

done_testing();
