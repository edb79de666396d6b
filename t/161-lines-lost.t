# The sender's log lines wait for the worker in an outbox of 64: when more
# come at once, the rest are counted and the worker says how many were not
# logged, once, for that burst only (docs/troubleshooting.md).  200
# corrupt spool files at start are set aside in one look, 200 lines at
# once: 64 or more are logged (the worker's drain may take some while the
# sender sets files aside), the rest counted, at least 72, and said once;
# after seconds of drains, still once.  Then a line that comes alone (a
# 500) is logged, with no count of lost ones.  A plain Test::More file
# driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
dn_emulator($port + 1);

my $files = 200;

my $n = dn_nginx(port => $port, dirs => ["spool"], before => sub {
    my ($prefix) = @_;
    for my $i (1 .. $files) {
        open my $fh, '>', "$prefix/spool/mp-1-1-$i.json" or die $!;
        print $fh "not a spool file $i\n";
        close $fh;
    }
    chmod 0777, "$prefix/spool";
}, conf => <<'_EOC_');
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-lost;
    mixpanel_flush_interval 10ms;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $spool = "$n->{prefix}/spool";

ok(dn_wait(10, sub { my @c = glob("$spool/*.corrupt"); @c == $files }),
   "$files corrupt files set aside");

# many drains (one every 100 ms)
Time::HiRes::sleep(2);

my $log = dn_errlog($n);
my @aside = $log =~ /\[error\] [^\n]*mixpanel: spool file "[^"]+" is corrupt, moved aside/g;
my @lost = $log =~ /\[warn\] [^\n]*mixpanel: (\d+) lines of the sender were not logged, too many at once/g;

cmp_ok(scalar @aside, '>=', 64, "64 of the lines logged or more, "
                                  . scalar @aside);
is(scalar @lost, 1, "the lost ones said once");
is(scalar @aside + ($lost[0] // 0), $files, "each line logged or counted");
cmp_ok($lost[0] // 0, '>=', $files - 128, "and many lost: $lost[0]");

# a line now comes alone: logged, and no count of lost ones with it
dn_emu("faults", '{"status":500,"count":1,"path":"/import"}');
my $http = HTTP::Tiny->new(timeout => 10);
is($http->get("$n->{base}/t")->{status}, 200, "an event");
ok(dn_wait(15, sub { dn_status($n)->{events_sent} == 1 }),
   "sent after a 500");
Time::HiRes::sleep(0.5);

$log = dn_errlog($n);
like($log, qr/answered 500, will retry/, "the 500 logged");
@lost = $log =~ /lines of the sender were not logged/g;
is(scalar @lost, 1, "still said once: that burst only");

ok(dn_stop($n), "nginx quits");

done_testing();
