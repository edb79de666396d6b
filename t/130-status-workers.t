# The status of several workers: queue_capacity is the sum of the live
# workers' queues (3 x mixpanel_queue_size 7 = 21), queue_oldest_age the
# age of the oldest event any of them holds (an event one worker cannot
# send, Mixpanel unreachable), in JSON and in Prometheus' format.  A
# worker that stops reporting (stopped, not dead: its pid lives on) leaves
# the sum 10 s after its last report, not before, and comes back when it
# reports again.  The oldest event is the oldest of all workers, whatever
# line of the status its worker reports on, and within a worker the
# oldest of all its projects' queues.  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

# nothing listens on port + 1: every send fails and is retried
my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 3;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:@{[ $port + 1 ]};
    mixpanel_token tok-workers;
    mixpanel_queue_size 7;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

sub prometheus {
    my ($name) = @_;
    my $text = $http->get("$n->{base}/status?format=prometheus")->{content};
    return $text =~ /^nginx_mixpanel_\Q$name\E (\d+)$/m ? $1 : undef;
}

ok(dn_wait(15, sub { dn_status($n)->{queue_capacity} == 21 }),
   "queue_capacity: three workers' 7")
    or diag("got " . dn_status($n)->{queue_capacity});
is(prometheus("queue_capacity"), 21, "the same in Prometheus' format");
is(dn_status($n)->{queue_oldest_age}, 0, "no event held: no age");

is($http->get("$n->{base}/t")->{status}, 200, "an event Mixpanel cannot get");
sleep(3.5);

my $s = dn_status($n);
is($s->{queue_depth}, 1, "held by one worker");
cmp_ok($s->{queue_oldest_age}, '>=', 3, "queue_oldest_age: its age, 3 s");
cmp_ok($s->{queue_oldest_age}, '<=', 10, "not more");
cmp_ok(prometheus("queue_oldest_age_seconds") // -1, '>=', 3,
       "the same in Prometheus' format");
is($s->{queue_capacity}, 21, "the capacity unchanged");

# a worker stopped (SIGSTOP): alive, but it no longer reports
my @workers = map { $_->[0] } dn_workers($n);
is(scalar @workers, 3, "three workers");
# a connection the kernel hands to the stopped worker waits for it: asked
# again on another connection, with a short timeout
my $quick = HTTP::Tiny->new(timeout => 1);

sub ask {
    my ($query) = @_;
    for (1 .. 10) {
        my $r = $quick->get("$n->{base}/status$query");
        return $r->{content} if $r->{status} == 200;
    }
    return "";
}

sub capacity { ask("") =~ /"queue_capacity":(\d+)/ ? $1 : -1 }

my $stopped = time();
kill 'STOP', $workers[0];
sleep(7);
is(capacity(), 21, "7 s after it stopped: still in");
ok(dn_wait(10, sub { capacity() == 14 }), "then it leaves the sum");
my $left = time() - $stopped;
ok($left >= 9.5 && $left <= 14, sprintf("after %.1f s: 10 s, plus the second "
   . "it was in", $left));
is(ask("?format=prometheus") =~ /^nginx_mixpanel_queue_capacity (\d+)$/m
   ? $1 : -1, 14, "the same in Prometheus' format");
kill 'CONT', $workers[0];
ok(dn_wait(5, sub { dn_status($n)->{queue_capacity} == 21 }),
   "back when it reports again");

ok(dn_stop($n, 'TERM'), "nginx stops");

# The oldest event of three workers is the oldest of all, whichever
# worker holds it and whatever line of the status it reports on (the
# workers take their lines in the order they first report): twice, an
# event on one worker, and 3 s later one on each of the others, a
# different worker the first each time, so that in one of the two rounds
# at least its line is not the last one.  Mixpanel (the emulator) answers
# 503 meanwhile, then again 200, and the queues empty between rounds.
# Each request goes on a kept-alive connection whose worker is known from
# $pid; reuseport spreads the connections over the workers.

