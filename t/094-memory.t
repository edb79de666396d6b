# Memory during an outage: bounded by the queue, about what an event
# takes, and reused once the queue drains: after a second outage of the
# same size the worker holds no more at rest (the freed records are not
# given back to the system with malloc_trim(), which stalls the worker:
# docs/delivery.md, Memory).
# A plain Test::More file: it reads the worker's resident size from /proc.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use POSIX ":sys_wait_h";
use Time::HiRes qw(sleep time);
use t::Mixpanel;

my $N = 20000;

if ($ENV{TEST_NGINX_USE_VALGRIND} || $ENV{ASAN_OPTIONS}) {
    plan skip_all => "resident sizes mean nothing under valgrind or ASan";
}

start_emulator("--identity", "original");

my $nginx = start_nginx(conf => <<"_EOC_");
worker_processes 1;
error_log logs/error.log notice;

events {
    worker_connections 64;
}

http {
    access_log off;
    keepalive_requests 100000;

    mixpanel_api http://127.0.0.1:$ENV{TEST_NGINX_EMULATOR_PORT};
    mixpanel_token tok-memory;
    mixpanel_flush_interval 100ms;
    mixpanel_queue_size 100000;
    mixpanel_timeout 1s;

    server {
        listen 127.0.0.1:%PORT%;

        location = /t {
            mixpanel track;
            mixpanel_property plan pro;
            mixpanel_property seats \$arg_n type=number;
            return 204;
        }

        location = /status {
            mixpanel_status;
        }
    }
}
_EOC_

my ($pid, $prefix) = ($nginx->{pid}, $nginx->{prefix});

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
my $base = $nginx->{base};


sub worker_rss {
    my $master = $pid;
    opendir my $d, "/proc" or die;
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $s, '<', "/proc/$p/status" or next;
        my %f = map { /^(\w+):\s*(.*)$/ ? ($1, $2) : () } <$s>;
        next unless ($f{PPid} // 0) == $master;
        return $1 if ($f{VmRSS} // "") =~ /(\d+) kB/;
    }
    return undef;
}

sub status {
    my $r = $http->get("$base/status");
    return JSON::PP::decode_json($r->{content});
}

ok(wait_until(10, sub { $http->get("$base/status")->{success} }),
   "nginx answers");

# warm up: the first events, delivered
$http->get("$base/t?n=$_") for 1 .. 200;
ok(wait_until(20, sub { status()->{queue_depth} == 0 }), "warmed up");

my $base_rss = worker_rss();
ok($base_rss, "worker resident size: $base_rss kB");

my ($sent, $after1, $peak1, $after2) = (200, undef, undef, undef);

for my $round (1, 2, 3) {
    emulator("faults", '{"status":503,"count":-1,"path":"/import"}');

    my $failed = 0;
    for my $i (1 .. $N) {
        my $r = $http->get("$base/t?n=$i");
        $failed++ unless $r->{status} == 204;
    }

    is($failed, 0, "outage $round: $N requests answered while Mixpanel fails");

    my $st = status();
    cmp_ok($st->{queue_depth}, '>=', $N - 2000,
           "outage $round: the events are held");

    my $peak_rss = worker_rss();
    my $per_event = ($peak_rss - $base_rss) * 1024 / $N;
    diag(sprintf "outage $round: resident %d kB -> %d kB: %.0f bytes per "
                 . "queued event", $base_rss, $peak_rss, $per_event);

    cmp_ok($per_event, '<=', 2048,
           "outage $round: at most 2 KiB per queued event");

    emulator("faults/clear", "{}");

    ok(wait_until(90, sub { status()->{queue_depth} == 0 }),
       "outage $round: the queue drains once Mixpanel recovers");

    $sent += $N;
    $st = status();
    is($st->{events_sent}, $sent, "outage $round: every event delivered");
    is($st->{events_dropped}{queue_full}, 0, "outage $round: nothing dropped");

    sleep 0.5;
    my $after_rss = worker_rss();
    diag("outage $round: resident after the drain: $after_rss kB");

    if ($round == 1) {
        ($after1, $peak1) = ($after_rss, $peak_rss);

    } elsif ($round == 2) {
        $after2 = $after_rss;

        # the records of an outage are some 10 MB; the senders' batch
        # buffers (up to mixpanel_concurrency of them, kept for reuse)
        # add as many as were ever in flight at once, which varies from
        # run to run: up to 2.5 MB more after the second outage, beside
        # other suites.  Half the records kept fails here; a quarter kept
        # fails after the third, when the buffers no longer grow.
        cmp_ok($after_rss, '<=', $after1 + 0.5 * ($peak1 - $base_rss),
               "what the first outage freed served the second: "
               . "no growth at rest");

    } else {
        cmp_ok($after_rss, '<=', $after2 + 0.25 * ($peak1 - $base_rss),
               "and the third: no growth at rest");
    }
}

ok(stop_nginx($nginx), "nginx quits");

done_testing();
