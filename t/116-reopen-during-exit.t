# Regression: "nginx -s reopen" (logrotate's postrotate) while an old
# worker exits after a reload and its sender still tries to deliver what
# it holds.  The worker
# waits for its sender in exit_process and reads the master's commands on
# its channel itself; it threw NGX_CMD_REOPEN away, so it kept writing to
# the rotated log: the exit's lines (what was spooled, what was dropped)
# ended in the old file, which logrotate compresses or removes.  An
# exiting nginx worker without the module reopens its logs.
#
# Expected (SPEC §5): the exit's report, in the log the operator reads.

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
            mixpanel_token tok-reopen;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

# the master tells its workers on their channel (nginx -s reopen), or a
# signal goes to every process (a master that quits reopens nothing)
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

    dn_signal($n, 'HUP');
    Time::HiRes::sleep(1);

    my $log = "$n->{prefix}/logs/error.log";
    rename $log, "$log.1" or die "rename: $!";
    dn_signal($n, 'USR1');
    kill 'USR1', $worker if $to eq 'worker';

    ok(dn_wait(15, sub { !kill 0, $worker }), "$to: the old worker exits");
    ok(dn_stop($n, 'QUIT', 15), "$to: nginx quits");

    open my $fh, '<', "$log.1" or die;
    my $old = do { local $/; <$fh> };
    my $new = dn_errlog($n);

    like($new, qr/on exit 0 events were sent, 20 spooled, 0 dropped/,
         "$to: the exit's report is in the new log");
    unlike($old, qr/on exit \d+ events were sent/,
           "$to: not in the rotated one");
    like($old, qr/\b$worker#\d+: reopening logs/,
         "$to: the old worker reopened its logs");
    unlike($old . $new, qr/\[alert\]/, "$to: no [alert]");
}

done_testing();
