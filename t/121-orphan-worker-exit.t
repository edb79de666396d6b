# Regression: a worker whose master is gone (killed, crashed) goes on
# serving; nginx closes its end of the master's channel when it reads the
# end of it.  When that worker exits (the operator's "kill -QUIT"), it
# waits for its sender and reads the master's commands on the channel
# itself: it read the descriptor the channel had, closed: "[alert]
# recvmsg() failed (9: Bad file descriptor)", or, once the number was
# taken again, a descriptor of the sender's (a connection to Mixpanel,
# whose answer it would take).  An nginx worker without the module exits
# quietly.
#
# Expected (SPEC §5): an orphaned worker exits as any other: what it
# holds spooled or sent, no [alert].

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use POSIX ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my @orphans;

# not children of this process: killed if left, never waited for
END { kill 'KILL', @orphans if @orphans; }

sub conf {
    my ($api) = @_;
    return <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:$api;
    mixpanel_flush_interval 50ms;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token tok-orphan;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_
}

# the master killed: its worker stays, the channel's end read
sub orphan {
    my ($n) = @_;

    my $worker = `pgrep -P $n->{pid}`;
    chomp $worker;

    kill 'KILL', $n->{pid};
    waitpid $n->{pid}, 0;
    @t::Direct::Pids = grep { $_->[0] != $n->{pid} } @t::Direct::Pids;
    push @orphans, $worker;

    return $worker;
}

# Mixpanel down (nothing listens): the exit spools what is held
{
    my $n = dn_nginx(port => $port, dirs => ["spool"],
                     conf => conf($port + 2));
    chmod 0777, "$n->{prefix}/spool";

    my $worker = orphan($n);

    my $http = HTTP::Tiny->new(keep_alive => 1);
    $http->get("$n->{base}/v") for 1 .. 20;

    my $s;
    ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_queued} == 20 }),
       "down: 20 events queued by the orphaned worker");

    kill 'QUIT', $worker;
    ok(dn_wait(15, sub { !kill 0, $worker }), "down: the worker exits");

    my $log = dn_errlog($n);
    like($log, qr/on exit 0 events were sent, 20 spooled, 0 dropped/,
         "down: the exit's report");
    my @files = glob "$n->{prefix}/spool/mp-*.json";
    is(scalar @files, 1, "down: one spool file");
    unlike($log, qr/\[alert\]/, "down: no [alert]");
}

# Mixpanel slow (300 ms an answer): the exit sends what is held, each
# answer read by the sender, none taken by the channel's reading
{
    dn_emulator($port + 1);
    dn_emu("faults", '{"delay_ms":300,"count":-1}');

    my $n = dn_nginx(port => $port, dirs => ["spool"],
                     conf => conf($port + 1));
    chmod 0777, "$n->{prefix}/spool";

    my $worker = orphan($n);

    my $http = HTTP::Tiny->new(keep_alive => 1);

    for my $i (1 .. 30) {
        $http->get("$n->{base}/v?i=$i");
    }

    kill 'QUIT', $worker;
    ok(dn_wait(15, sub { !kill 0, $worker }), "slow: the worker exits");

    my $log = dn_errlog($n);
    my @files = glob "$n->{prefix}/spool/mp-*.json";

    like($log, qr/on exit \d+ events were sent, 0 spooled, 0 dropped/,
         "slow: the exit sent everything");
    is(scalar @files, 0, "slow: nothing spooled");
    is(dn_emu("stats")->{events}{stored}, 30, "slow: Mixpanel has 30");
    unlike($log, qr/\[alert\]/, "slow: no [alert]");
    unlike($log, qr/mixpanel: .*fail/, "slow: no failed attempt");
}

done_testing();
