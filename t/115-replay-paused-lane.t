# A spool file whose lane is paused (its token answered 429 with a
# Retry-After of two minutes) is left for later, and another token's spool
# file is replayed meanwhile: one stuck token does not hold back the
# others' replay (SPEC §5, issue 13: per-token lanes, replay interleaved).
#
# The order, as the sender looks at the spool every 30 s: tok-a's file is
# written while tok-a's lane is paused, and left alone at the next look;
# tok-b's file, written after that look, is replayed at the one after
# (about 60 s after the start), long before tok-a's lane resumes.  A plain
# Test::More file driving nginx directly (t/Direct.pm); about 60 s.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $t0 = time;
my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token $arg_tok;
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_retry_max_time 10m;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

# a spool file of one event, as the module writes them
sub spool_file {
    my ($token, $name, $event) = @_;
    my $t = int(time * 1000) - 60000;
    my $path = "$n->{prefix}/spool/$name";
    open my $fh, '>', "$path.tmp" or die $!;
    print $fh "{\"kind\":\"import\",\"token\":\"$token\",\"count\":1,"
              . "\"time\":1}\n{\"event\":\"$event\",\"properties\":{"
              . "\"token\":\"$token\",\"time\":$t,\"distinct_id\":\"d-$token\","
              . "\"\$insert_id\":\"" . unpack("H32", $name) . "\"}}\n";
    close $fh;
    chmod 0644, "$path.tmp";
    rename "$path.tmp", $path or die $!;
}

dn_emu("faults", '{"status":429,"retry_after":120,"count":-1,'
                 . '"token":"tok-a","path":"/import"}');

my $http = HTTP::Tiny->new;
is($http->get("$n->{base}/t?tok=tok-a")->{status}, 200,
   "a tok-a request: its batch is refused, Retry-After 120 s");

ok(dn_wait(10, sub { dn_emu("requests?path=/import")->{count} >= 1 }),
   "tok-a's batch was tried, its lane is paused");

spool_file("tok-a", "mp-7-1-1.json", "Spooled A");

# past the look at 30 s, which leaves tok-a's file alone
sleep(35 - (time - $t0)) if time - $t0 < 35;

spool_file("tok-b", "mp-7-2-2.json", "Spooled B");

my $events;
ok(dn_wait(40, sub {
       $events = dn_emu("events?event=Spooled%20B");
       $events->{count} >= 1 }),
   "tok-b's spool file was replayed while tok-a's lane is paused");
cmp_ok(time - $t0, '<', 110, "before tok-a's lane resumed");
is($events->{count}, 1, "once");

is(dn_emu("events?event=Spooled%20A")->{count}, 0,
   "tok-a's spool file waits for its lane");
ok(-e "$n->{prefix}/spool/mp-7-1-1.json", "and is still in the spool");

my $s;
ok(dn_wait(10, sub { $s = dn_status($n); $s->{events_replayed} == 1 }),
   "one event replayed, as the status counts it")
    or diag("events_replayed: $s->{events_replayed}");

dn_emu("faults/clear", "{}");
ok(dn_stop($n), "nginx quits");

done_testing();
