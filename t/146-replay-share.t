# Replay's share of the request slots (docs/delivery.md): a spooled
# file's batches go when a slot is free and no live batch is ready, "so
# replay never starves live traffic".  One slot (mixpanel_concurrency 1),
# every request answered after 500 ms, a file of 20 records being
# replayed (10 s of requests): a live event goes at the next free slot,
# not after the file.  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use t::Direct;

my $port = $ENV{TEST_NGINX_SERVER_PORT} || 2500;

my $conf = <<"_EOC_";
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    mixpanel_api http://127.0.0.1:%EMU%;
    mixpanel_spool %PREFIX%/spool;
    mixpanel_batch_size 1;
    mixpanel_concurrency 1;
    mixpanel_flush_interval 50ms;
    server {
        listen 127.0.0.1:%PORT%;
        location = /v {
            mixpanel track;
            mixpanel_token tok-live;
            return 200 "ok\\n";
        }
        location = /status { mixpanel_status; }
    }
}
_EOC_

dn_emulator($port + 2);

# a spool file of one section of n records of tok-old
sub spool { dn_spool_file(dn_spool_section("tok-old", $_[0])) }

my $http = HTTP::Tiny->new(timeout => 10);

dn_emu("faults", '{"delay_ms":500,"count":-1,"path":"/import"}');

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                 before => spool(20));

ok(dn_wait(10, sub { dn_status($n)->{events_replayed} >= 2 }),
   "the file's records are being replayed");

my $sent = time();
is($http->get("$n->{base}/v")->{status}, 200, "a live event");
ok(dn_wait(10, sub { dn_status($n)->{events_sent} == 1 }),
   "the live event sent");
my $took = time() - $sent;
my $replayed = dn_status($n)->{events_replayed};

ok($took < 2.5, sprintf("within %.1f s, at the next free slot",
                        $took));
cmp_ok($replayed, '<', 16, "before the file's end ($replayed "
       . "of 20 replayed)");

ok(dn_wait(30, sub { dn_status($n)->{events_replayed} == 20 }),
   "then the rest of the file");

dn_emu("faults", undef, "DELETE");
ok(dn_stop($n), "nginx quits");

done_testing();