dn_emulator($port + 2);

$n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 3;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:@{[ $port + 2 ]};
    mixpanel_token tok-workers;
    mixpanel_flush_interval 100ms;
    server {
        listen 127.0.0.1:%PORT% reuseport;
        location = /t { mixpanel track; return 200 "\$pid\n"; }
        location ~ ^/(tok-[ab])\$ {
            mixpanel track;
            mixpanel_token \$1;
            return 200 "\$pid\n";
        }
        location = /pid { return 200 "\$pid\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

ok(dn_wait(15, sub { dn_status($n)->{queue_capacity} }), "nginx answers");

# one request on a kept-alive connection: the pid of the worker answering
sub on {
    my ($sock, $path) = @_;
    print $sock "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $head = "";
    while (my $line = <$sock>) {
        $head .= $line;
        last if $line eq "\r\n";
    }
    my ($len) = $head =~ /^Content-Length: (\d+)/mi;
    read($sock, my $body, $len // 0);
    return $body =~ /^(\d+)$/ ? $1 : 0;
}

my (%conn, @kept);
for (1 .. 200) {
    last if keys %conn == 3;
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or next;
    my $pid = on($sock, "/pid");
    push @kept, $sock;
    $conn{$pid} //= $sock if $pid;
}
is(scalar keys %conn, 3, "a connection to each of the three workers");

my @pids = sort { $a <=> $b } keys %conn;

for my $round (0, 1) {
    my ($first, @others) = ($pids[$round], grep { $_ != $pids[$round] } @pids);

    dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');

    is(on($conn{$first}, "/t"), $first, "round $round: an event on one");
    sleep(3.2);
    is(on($conn{$_}, "/t"), $_, "3 s later one on another") for @others;

    ok(dn_wait(5, sub { dn_status($n)->{queue_depth} == 3 }),
       "three events held, one by each worker");

    # each worker reports its oldest event once a second
    sleep(1.5);
    $s = dn_status($n);
    cmp_ok($s->{queue_oldest_age}, '>=', 3,
           "queue_oldest_age: the first one's, 3 s old");
    cmp_ok($s->{queue_oldest_age}, '<=', 10, "not more");
    cmp_ok(prometheus("queue_oldest_age_seconds") // -1, '>=', 3,
           "the same in Prometheus' format");

    dn_emu("faults", undef, "DELETE");
    ok(dn_wait(30, sub { dn_status($n)->{queue_depth} == 0 }),
       "Mixpanel answers again: the queues empty");
    is(dn_status($n)->{queue_oldest_age}, 0, "no event held: no age");
}

# the same within one worker, whose oldest event is the oldest of its
# projects' (each has a queue of its own): twice, an event of one
# project, and 3 s later one of another, the other one first the second
# time
for my $round ([qw(a b)], [qw(b a)]) {
    my $w = $conn{ $pids[0] };

    dn_emu("faults", '{"status":503,"count":-1,"path":"/import"}');

    is(on($w, "/tok-$round->[0]"), $pids[0], "tok-$round->[0] first");
    sleep(3.2);
    is(on($w, "/tok-$round->[1]"), $pids[0], "3 s later tok-$round->[1]");

    ok(dn_wait(5, sub { dn_status($n)->{queue_depth} == 2 }),
       "two events held by one worker");
    sleep(1.5);
    $s = dn_status($n);
    cmp_ok($s->{queue_oldest_age}, '>=', 3,
           "queue_oldest_age: tok-$round->[0]'s, 3 s old");
    cmp_ok($s->{queue_oldest_age}, '<=', 10, "not more");

    dn_emu("faults", undef, "DELETE");
    ok(dn_wait(30, sub { dn_status($n)->{queue_depth} == 0 }),
       "Mixpanel answers again: the queue empties");
}

close $_ for @kept;
ok(dn_stop($n, 'TERM'), "nginx stops");

done_testing();
