# The other half of replay's share of the request slots
# (docs/delivery.md): a spooled file's batch goes when a slot is free and
# no live batch is ready, "or after 5 s without one, so replay never
# starves live traffic nor waits forever".  One slot
# (mixpanel_concurrency 1), every request answered after 300 ms, a file
# of 20 records, and live events 10 a second for 16 s, more than the slot
# sends: a live batch is always ready, and the file still goes on, a
# batch about every 5 s (t/146 checks the first half: live events are not
# held up behind the file).  Once the traffic stops, everything is
# delivered once, and the worker was mostly idle: the file's batches
# wait for their share, the sender thread does not spin.  (Round 20 of
# issue 18: replay held back while any live batch was ready passed the
# whole suite.)  A plain Test::More file.

use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP ();
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
    mixpanel_request_properties off;
    mixpanel_user_agent_properties off;
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

my $http = HTTP::Tiny->new(timeout => 10);

dn_emu("faults", '{"delay_ms":300,"count":-1,"path":"/import"}');

my $n = dn_nginx(port => $port, dirs => ["spool"], conf => $conf,
                 before => dn_spool_file(dn_spool_section("tok-old", 20)));

ok(dn_wait(10, sub { dn_status($n)->{events_replayed} >= 1 }),
   "the worker's start replays the file");

my $r0 = dn_status($n)->{events_replayed};
my $live = 0;
my $end = time() + 16;

my $cpu = dn_worker_cpu($n, sub {
    while (time() < $end) {
        $live++ if $http->get("$n->{base}/v")->{status} == 200;
        sleep(0.1);
    }
});

cmp_ok($cpu, '<', 4, sprintf("the worker mostly idle meanwhile: %.2f s of "
                             . "CPU in 16 s (the file's batches wait, the "
                             . "sender does not spin)", $cpu));

my $s = dn_status($n);
my $replayed = $s->{events_replayed} - $r0;

cmp_ok($s->{queue_depth}, '>', 0,
       "live events were waiting all along: $s->{queue_depth} still "
       . "queued");
cmp_ok($replayed, '>=', 2,
       "replay went on beside them: $replayed records in 16 s (a batch "
       . "about every 5 s)");
cmp_ok($replayed, '<=', 5,
       "and took no more than its share of the slot");

dn_emu("faults", undef, "DELETE");

ok(dn_wait(30, sub { my $t = dn_status($n);
                     $t->{queue_depth} == 0 && $t->{events_replayed} == 20 }),
   "once the traffic stops, the live events and the file are delivered")
    or diag(JSON::PP::encode_json(dn_status($n)));

$s = dn_status($n);
is_deeply([@$s{qw(events_queued events_sent events_replayed)},
           dn_balance($s)], [$live, $live, 20, 0],
          "every live event sent once, every spooled record replayed once")
    or diag(JSON::PP::encode_json($s));
is(dn_emu("events?token=tok-old")->{count}, 20,
   "Mixpanel holds the 20 spooled records, once each");
is(dn_emu("events?token=tok-live")->{count}, $live,
   "and the $live live events");

ok(dn_stop($n), "nginx quits");

done_testing();
