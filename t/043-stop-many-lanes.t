# Regression: "nginx -s stop" (SIGTERM) with Mixpanel down, the spool
# on and events held in many lanes (mixpanel_token from a variable: a
# token per customer) writes one fsync()ed spool file per lane after the
# 300 ms budget.  The master sends SIGKILL about 3 s after SIGTERM, in the
# middle of that: the worker dies ("exited on signal 9", an [alert]), the
# events of the lanes not yet written are lost and counted nowhere, and a
# temporary file is left behind.  Here 5000 lanes (1 ms an fsync on this
# disk); on a disk where fsync takes 10 ms, some 300 lanes are enough.
#
# Expected (SPEC §5): "each old worker flushes what it holds within a
# bounded time ..., then spools the rest ... or counts it as dropped — all
# of it, at the deadline, whatever the number of batches, tokens and
# kinds.  A worker never hangs on exit, leaves no [alert] in the log".
#
# Now: an exit appends a section per lane to files of about 4 MB, syncs
# them once and renames them (one file here, in about 0.1 s); a replayed
# section is marked sent in place, so a quit during the replay of such a
# file leaves only the rest.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;
my $lanes = $ENV{LANES} || 5000;

my $conf = <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    # nothing listens there: Mixpanel is down (until the second start)
    mixpanel_api http://127.0.0.1:@{[ $port + 2 ]};
    mixpanel_flush_interval 100ms;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token \$arg_tok;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf);

my $http = HTTP::Tiny->new(keep_alive => 1);
$http->get("$n->{base}/v?tok=customer-$_") for 1 .. $lanes;

my $s;
ok(dn_wait(20, sub { $s = dn_status($n); $s->{events_queued} == $lanes }),
   "$lanes events queued");

my $t0 = Time::HiRes::time();
ok(dn_stop($n, 'TERM', 30), "nginx stops");
diag(sprintf("exit took %.2f s", Time::HiRes::time() - $t0));

my $log = dn_errlog($n);
unlike($log, qr/exited on signal 9/, "the worker was not killed");
unlike($log, qr/\[alert\]/, "no [alert]");

my ($files, $records, $sections) = (0, 0, 0);
opendir my $d, "$n->{prefix}/spool" or die;
my @json = grep { /^mp-.*\.json$/ } readdir $d;
for my $f (@json) {
    open my $fh, '<', "$n->{prefix}/spool/$f" or next;
    $files++;
    for (<$fh>) {
        if (/^\{"kind":"import","token":"customer-\d+","count":1,/) {
            $sections++;
        } else {
            $records++;
        }
    }
}
my @tmp = grep { /\.tmp$/ } do { rewinddir $d; readdir $d };

my ($dropped) = $log =~ /on exit \d+ events were sent, \d+ spooled, (\d+) dropped/;
$dropped //= 0;

is($records, $lanes, "every event spooled");
is($sections, $lanes, "a section per lane");
is($dropped, 0, "none dropped");
is($files, 1, "in one file ($lanes sections of one event, under 4 MB)");
is(scalar @tmp, 0, "no temporary file left");

# the next start sends them, a section after the other, slowly: it is
# stopped half way, the sections sent are marked in the file
dn_emulator($port + 2);
dn_emu("faults", '{"delay_ms":5,"count":-1}');

my $m = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                 before => sub {
    my ($prefix) = @_;
    rename "$n->{prefix}/spool/$_", "$prefix/spool/$_" or die for @json;
});

ok(dn_wait(30, sub { $s = dn_status($m); $s->{events_replayed} >= 100 }),
   "the replay began");
ok(dn_stop($m), "nginx quits during the replay");

my ($sent, $left) = (0, 0);
for my $f (glob "$m->{prefix}/spool/mp-*.json") {
    open my $fh, '<', $f or die;
    for (<$fh>) {
        $sent++ if /^\{"kind":"sent__","token":"customer-\d+","count":1,/;
        $left++ if /^\{"kind":"import","token":"customer-\d+","count":1,/;
    }
}
my $replayed = dn_emu("stats")->{events}{stored};
cmp_ok($sent, '>=', 100, "the sections sent ($sent) are marked");
is($sent + $left, $lanes, "the others ($left) are left");
cmp_ok($replayed, '>=', $sent, "Mixpanel has the ones marked");
dn_emu("faults", undef, "DELETE");

# and the next start sends the rest, once
$m = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
              before => sub {
    my ($prefix) = @_;
    rename "$m->{prefix}/spool/$_", "$prefix/spool/$_" or die
        for map { s{.*/}{}r } glob "$m->{prefix}/spool/mp-*.json";
});

ok(dn_wait(120, sub { $s = dn_status($m); $s->{events_replayed} >= $left }),
   "the spooled events were replayed");
is($s->{events_replayed}, $left, "the $left left were replayed");
ok(dn_wait(10, sub { !(() = glob "$m->{prefix}/spool/mp-*") }),
   "the spool file was removed");

my $stats = dn_emu("stats");
is($stats->{events}{stored}, $lanes, "$lanes events stored");
# the one in flight at the quit may have arrived twice (its $insert_id
# makes it count once)
cmp_ok($stats->{events}{received}, '<=', $lanes + 1,
       "none sent twice but the one in flight at the quit "
       . "($stats->{events}{received} received)");
my $projects = dn_emu("projects");
is(scalar @{ $projects->{projects} }, $lanes, "in $lanes projects");

ok(dn_stop($m), "nginx quits");

done_testing();
