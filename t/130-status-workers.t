# The status of several workers: queue_capacity is the sum of the live
# workers' queues (3 x mixpanel_queue_size 7 = 21), queue_oldest_age the
# age of the oldest event any of them holds (an event one worker cannot
# send, Mixpanel unreachable), in JSON and in Prometheus' format.  A
# worker that stops reporting (stopped, not dead: its pid lives on) leaves
# the sum 10 s after its last report, not before, and comes back when it
# reports again.  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
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
my @workers = grep {
    open my $f, '<', "/proc/$_/stat" or next;
    (split ' ', scalar <$f>)[3] == $n->{pid} } map { m{(\d+)$} }
    glob "/proc/[0-9]*";
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

done_testing();
