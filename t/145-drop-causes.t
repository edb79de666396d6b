# The line of events dropped after mixpanel_retry_max_time names the last
# failure by its kind (docs/troubleshooting.md): an answer that never
# comes, a host name that does not resolve, a connection closed with no
# answer, a redirect, a file sink that cannot be written; and at exit, a
# request still in flight, and six lanes failing six ways: four
# lines at most, the last "several failures", every event in one of them.
# t/120 has "could not connect", t/098 a 401, t/031 a 503.  One nginx per
# cause (mixpanel_api takes one URL), but one for the six lanes.
# A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $emu = "http://127.0.0.1:" . ($port + 1);

sub conf {
    my ($api, $more) = @_;

    return <<"_EOC_";
worker_processes 1;
worker_shutdown_timeout 2s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api $api;
    mixpanel_token tok-cause;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1s;
$more
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_
}

# one event, dropped once its retry time is spent: the cause logged
sub cause {
    my ($name, $api, $fault, $more) = @_;

    dn_emu("faults", undef, "DELETE");
    dn_emu("faults", $fault) if $fault;

    my $n = dn_nginx(port => $port, conf => conf($api, $more // ""));

    is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200,
       "$name: an event");

    my $s;
    ok(dn_wait(40, sub { $s = dn_status($n);
                         $s->{events_dropped}{retry_expired} == 1 }),
       "$name: dropped after the retry time");

    my $cause;
    dn_wait(10, sub {
        ($cause) = dn_errlog($n)
            =~ /\[error\].*mixpanel: 1 events dropped after \d+ attempts? in \d+ ms \(mixpanel_retry_max_time 1000 ms\), last failure: (.*)$/m;
        defined $cause });

    dn_emu("faults", undef, "DELETE");
    ok(dn_stop($n), "$name: nginx quits");

    return $cause // "(no line)";
}

is(cause("hang", $emu, '{"hang":true,"count":-1,"path":"/import"}',
         "    mixpanel_timeout 1s;"),
   "\"$emu\" did not answer in time",
   "an answer that never came: did not answer in time");

is(cause("resolve", "http://no-such-host.invalid", undef,
         "    mixpanel_timeout 30s;"),
   "could not resolve \"http://no-such-host.invalid\"",
   "a host name that does not resolve: could not resolve");

is(cause("empty", $emu, '{"close":"empty","count":-1,"path":"/import"}'),
   "sending to \"$emu\" failed: Server returned nothing (no headers, no "
   . "data)",
   "a connection closed with no answer: the transfer's error");

is(cause("redirect", $emu,
         '{"status":307,"count":-1,"path":"/import"}'),
   "\"$emu\" answered 307, a redirect",
   "a redirect: answered 307, a redirect");

is(cause("full", "file:/dev/full", undef),
   "write() to \"/dev/full\" failed",
   "a file sink that cannot be written: write() failed");

# at exit: a request in flight when the budget ends
{
    dn_emu("faults", '{"hang":true,"count":-1,"path":"/import"}');

    my $n = dn_nginx(port => $port,
                     conf => conf($emu, "    mixpanel_timeout 30s;"));
    is(HTTP::Tiny->new->get("$n->{base}/t")->{status}, 200, "exit: an event");
    ok(dn_wait(10, sub {
           @{ dn_emu("requests?path=/import")->{requests} } >= 1 }),
       "exit: its request in flight, never answered");
    sleep(0.3);
    ok(dn_stop($n), "exit: nginx quits");
    dn_emu("faults", undef, "DELETE");

    like(dn_errlog($n),
         qr/mixpanel: 1 events dropped on exit, last failure: still in flight at the deadline/,
         "exit: still in flight at the deadline");
}

# at exit: six lanes, each failing its own way.  The exit's drop lines
# are four at most (SPEC §5): one per cause for the first three, then one
# "several failures" line for the rest; every dropped event is in one.
{
    my @status = (500, 502, 503, 504, 429, 507);
    dn_emu("faults", JSON::PP::encode_json(
        [ map { { status => $_, count => -1, token => "tok-$_" } }
              @status ]));

    my $n = dn_nginx(port => $port, conf => <<'_EOC_');
worker_processes 1;
worker_shutdown_timeout 2s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_flush_interval 50ms;
    mixpanel_retry_max_time 1h;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t {
            mixpanel track;
            mixpanel_token $arg_t;
            return 200 "ok\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

    my $http = HTTP::Tiny->new;
    my $ok = 0;
    for my $i (0 .. $#status) {
        $ok += $http->get("$n->{base}/t?t=tok-$status[$i]")->{status} == 200
            for 0 .. $i;
    }
    is($ok, 21, "six lanes: 1, 2 ... 6 events");
    ok(dn_wait(20, sub {
           my %seen = map { $_->{status} // 0 => 1 }
                      @{ dn_emu("requests")->{requests} };
           !grep { !$seen{$_} } @status }),
       "each lane failed once: 500, 502, 503, 504, 429, 507");

    ok(dn_stop($n), "six lanes: nginx quits");
    dn_emu("faults", undef, "DELETE");

    my $log = dn_errlog($n);
    my @lines = $log =~ /mixpanel: (\d+) events dropped on exit, (?x)
                           last\ failure:\ ([^\n]*)/g;
    my ($sum, @causes) = (0);
    while (my ($k, $why) = splice @lines, 0, 2) {
        $sum += $k;
        push @causes, $why;
    }
    like($log, qr/on exit 0 events were sent, 0 spooled, 21 dropped/,
         "six lanes: 21 dropped");
    is($sum, 21, "six lanes: each dropped event in a drop line")
        or diag(join "\n", @causes);
    is(scalar @causes, 4, "six lanes: four lines");
    is(scalar(grep { $_ eq "several failures" } @causes), 1,
       "six lanes: one of them \"several failures\"");
    is(scalar(grep { /^"\Q$emu\E" answered (?:50[02347]|429)$/ } @causes),
       3,
       "six lanes: the others name an answer each")
        or diag(join "\n", @causes);
}

done_testing();
