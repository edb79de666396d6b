# Spool files of two projects, both told to wait (a 429 each, the first
# project for 3 s, the second for 25 s): the replay looks at the files
# again when the first project's wait ends, the earlier of the two, not
# the last one it skipped.  Which file the module looks at first is the
# spool directory's order (readdir), read here the same way: the file
# looked at first gets the short wait, so that the last one skipped is
# the long one.  Meanwhile the worker is idle: no look at the spool
# again and again while the second file waits (round 29's sweep: the
# skipped lane's time not forgotten made the sender spin).  A plain
# Test::More file driving nginx directly (t/Direct.pm).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes ();
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

dn_emulator($port + 2);

my ($first, $second);

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => <<"_EOC_",
worker_processes 1;
worker_shutdown_timeout 1s;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_token tok-a;
    mixpanel_spool %PREFIX%/spool;
    server {
        listen 127.0.0.1:%PORT%;
        location = /t { mixpanel track; return 200 "ok\\n"; }
        location = /status { mixpanel_status; }
    }
}
_EOC_
    before => sub {
        my ($prefix) = @_;
        my %token = ("mp-1-1-0.json" => "tok-a", "mp-1-1-1.json" => "tok-b");

        for my $f (sort keys %token) {
            open my $fh, '>', "$prefix/spool/$f" or die "$f: $!";
            print $fh dn_spool_section($token{$f}, 2);
            close $fh;
        }

        chmod 0777, "$prefix/spool";

        opendir my $d, "$prefix/spool" or die $!;
        my @order = grep { $token{$_} } readdir $d;
        closedir $d;

        ($first, $second) = map { $token{$_} } @order;

        dn_emu("faults", JSON::PP::encode_json([
            { status => 429, retry_after => 3, count => 1,
              token => $first, path => "/import" },
            { status => 429, retry_after => 25, count => 1,
              token => $second, path => "/import" } ]));
    });

my $t0 = Time::HiRes::time();

sub spooled {
    my ($token) = @_;
    my $r = dn_emu("requests?path=/import");
    return scalar grep { ($_->{status} // 0) == 200
                         && ($_->{records}[0]{properties}{token} // "")
                            eq $token }
                       @{ $r->{requests} };
}

ok(dn_wait(10, sub { dn_emu("requests?path=/import")->{count} >= 2 }),
   "each file tried once, each refused with a 429");

ok(dn_wait(12 - (Time::HiRes::time() - $t0), sub { spooled($first) }),
   "the file of the shorter wait sent when it ends, not at the longer's");
cmp_ok(Time::HiRes::time() - $t0, '<', 12, "within 12 s of the start");
is(spooled($second), 0, "the other project still waits");

ok(dn_wait(5, sub { (dn_status($n)->{events_replayed} // 0) == 2 }),
   "its two events counted replayed");

# the other file waits for its project's pause: the sender sleeps until
# then, it does not look at the spool again and again
my $cpu = dn_worker_cpu($n, 2);
cmp_ok($cpu, '<', 0.5, "the worker idle while the file waits ("
                       . sprintf("%.2f", $cpu) . " s of CPU in 2 s)");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
