# The figures of the sender's lines an operator reads after a quit or an
# outage, each by its exact value, where the counts differ from one
# another and from one batch's or one section's:
#
# - at a quit, "on exit N events were sent, M spooled, K dropped" counts
#   every batch sent during the exit (three of one event each, one at a
#   time, each answered after a second), and
#   "events spooled to DIR on exit (F files)" the files written (one,
#   holding two projects' sections);
# - a replayed file's "N spooled events sent from FILE" counts that file's
#   events, all its sections, and no other file's; ", some rejected" for
#   the file Mixpanel refused a record of (in a section before another),
#   not for the files after it;
# - "N events spooled to DIR, retry time spent" counts the batch's events.
#
# Each at its level: an operator's error_log may show only some.
#
# A plain Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my $http = HTTP::Tiny->new(timeout => 10);

sub count_of {
    my ($log, $re) = @_;
    my @all = $log =~ /$re/g;
    return scalar @all;
}

# the lines "[LEVEL] ... mixpanel: TEXT" of a log
sub lines_of {
    my ($log, $level, $text) = @_;
    return count_of($log, qr/\[$level\] [^\n]*mixpanel: $text\n/);
}

# --- a quit: 3 events sent in 3 batches, 6 of two projects spooled -------

# tok-a's requests take a second each, one at a time: at the quit the
# first is in flight and two wait; they end during the exit
dn_emu("faults", JSON::PP::encode_json([
    { delay_ms => 1000, count => -1, token => "tok-a", path => "/import" },
    { status => 503, count => -1, token => "tok-b", path => "/import" },
    { status => 503, count => -1, token => "tok-c", path => "/import" } ]));

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_",
worker_processes 1;
worker_shutdown_timeout 8s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_batch_size 1;
    mixpanel_concurrency 1;
    mixpanel_flush_interval 10ms;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-[abc])\$ {
            mixpanel track;
            mixpanel_token \$1;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_
    before => sub { chmod 0777, "$_[0]/spool" });

my $spool = "$n->{prefix}/spool";

for my $t (("tok-a") x 3, ("tok-b") x 2, ("tok-c") x 4) {
    is($http->get("$n->{base}/$t")->{status}, 200, "$t: an event");
}

ok(dn_wait(5, sub { dn_status($n)->{events_queued} == 9 }),
   "nine events queued");
is(dn_status($n)->{events_sent}, 0, "none sent yet: tok-a's first in flight");
ok(dn_stop($n), "nginx quits");

my $log = dn_errlog($n);

is(dn_emu("events?token=tok-a")->{count}, 3, "tok-a's three delivered");
is(lines_of($log, "notice",
            qr/on exit 3 events were sent, 6 spooled, 0 dropped/),
   1, "the exit's line: 3 sent (three batches), 6 spooled, none dropped");
my @files = glob "$spool/mp-*.json";
is(scalar @files, 1, "one spool file written");
is(lines_of($log, "warn",
            qr/6 events spooled to "\Q$spool\E" on exit \(1 file\)/),
   1, "the spool's line: 6 events, 1 file (two projects' sections)");

# --- the replay of three files, then of a fourth -------------------------

# a file of two sections: two events, the second of which Mixpanel
# refuses (an empty event name), then one event; and a file of one event
my $bad = dn_spool_section("tok-a", 2);
my $i = 0;
$bad =~ s/"event":"Spooled"/++$i == 2 ? '"event":""' : $&/ge;
$bad .= dn_spool_section("tok-a", 1);

for ([ "mp-1-1-0.json", $bad ], [ "mp-1-1-1.json",
                                  dn_spool_section("tok-a", 1) ]) {
    open my $fh, '>', "$spool/$_->[0]" or die $!;
    print $fh $_->[1];
    close $fh;
}

dn_emu("faults", undef, "DELETE");
dn_emu("faults", JSON::PP::encode_json([
    { status => 503, count => -1, token => "tok-r", path => "/import" } ]));

my $n2 = dn_nginx(port => $port, conf => <<"_EOC_");
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_batch_size 2;
    mixpanel_flush_interval 100ms;
    mixpanel_retry_max_time 1s;
    mixpanel_spool $spool;
    server {
        listen 127.0.0.1:%PORT%;
        location ~ ^/(tok-[ar])\$ {
            mixpanel track;
            mixpanel_token \$1;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

ok(dn_wait(15, sub { count_of(dn_errlog($n2),
                              qr/spooled events sent from/) == 3 }),
   "the three files replayed");

$log = dn_errlog($n2);
my $exit = $files[0];
is(lines_of($log, "notice",
            qr/6 spooled events sent from "\Q$exit\E"/),
   1, "the exit's file: its two sections' 6 events");
is(lines_of($log, "notice",
            qr/2 spooled events sent from "\Q$spool\E\/mp-1-1-0\.json", /
            . qr/some rejected/),
   1, "the file with a record refused in its first section: 2 sent, "
      . "some rejected");
is(lines_of($log, "notice",
            qr/1 spooled events sent from "\Q$spool\E\/mp-1-1-1\.json"/),
   1, "the file of one event: 1 sent, none rejected");
is(dn_status($n2)->{events_replay_rejected}, 1, "one record rejected");

# a fourth file, looked at once a live batch succeeds after a spooling
open my $fh, '>', "$spool/mp-1-1-9.json" or die $!;
print $fh dn_spool_section("tok-a", 1);
close $fh;

is($http->get("$n2->{base}/tok-r")->{status}, 200, "tok-r: an event");
is($http->get("$n2->{base}/tok-r")->{status}, 200, "tok-r: another");
ok(dn_wait(10, sub { dn_status($n2)->{events_spooled} == 2 }),
   "refused, their retry time spent: spooled");
is(lines_of(dn_errlog($n2), "warn",
            qr/2 events spooled to "\Q$spool\E", retry time spent/),
   1, "the line counts the batch's 2 events");

is($http->get("$n2->{base}/tok-a")->{status}, 200, "tok-a: a live event");
ok(dn_wait(15, sub { dn_errlog($n2) =~ /mp-1-1-9\.json/ }),
   "the fourth file replayed");
Time::HiRes::sleep(0.5);
$log = dn_errlog($n2);
is(lines_of($log, "notice",
            qr/1 spooled events sent from "\Q$spool\E\/mp-1-1-9\.json"/),
   1, "its line: its own 1 event, not the earlier files' too, and "
      . "nothing rejected");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n2), "nginx quits");

done_testing();
