# Regression: "nginx -s quit" and, before the exit is over, "nginx -s
# stop" (an impatient operator, or a service manager that follows QUIT
# with TERM).  The worker's exit budget was fixed when the quit began:
# 5 s.  The master, on SIGTERM, sends SIGKILL to the workers about 3 s
# later, while the sender still waited out that budget: "worker process
# exited on signal 9", nothing spooled, the events held lost and counted
# nowhere.
#
# Expected (SPEC §5, delivery.md): a SIGTERM makes the exit's budget the
# fast shutdown's (300 ms) at once, even when a quit began it; the worker
# spools what it holds and exits before the master's SIGKILL.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes ();
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
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token tok-quit;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

# the master tells its workers on their channel (nginx -s stop after -s
# quit), or a service manager signals every process (systemd's
# KillMode=control-group)
for my $to ('master', 'worker') {
    my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf);
    chmod 0777, "$n->{prefix}/spool";

    my $http = HTTP::Tiny->new(keep_alive => 1);
    $http->get("$n->{base}/v") for 1 .. 20;

    my $s;
    ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_queued} == 20 }),
       "$to: 20 events queued");

    my $worker = `pgrep -P $n->{pid}`;
    chomp $worker;

    my $t0 = Time::HiRes::time();
    dn_signal($n, 'QUIT');
    Time::HiRes::sleep(1);
    kill 'TERM', $worker if $to eq 'worker';
    ok(dn_stop($n, 'TERM', 15), "$to: nginx stops");
    diag(sprintf("exit took %.2f s", Time::HiRes::time() - $t0));

    my $log = dn_errlog($n);
    unlike($log, qr/exited on signal 9/, "$to: the worker was not killed");
    unlike($log, qr/\[alert\]/, "$to: no [alert]");
    like($log, qr/on exit 0 events were sent, 20 spooled, 0 dropped/,
         "$to: the 20 events were spooled");

    my $records = 0;
    for my $f (glob "$n->{prefix}/spool/mp-*.json") {
        open my $fh, '<', $f or die;
        $records += grep { !/^\{"kind"/ } <$fh>;
    }
    is($records, 20, "$to: the spool holds them");
}

done_testing();
