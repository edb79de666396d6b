# Faults under load: two clients send requests steadily for a while, the
# emulator cycles through up, 503, 429, slow and connection resets, and
# nginx is reloaded every few seconds.  No request may fail, no worker may
# crash, and every event must be accounted for by the counters and
# received by Mixpanel exactly as many times as the counters say.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use POSIX ":sys_wait_h";
use Time::HiRes qw(sleep time);
use t::Mixpanel;

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan skip_all => "load under valgrind proves nothing";
}

my $duration = $ENV{TEST_LOAD_SECONDS} || 24;

start_emulator("--identity", "original");

my $nginx = start_nginx(dirs => ["spool"], conf => <<"_EOC_");
worker_processes 2;
worker_shutdown_timeout 3s;
error_log logs/error.log notice;

events {
    worker_connections 256;
}

http {
    access_log off;

    mixpanel_api http://127.0.0.1:$ENV{TEST_NGINX_EMULATOR_PORT};
    mixpanel_token tok-load;
    mixpanel_flush_interval 200ms;
    mixpanel_batch_size 500;
    mixpanel_timeout 2s;
    mixpanel_retry_max_time 20s;
    mixpanel_spool %PREFIX%/spool;

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel track;
            mixpanel_property n \$arg_n type=number;
            return 200 "ok\\n";
        }

        location = /status {
            mixpanel_status;
        }
    }
}
_EOC_

my ($pid, $prefix) = ($nginx->{pid}, $nginx->{prefix});

my $http = HTTP::Tiny->new(timeout => 10);
my $base = $nginx->{base};


sub status {
    my $r = $http->get("$base/status");
    return $r->{success} ? JSON::PP::decode_json($r->{content}) : undef;
}

ok(wait_until(10, sub { status() }), "nginx answers");

# two clients, each counting its answers
my @clients;

for my $c (1 .. 2) {
    my $cpid = fork();
    die "fork: $!" unless defined $cpid;

    if ($cpid == 0) {
        my $client = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
        my ($ok, $bad, $n) = (0, 0, 0);
        my $end = time + $duration;

        while (time < $end) {
            my $url = "$base/t?n=" . $n++;
            my $r = $client->get($url);

            # a reload closes idle keep-alive connections: the request
            # never reached nginx, and a client sends it again
            $r = $client->get($url) if $r->{status} == 599;

            if ($r->{status} == 200) { $ok++ } else { $bad++ }
            sleep 0.002;
        }

        open my $out, '>', "$prefix/client$c" or die;
        print $out "$ok $bad\n";
        close $out;
        POSIX::_exit(0);
    }

    push @clients, $cpid;
}

# the faults and the reloads, while the clients run
my @faults = (
    undef,
    '{"status":503,"count":-1,"path":"/import"}',
    undef,
    '{"status":429,"count":-1,"retry_after":1,"path":"/import"}',
    undef,
    '{"delay_ms":1500,"count":-1,"path":"/import"}',
    undef,
    '{"close":"reset","count":-1,"path":"/import"}',
);

my $start = time;
my ($step, $reloads) = (0, 0);

while (time < $start + $duration) {
    emulator("faults/clear", "{}");
    my $f = $faults[$step++ % @faults];
    emulator("faults", $f) if defined $f;

    sleep 1.5;

    if ($step % 2 == 0) {
        kill 'HUP', $pid;
        $reloads++;
    }

    sleep 1.5;
}

emulator("faults/clear", "{}");

waitpid $_, 0 for @clients;

my ($ok, $bad) = (0, 0);
for my $c (1 .. 2) {
    open my $in, '<', "$prefix/client$c" or die "client $c: $!";
    my ($o, $b) = split ' ', <$in>;
    $ok += $o;
    $bad += $b;
}

diag("$ok requests answered, $reloads reloads");
cmp_ok($ok, '>', 1000, "the clients made requests");
is($bad, 0, "no request failed");

# the old workers finish their retries, the new ones drain
my $st;
ok(wait_until(90, sub {
       $st = status();
       $st && $st->{queue_depth} == 0
       && !(grep { /is shutting down/ } `ps -e -o args`);
   }), "every worker's queue drained");

ok(wait_until(60, sub {
       opendir my $d, "$prefix/spool" or return 1;
       !grep { /^mp-/ } readdir $d;
   }), "the spool was replayed");

$st = status();

$st = status();
diag(JSON::PP->new->canonical->encode($st));

my $dropped = $st->{events_dropped};
is($st->{events_queued} + $dropped->{queue_full}, $ok,
   "each answered request was queued or dropped as queue_full");
is($st->{events_queued},
   $st->{events_sent} + $st->{events_rejected} + $dropped->{retry_expired}
   + $dropped->{shutdown} + $st->{events_spooled} + $st->{queue_depth},
   "every queued event is sent, rejected, dropped with a reason or spooled");

# a batch whose answer was lost to a reset or an exit deadline may have
# arrived all the same: those are the only events in doubt
my $stats = emulator("stats");
my $stored = $stats->{events}{stored};
my $doubt = $dropped->{shutdown} + $dropped->{retry_expired}
            + $st->{events_spooled} - $st->{events_replayed};
cmp_ok($stored, '>=', $st->{events_sent} + $st->{events_replayed},
       "Mixpanel holds every event counted as sent or replayed");
cmp_ok($stored, '<=', $st->{events_sent} + $st->{events_replayed} + $doubt,
       "and no more than those plus the ones dropped in doubt");
diag("duplicates received: " . ($stats->{events}{duplicates} // 0)
     . " (Mixpanel de-duplicates them by \$insert_id)");

my $log = do { local $/; open my $l, '<', "$prefix/logs/error.log"; <$l> };
unlike($log, qr/\[alert\]|\[crit\]/, "no [alert] or [crit]");
unlike($log, qr/exited on signal/, "no worker crashed");
unlike($log, qr/sender did not finish/, "every sender finished in time");

ok(stop_nginx($nginx), "nginx quits");

done_testing();
