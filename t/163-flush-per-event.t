# A partial batch waits mixpanel_flush_interval counted from its first
# event (docs/directives.md), also when that event comes while the sender
# thread is awake for another project's: tok-a's event at 0 s, tok-b's at
# 0.3 s, flush interval 1 s.  tok-b's leaves at most a second after it
# came (the thread takes it at 1 s, with tok-a's batch), not a second
# after the thread took it (1.7 s after it came).  Then the same once the
# thread has slept long: a third event, alone, leaves a second after it.
# A plain Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $n = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token \$arg_t;
    mixpanel_flush_interval 1s;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $http = HTTP::Tiny->new(timeout => 10);

# when the emulator took each project's request, in s since the epoch
sub arrived {
    my %at;
    for my $r (@{ dn_emu("requests?path=/import")->{requests} }) {
        my $t = $r->{records}[0]{properties}{token} // next;
        $at{$t} //= $r->{received_ms} / 1000;
    }
    return \%at;
}

# a long sleep first: the thread idle, woken by tok-a's event
Time::HiRes::sleep(1.5);

my $t_a = Time::HiRes::time();
is($http->get("$n->{base}/t?t=tok-a")->{status}, 200, "tok-a's event");
Time::HiRes::sleep(0.3);
my $t_b = Time::HiRes::time();
is($http->get("$n->{base}/t?t=tok-b")->{status}, 200, "tok-b's, 0.3 s later");

my $at;
ok(dn_wait(10, sub { $at = arrived(); $at->{"tok-a"} && $at->{"tok-b"} }),
   "both sent");

my $a = ($at->{"tok-a"} // 0) - $t_a;
my $b = ($at->{"tok-b"} // 0) - $t_b;
ok($a >= 0.9 && $a <= 1.4, sprintf("tok-a's %.2f s after it came", $a));
ok($b >= 0 && $b <= 1.3,
   sprintf("tok-b's %.2f s after it came: within the second", $b));

# alone after a long sleep: a second after it came, not less
Time::HiRes::sleep(2);
my $t_c = Time::HiRes::time();
is($http->get("$n->{base}/t?t=tok-c")->{status}, 200, "tok-c's event");
ok(dn_wait(10, sub { $at = arrived(); $at->{"tok-c"} }), "sent");
my $c = ($at->{"tok-c"} // 0) - $t_c;
ok($c >= 0.9 && $c <= 1.4, sprintf("tok-c's %.2f s after it came", $c));

ok(dn_stop($n), "nginx quits");

done_testing();
